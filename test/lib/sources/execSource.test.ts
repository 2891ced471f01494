import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { thrown } from '../../support/thrown.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Subscription } from 'rxjs';
import type { Batch } from '../../../lib/core/batch.js';
import { ComponentError, ConfigError, FlumeError } from '../../../lib/core/errors.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { createSink } from '../../../lib/core/sink.js';
import { pipe } from '../../../lib/core/pipe.js';
import { execSource, type ExecSourceOptions } from '../../../lib/sources/execSource.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';

const fixtures = fileURLToPath(new URL('../../fixtures/exec/', import.meta.url));
const node = process.execPath;

let dir: string;
let subscription: Subscription | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxflume-exec-'));
});

afterEach(() => {
  subscription?.unsubscribe();
  subscription = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs the source with a sink settling each batch through `settle` (ack by default), recording everything. */
function run(options: ExecSourceOptions, settle: (b: Batch, n: number) => void = (b) => b.ack()) {
  const logs: string[] = [];
  const source = execSource({ batchTimeoutMs: 20, logger: (level, message) => logs.push(`${level} ${message}`), ...options });
  const deliveries: string[][] = [];
  const acked: string[] = [];
  const state: { error?: unknown; completed: boolean } = { completed: false };
  subscription = source.subscribe({
    next: (b) => {
      const text = b.events.map((e) => e.body.toString('latin1'));
      deliveries.push(text);
      const ack = b.ack.bind(b);
      Object.defineProperty(b, 'ack', { value: () => (acked.push(...text), ack()) });
      settle(b, deliveries.length);
    },
    error: (e: unknown) => (state.error = e),
    complete: () => (state.completed = true),
  });
  const counter = (key: string) => metricsOf(source)!.get(key);
  return { source, deliveries, acked, state, logs, counter };
}

describe('execSource', () => {
  it('a command writing 100k lines gives exactly 100k events, in order, through a channel', async () => {
    const received: string[] = [];
    const source = execSource({ command: 'seq 1 100000', batchSize: 100, logger: () => undefined });
    const sink = createSink('collect', { write: (b) => void received.push(...b.events.map((e) => e.body.toString())) });
    const pipeline = pipe(source, memoryChannel({ capacity: 1000, transactionCapacity: 100 }), sink);
    await pipeline.done;
    expect(received).toHaveLength(100_000);
    expect(received.every((line, i) => line === String(i + 1))).toBe(true);
    const m = pipeline.metrics()['SOURCE.execSource']!;
    expect(m['EventReceivedCount']).toBe(100_000);
    expect(m['EventAcceptedCount']).toBe(100_000);
    expect(m['ProcessStartCount']).toBe(1);
    expect(m['ProcessExitCount']).toBe(1);
    expect(m['ProcessRestartCount']).toBe(0);
  });

  it('bodies are the exact bytes of each line, without \\n or \\r\\n; a last line without newline counts', async () => {
    const r = run({ command: `${node} ${join(fixtures, 'bytes.mjs')}` });
    await waitFor(() => r.state.completed, 'completion');
    expect(r.acked.map((l) => Buffer.from(l, 'latin1').toString('hex'))).toEqual([
      Buffer.from([0x61, 0xff, 0xfe]).toString('hex'),
      Buffer.from('b').toString('hex'),
      '',
      Buffer.from('é', 'utf8').toString('hex'),
      Buffer.from('last').toString('hex'),
    ]);
  });

  it("a lone \\r ends a line too, as Java's readLine (Flume's) ends it, also when the \\n of a \\r\\n comes in a later write", async () => {
    const script = join(dir, 'cr.mjs');
    writeFileSync(script, "process.stdout.write('a\\r'); setTimeout(() => process.stdout.write('\\nb\\rc\\r\\r\\nd\\r'), 200);");
    const r = run({ command: `${node} ${script}` });
    await waitFor(() => r.state.completed, 'completion');
    expect(r.acked).toEqual(['a', 'b', 'c', '', 'd']);
  });

  it('sends a partial batch batchTimeoutMs after its first line, while the command still runs', async () => {
    const r = run({ shell: '/bin/sh -c', command: 'echo a; echo b; sleep 30', batchSize: 100, batchTimeoutMs: 30 });
    await waitFor(() => r.acked.length === 2, 'the partial batch');
    expect(r.deliveries).toEqual([['a', 'b']]);
    expect(r.counter('ProcessExitCount')).toBe(0);
    expect(r.state.completed).toBe(false);
  });

  it('without shell the command is split into argv and never evaluated', async () => {
    const r = run({ command: 'echo $HOME a|b;  "c"' });
    await waitFor(() => r.state.completed, 'completion');
    expect(r.acked).toEqual(['$HOME a|b; "c"']);
  });

  it('with shell the command is one argument of the shell', async () => {
    const r = run({ shell: '/bin/sh -c', command: 'seq 1 10 | tail -n 3' });
    await waitFor(() => r.state.completed, 'completion');
    expect(r.acked).toEqual(['8', '9', '10']);
  });

  it('completes after the last batch is acked when the command exits; a non-zero exit is logged', async () => {
    const r = run({ shell: '/bin/sh -c', command: 'echo x; exit 3' });
    await waitFor(() => r.state.completed, 'completion');
    expect(r.acked).toEqual(['x']);
    expect(r.state.error).toBeUndefined();
    expect(r.counter('ProcessExitCount')).toBe(1);
    expect(r.logs).toContain('warn `echo x; exit 3` exited with code 3');
  });

  it('restarts the command after restartThrottleMs, counting exits and restarts', async () => {
    const r = run({ command: 'echo hi', restart: true, restartThrottleMs: 20 });
    await waitFor(() => r.acked.length >= 3, 'three runs');
    expect(r.acked.slice(0, 3)).toEqual(['hi', 'hi', 'hi']);
    expect(r.counter('ProcessExitCount')).toBeGreaterThanOrEqual(3);
    expect(r.counter('ProcessRestartCount')).toBeGreaterThanOrEqual(2);
    expect(r.logs).toContain('info `echo hi` exited with code 0');
    expect(r.logs).toContain('info restarting `echo hi`');
    expect(r.state.completed).toBe(false);
  });

  it('logs stderr lines with logStdErr, and discards them without', async () => {
    const command = 'echo out; echo "err line" >&2; echo "second" >&2';
    const withErr = run({ shell: '/bin/sh -c', command, logStdErr: true });
    await waitFor(() => withErr.state.completed, 'completion');
    expect(withErr.acked).toEqual(['out']);
    await waitFor(() => withErr.logs.includes('info stderr: second'), 'stderr logged');
    expect(withErr.logs).toContain('info stderr: err line');

    const without = run({ shell: '/bin/sh -c', command });
    await waitFor(() => without.state.completed, 'completion');
    expect(without.acked).toEqual(['out']);
    expect(without.logs.filter((l) => l.includes('stderr'))).toEqual([]);
  });

  it('a command that cannot be started fails the source with a clear error, counted, without crashing', async () => {
    const r = run({ command: 'rxflume-no-such-command --flag' });
    await waitFor(() => r.state.error !== undefined, 'the error');
    const error = r.state.error as ComponentError;
    expect(error).toBeInstanceOf(ComponentError);
    expect(error.code).toBe('FLUME_SOURCE_FAILED');
    expect(error.retriable).toBe(false);
    expect(error.message).toMatch(/cannot run `rxflume-no-such-command --flag`: spawn rxflume-no-such-command ENOENT/);
    expect(r.counter('ProcessStartFailCount')).toBe(1);
    expect(r.counter('ProcessStartCount')).toBe(0);
    expect(r.logs.some((l) => l.startsWith('error cannot run'))).toBe(true);
  });

  it('with restart, a command that cannot be started is tried again after the throttle', async () => {
    const r = run({ command: 'rxflume-no-such-command', restart: true, restartThrottleMs: 10 });
    await waitFor(() => r.counter('ProcessStartFailCount') >= 3, 'three attempts');
    expect(r.counter('ProcessRestartCount')).toBeGreaterThanOrEqual(2);
    expect(r.state.error).toBeUndefined();
  });

  it('re-sends a nacked batch, same lines first, after back-off', async () => {
    const r = run({ command: 'seq 1 5', batchSize: 5, backoffSleepIncrementMs: 10 }, (b, n) => (n === 1 ? b.nack(new Error('full')) : b.ack()));
    await waitFor(() => r.state.completed, 'completion');
    expect(r.deliveries).toEqual([
      ['1', '2', '3', '4', '5'],
      ['1', '2', '3', '4', '5'],
    ]);
    expect(r.acked).toEqual(['1', '2', '3', '4', '5']);
    expect(r.counter('ChannelWriteFail')).toBe(5);
  });

  it('a non-retriable nack ends the source with that error', async () => {
    const fatal = new FlumeError('FLUME_BAD_EVENT', 'bad data');
    const r = run({ command: 'seq 1 5' }, (b) => b.nack(fatal));
    await waitFor(() => r.state.error !== undefined, 'the error');
    expect(r.state.error).toBe(fatal);
  });

  it('backpressure: while batches are held the command blocks, lines read stay bounded; all arrive after release', async () => {
    const total = 200_000;
    const progress = join(dir, 'progress');
    const held: Batch[] = [];
    let holding = true;
    const r = run({ command: `${node} ${join(fixtures, 'counter.mjs')} ${total} ${progress}`, batchSize: 100 }, (b) =>
      holding ? held.push(b) : b.ack(),
    );
    await waitFor(() => held.length === 1, 'the first batch');
    // The writer advances until the pipe and the stream buffers are full, then stops.
    const written = () => (existsSync(progress) ? Number(readFileSync(progress, 'utf8') || 0) : 0);
    let last = -1;
    let stableSince = Date.now();
    await waitFor(() => {
      const now = written();
      if (now !== last) {
        last = now;
        stableSince = Date.now();
      }
      return Date.now() - stableSince > 500;
    }, 'the writer to block');
    expect(last).toBeLessThan(50_000);
    expect(r.counter('EventReceivedCount')).toBe(100);
    expect(r.counter('ProcessExitCount')).toBe(0);
    expect(held).toHaveLength(1);

    holding = false;
    held.shift()!.ack();
    await waitFor(() => r.state.completed, 'completion', 60_000);
    expect(r.acked).toHaveLength(total);
    expect(r.acked.every((line, i) => line === `line ${i + 1}`)).toBe(true);
    expect(written()).toBe(total);
  });

  it('unsubscribing kills the command (SIGTERM) and releases everything', async () => {
    const pidFile = join(dir, 'pid');
    const r = run({ shell: '/bin/sh -c', command: `echo $$ > ${pidFile}; echo ready; exec sleep 30` });
    await waitFor(() => r.acked.length === 1 && existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 'start');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(true);
    subscription!.unsubscribe();
    await waitFor(() => !alive(pid), 'the command to die');
  });

  it('a command ignoring SIGTERM is killed with SIGKILL after killTimeoutMs', async () => {
    const pidFile = join(dir, 'pid');
    const r = run({ shell: '/bin/sh -c', command: `echo $$ > ${pidFile}; trap '' TERM; echo ready; exec sleep 30`, killTimeoutMs: 200 });
    await waitFor(() => r.acked.length === 1 && existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 'start');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    subscription!.unsubscribe();
    await sleep(50);
    expect(alive(pid)).toBe(true); // SIGTERM is ignored
    await waitFor(() => !alive(pid), 'SIGKILL');
  });

  it('validates options, naming every bad one', () => {
    expect(() => execSource({ command: ' ', batchSize: 0, charset: 'UTF-16' as never })).toThrow(ConfigError);
    const error = thrown(() => execSource({ command: ' ', batchSize: 0, charset: 'UTF-16' as never }));
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as ConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['execSource.command', 'execSource.batchSize', 'execSource.charset']));
    expect(() => execSource({} as never)).toThrow(/execSource\.command/);
  });

  it("declares Flume's type names and key mappings", () => {
    expect(execSource.spec.flumeTypes).toEqual(['exec', 'org.apache.flume.source.ExecSource']);
    expect(execSource.spec.flumeKeys).toMatchObject({ restartThrottle: 'restartThrottleMs', batchTimeout: 'batchTimeoutMs' });
  });
});
