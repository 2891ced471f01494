import { describe, expect, it } from 'vitest';
import { componentLogger, RateLimitedLog, setProcessLog, type LogEntry, type LogLevel } from '../../../lib/core/log.js';

describe('RateLimitedLog', () => {
  it('logs the first occurrence of each kind at once, counts the rest and summarises them after the interval', () => {
    let now = 0;
    const lines: [LogLevel, string][] = [];
    const log = new RateLimitedLog((level, message) => lines.push([level, message]), 30_000, () => now);
    log.write('warn', 'ECONNREFUSED', 'refused 1');
    for (let i = 2; i <= 50; i++) {
      now += 100;
      log.write('warn', 'ECONNREFUSED', `refused ${i}`);
    }
    log.write('warn', 'TLS', 'certificate unknown');
    expect(lines).toEqual([
      ['warn', 'refused 1'],
      ['warn', 'certificate unknown'],
    ]);
    now = 31_000;
    log.write('warn', 'ECONNREFUSED', 'refused 51');
    expect(lines.slice(2)).toEqual([
      ['warn', '49 more like this in the last 31 s; the last: refused 50'],
      ['warn', 'refused 51'],
    ]);
  });

  it('flush says what was suppressed, once', () => {
    const lines: string[] = [];
    const log = new RateLimitedLog((_l, m) => lines.push(m), 30_000, () => 5_000);
    log.write('warn', 'k', 'a');
    log.write('warn', 'k', 'b');
    log.flush();
    log.flush();
    expect(lines).toEqual(['a', '1 more like this in the last 1 s; the last: b']);
  });
});

describe('componentLogger', () => {
  it("uses the component's own logger, else the process-wide log under the component's name", () => {
    const entries: LogEntry[] = [];
    setProcessLog((e) => entries.push(e));
    try {
      componentLogger('k1')('warn', 'down', { attempt: 2 });
      const own: string[] = [];
      componentLogger('k2', (_l, m) => own.push(m))('error', 'mine');
      expect(entries).toEqual([{ level: 'warn', component: 'k1', message: 'down', fields: { attempt: 2 } }]);
      expect(own).toEqual(['mine']);
    } finally {
      setProcessLog(undefined);
    }
  });
});
