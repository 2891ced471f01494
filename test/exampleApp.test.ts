/**
 * examples/app as a user runs it: `node examples/app/app.ts` against the built package (its
 * 'rxflume' imports resolve to dist/ through the package's self-reference), then every event checked
 * by count and body; and `tsc --strict` of the app against the built types. Runs on every Node line
 * of CI (test:quick): no Kafka, HDFS or Flume, the collector is in the app.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildDist, root } from './support/examples.js';

const run = promisify(execFile);
const app = join(root, 'examples/app');

interface Line {
  kind?: 'orders' | 'logs';
  headers?: Record<string, string>;
  body?: string;
  summary?: { outcome: string; handled: { orders: number; logs: number }; drained: boolean; received: { orders: number; logs: number } };
}

describe('examples/app', () => {
  it('delivers every order (RPC client) and every log line (pino transport) through fan-in to the acking consumer', async () => {
    buildDist();
    const ORDERS = 600;
    const LOGS = 150;
    // Node strips types by default since 22.18; 22.12–22.17 need the flag.
    const strip = (process.features as { typescript?: unknown }).typescript ? [] : ['--experimental-strip-types'];
    const { stdout } = await run(process.execPath, [...strip, join(app, 'app.ts')], { cwd: app, env: { ...process.env, ORDERS: String(ORDERS), LOGS: String(LOGS) }, timeout: 90_000 });
    const lines = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Line);
    const summary = lines.at(-1)!.summary;
    expect(summary).toEqual({ outcome: 'ok', handled: { orders: ORDERS, logs: LOGS }, drained: true, received: { orders: ORDERS, logs: LOGS } });

    const orders = lines.filter((l) => l.kind === 'orders');
    expect(orders.map((l) => JSON.parse(l.body!).order).sort((a: number, b: number) => a - b)).toEqual(Array.from({ length: ORDERS }, (_, i) => i));
    expect(orders.every((l) => l.headers!.id === String(JSON.parse(l.body!).order))).toBe(true);

    const logs = lines.filter((l) => l.kind === 'logs');
    expect(logs.map((l) => JSON.parse(l.body!).msg)).toEqual(Array.from({ length: LOGS }, (_, i) => `log line ${i}`));
    for (const l of logs) {
      expect(l.headers).toMatchObject({ kind: 'log', app: 'example', level: 'info', 'flume.client.log4j.logger.name': 'example-app', 'flume.client.log4j.log.level': '20000' });
    }
  }, 180_000);

  it('type-checks with tsc --strict against the built types', async () => {
    buildDist();
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', app], { cwd: root, timeout: 120_000 }).then(
      () => ({ code: 0, out: '' }),
      (e: { code?: number; stdout?: string }) => ({ code: e.code ?? -1, out: e.stdout ?? '' }),
    );
    expect(result).toEqual({ code: 0, out: '' });
  }, 180_000);
});
