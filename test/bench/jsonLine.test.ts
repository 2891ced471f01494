import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchLineIssues, jsonLine, readJsonLine } from '../../bench/jsonLine.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('bench JSON line', () => {
  it('prints {bench, …context, results} with case, batch, eventsPerSec and peakRssMB in every result (null allowed)', () => {
    const line = jsonLine('network', [{ case: 'avro/flume', server: 'flume', batch: 1000, eventsPerSec: 391_600, peakRssMB: 369.9, mismatch: false }], { node: 'v20' });
    expect(JSON.parse(line)).toEqual({ bench: 'network', node: 'v20', results: [{ case: 'avro/flume', server: 'flume', batch: 1000, eventsPerSec: 391_600, peakRssMB: 369.9, mismatch: false }] });
    expect(readJsonLine(`a table\nof figures\n${line}\n`)).toEqual(JSON.parse(line));
    expect(benchLineIssues(JSON.parse(jsonLine('startup', [{ case: 'import x', batch: null, eventsPerSec: null, peakRssMB: null }])))).toEqual([]);
  });

  it('refuses a result without one of the four figures, or with one that is not a number, naming it', () => {
    expect(() => jsonLine('kafka', [{ case: 'bare', batch: 1000, eventsPerSec: 5 } as never])).toThrow('results[0].peakRssMB: expected a number or null');
    expect(() => jsonLine('kafka', [{ case: 'bare', batch: 1000, eventsPerSec: Number.NaN, peakRssMB: null }])).toThrow('results[0].eventsPerSec');
    expect(() => jsonLine('kafka', [{ case: '', batch: 1000, eventsPerSec: 1, peakRssMB: null }])).toThrow('results[0].case');
    expect(() => jsonLine('kafka', [], { results: [] })).toThrow(/may not set bench or results/);
    expect(() => readJsonLine('{"bench":"kafka","bare":{},"ratio":1}')).toThrow(/results: expected an array/);
    expect(() => readJsonLine('done')).toThrow(/not JSON/);
  });

  it('is what every bench:* script prints last (through printJsonLine, no line of its own)', () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const benches = Object.entries(scripts)
      .filter(([name]) => name === 'bench' || name.startsWith('bench:'))
      // bench:report renders plots from the results file; it measures nothing.
      .filter(([name]) => name !== 'bench:report')
      .map(([, command]) => /dist\/bench\/(\w+)\.js/.exec(command)![1]!);
    expect(benches).toEqual(expect.arrayContaining(['pipeline', 'network', 'kafka', 'hdfs', 'flume', 'files', 'channels', 'startup']));
    for (const bench of benches) {
      const source = readFileSync(join(ROOT, 'bench', `${bench}.ts`), 'utf8');
      expect(source, `bench/${bench}.ts`).toMatch(new RegExp(`printJsonLine\\(\\s*'${bench}'`));
      expect(source, `bench/${bench}.ts prints a JSON line of its own`).not.toMatch(/JSON\.stringify\(\{\s*bench\b/);
    }
  });
});
