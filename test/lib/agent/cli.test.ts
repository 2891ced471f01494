import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../../support/examples.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, ['dist/lib/agent/cli.js', ...args], { cwd: root });

// The built package is what users run and import; build it once so these tests never see a stale dist/.
beforeAll(() => {
  buildDist();
}, 120_000);

describe('the built package', () => {
  it("is importable by name: import { pipe } from 'rxflume'", async () => {
    const script = `
      import { pipe, sequenceSource, memoryChannel, nullSink } from 'rxflume';
      const p = pipe(sequenceSource({ totalEvents: 1000, batchSize: 100 }), memoryChannel(), nullSink());
      await p.done;
      console.log(p.metrics()['SINK.nullSink'].EventDrainSuccessCount);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: root });
    expect(stdout.trim()).toBe('1000');
  });
});

describe('rxflume CLI', () => {
  it('demo runs the embedded pipeline to completion and prints Flume counters', async () => {
    const { stdout } = await cli('demo', '--events', '30', '--batch', '10');
    expect(stdout.match(/^Event: \{ headers:\{timestamp=\d+, host=[^,]+, pipeline=demo\} body: /gm)).toHaveLength(30);
    expect(stdout).toMatch(/SOURCE\.r1: EventReceivedCount=30 EventAcceptedCount=30/);
    expect(stdout).toMatch(/SINK\.k1: .*EventDrainSuccessCount=30/);
  });

  it('components lists every component with its Flume types', async () => {
    const { stdout } = await cli('components');
    expect(stdout).toMatch(/channel\s+memoryChannel\s+memory, org\.apache\.flume\.channel\.MemoryChannel/);
    expect(stdout).toMatch(/sink\s+loggerSink\s+logger/);
    expect(stdout).toMatch(/options: .*capacity, transactionCapacity, byteCapacity, keepAliveMs \(keep-alive\)/);
    expect(stdout).toMatch(/selector\s+multiplexing\s+multiplexing, org\.apache\.flume\.channel\.MultiplexingChannelSelector/);
    expect(stdout).toMatch(/sinkProcessor\s+failoverSink\s+failover, org\.apache\.flume\.sink\.FailoverSinkProcessor/);
    expect(stdout).toMatch(/sinkProcessor\s+competingSinks\s+default,/);
    expect(stdout).toMatch(/router\s+fanOut\s+\(library only\)/);
  });

  it('an unknown command exits 2 with the usage', async () => {
    await expect(cli('frobnicate')).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown command 'frobnicate'[\s\S]*Usage:/) });
  });

  it('--help prints examples and exits 0, also after a command', async () => {
    for (const args of [['--help'], ['agent', '--help'], ['validate', '-h']]) {
      const { stdout } = await cli(...args);
      expect(stdout).toContain('rxflume agent -n a1 -f examples/seq-logger.properties --monitor-port 41414');
    }
  });
});
