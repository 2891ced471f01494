import { describe, expect, it } from 'vitest';
import { colors } from '../../../lib/agent/colors.js';
import { prettyLogLine } from '../../../lib/agent/prettyLog.js';

const plain = colors(false);
const time = new Date(2026, 0, 2, 3, 4, 5, 6).getTime();
const line = (fields: Record<string, unknown>) => `${JSON.stringify({ level: 30, time, agent: 'a1', ...fields })}\n`;

describe('prettyLogLine', () => {
  it('shows local time, level, component and message, then the other fields compact', () => {
    expect(prettyLogLine(line({ level: 40, component: 'k1', msg: 'sink failing', code: 'FLUME_SINK_FAILED', attempts: 3, cause: 'connect ECONNREFUSED' }), plain)).toBe(
      '03:04:05.006 WARN  k1 sink failing code=FLUME_SINK_FAILED attempts=3 cause="connect ECONNREFUSED"\n',
    );
    expect(prettyLogLine(line({ msg: 'monitoring server listening', port: 41414, bind: '127.0.0.1', metrics: { 'SINK.k1': { n: 1 } } }), plain)).toBe(
      '03:04:05.006 INFO  monitoring server listening port=41414 bind=127.0.0.1 metrics={"SINK.k1":{"n":1}}\n',
    );
  });

  it('puts a multi-line value (a topology, an error stack) on indented lines of its own', () => {
    const out = prettyLogLine(line({ level: 50, msg: 'reload failed', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' }, topology: 'agent a1\n  source r1' }), plain);
    expect(out).toBe('03:04:05.006 ERROR reload failed\n  err:\n    Error: boom\n        at x\n  topology:\n    agent a1\n      source r1\n');
  });

  it('colours the level and dims the time when colours are on', () => {
    const out = prettyLogLine(line({ level: 50, msg: 'x' }), colors(true));
    expect(out).toContain('\x1b[31mERROR\x1b[39m');
    expect(out).toContain('\x1b[2m03:04:05.006\x1b[22m');
  });

  it('passes through what is not a pino line', () => {
    expect(prettyLogLine('not json\n', plain)).toBe('not json\n');
    expect(prettyLogLine('[1,2]\n', plain)).toBe('[1,2]\n');
    expect(prettyLogLine('null\n', plain)).toBe('null\n');
  });
});
