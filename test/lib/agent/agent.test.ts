import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../../support/examples.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const cliPath = join(root, 'dist/lib/agent/cli.js');

beforeAll(() => {
  buildDist();
}, 120_000);

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'rxflume-agent-'));
  dirs.push(d);
  return d;
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function startAgent(configText: string, ...extra: string[]): Run {
  const dir = tempDir();
  const file = join(dir, 'agent.properties');
  writeFileSync(file, configText);
  const child = spawn(process.execPath, [cliPath, 'agent', '-n', 'a1', '-f', file, ...extra], { cwd: dir });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const seqToNull = `
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.batchSize = 100
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c1.transactionCapacity = 100
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
`;

describe('rxflume agent (child process)', () => {
  it('serves Flume /metrics JSON, Prometheus and health while events flow, and stops gracefully on SIGTERM', async () => {
    const run = startAgent(seqToNull, '--monitor-port', '0', '--no-reload-conf');
    const port = await waitFor(() => /"port":(\d+)/.exec(run.stderr())?.[1]);
    const base = `http://127.0.0.1:${port}`;
    const first = (await (await fetch(`${base}/metrics`)).json()) as Record<string, Record<string, string>>;
    expect(first['SOURCE.r1']).toMatchObject({ Type: 'SOURCE' });
    expect(typeof first['CHANNEL.c1']!['ChannelFillPercentage']).toBe('string');
    const later = await waitFor(async () => {
      const m = (await (await fetch(`${base}/metrics`)).json()) as Record<string, Record<string, string>>;
      return Number(m['SINK.k1']!['EventDrainSuccessCount']) > 10_000 ? m : undefined;
    });
    expect(Number(later['SINK.k1']!['EventDrainSuccessCount'])).toBeGreaterThan(10_000);
    const prom = await (await fetch(`${base}/metrics/prometheus`)).text();
    expect(prom).toMatch(/flume_event_drain_success_count\{type="SINK",component="k1"\} \d+/);
    expect((await fetch(`${base}/health`)).status).toBe(200);

    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    const final = JSON.parse(run.stderr().trim().split('\n').at(-1)!) as { msg: string; metrics: Record<string, Record<string, number>> };
    expect(final.msg).toBe('agent stopped');
    // Graceful: whatever the source handed over was drained to the sink.
    expect(final.metrics['SINK.k1']!['EventDrainSuccessCount']).toBe(final.metrics['SOURCE.r1']!['EventAcceptedCount']);
    expect(final.metrics['CHANNEL.c1']!['ChannelSize']).toBe(0);
  }, 60_000);

  it('refuses an invalid configuration with exit code 2 and starts nothing', async () => {
    const run = startAgent(seqToNull.replace('a1.channels.c1.capacity = 10000', 'a1.channels.c1.capacity = lots'));
    expect(await run.exit).toBe(2);
    expect(run.stderr()).toMatch(/agent\.properties:9: error: a1\.channels\.c1\.capacity: expected number, received "lots"/);
  });

  it('spooldir → memory → logger delivers every line of every file', async () => {
    const spool = tempDir();
    for (let f = 0; f < 3; f++) writeFileSync(join(spool, `f${f}.log`), Array.from({ length: 100 }, (_, i) => `file${f} line${i}`).join('\n') + '\n');
    const run = startAgent(
      `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = spooldir
a1.sources.r1.spoolDir = ${spool}
a1.sources.r1.pollDelay = 50
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
`,
      '--no-reload-conf',
    );
    await waitFor(() => (readdirSync(spool).filter((n) => n.endsWith('.COMPLETED')).length === 3 ? true : undefined));
    run.child.kill('SIGINT');
    expect(await run.exit).toBe(0);
    const lines = run.stdout().split('\n').filter((l) => l.startsWith('Event: '));
    expect(lines).toHaveLength(300);
    expect(new Set(lines.map((l) => /(file\d) line(\d+)/.exec(l)?.slice(1).join(':'))).size).toBe(300);
  }, 60_000);

  it('reloads a changed configuration while events flow, and keeps an invalid change from replacing it', async () => {
    const run = startAgent(seqToNull, '--reload-interval', '0.2', '--monitor-port', '0');
    const port = await waitFor(() => /"port":(\d+)/.exec(run.stderr())?.[1]);
    const file = run.child.spawnargs[run.child.spawnargs.indexOf('-f') + 1]!;
    writeFileSync(file, seqToNull.replace('capacity = 10000', 'capacity = oops'));
    await waitFor(() => (run.stderr().includes('configuration changed but is invalid') ? true : undefined));
    writeFileSync(file, seqToNull.replace('a1.sinks.k1.type = null', 'a1.sinks.k1.type = null\na1.sinks.k1.batchSize = 50'));
    await waitFor(() => (run.stderr().includes('agent reloaded') ? true : undefined));
    // The old topology drained completely before the new one started: nothing it accepted was lost.
    expect(run.stderr()).not.toContain('drain before reload incomplete');
    const m = await waitFor(async () => {
      const got = (await (await fetch(`http://127.0.0.1:${port}/metrics`)).json()) as Record<string, Record<string, string>>;
      return Number(got['SINK.k1']?.['EventDrainSuccessCount']) > 0 ? got : undefined;
    });
    expect(Number(m['SINK.k1']!['EventDrainSuccessCount'])).toBeGreaterThan(0);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
  }, 60_000);

  it('merges a --conf-uri served over HTTP with a --conf-file over it, and reloads when the served text changes', async () => {
    let served = seqToNull;
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      res.writeHead(req.url === '/agent.properties' ? 200 : 404, { 'content-type': 'text/plain' }).end(req.url === '/agent.properties' ? served : '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/agent.properties`;
      const dir = tempDir();
      const overrides = join(dir, 'overrides.properties');
      // The file is read after the URI: its keys win.
      writeFileSync(overrides, 'a1.channels.c1.capacity = 5000\na1.sinks.k1.batchSize = 100\n');
      const validated = await new Promise<string>((resolve, reject) =>
        execFile(process.execPath, [cliPath, 'validate', '-n', 'a1', '-u', uri, '-f', overrides], (e, out) => (e ? reject(e) : resolve(out))),
      );
      expect(validated).toMatch(/channel c1 \(memory\) capacity=5000 transactionCapacity=100/);

      const child = spawn(process.execPath, [cliPath, 'agent', '-n', 'a1', '-u', uri, '-f', overrides, '--poll-interval', '0.2'], { cwd: dir });
      children.push(child);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      await waitFor(() => (out.includes('agent started') ? true : undefined));
      served = seqToNull.replace('a1.sources.r1.batchSize = 100', 'a1.sources.r1.batchSize = 50');
      await waitFor(() => (out.includes('agent reloaded') ? true : undefined));
      expect(out).toMatch(/"agent reloaded"/);
      // A served text that stops being reachable keeps the running topology.
      served = 'a1.sources = r1\n';
      server.removeAllListeners('request');
      server.on('request', (_req, res) => res.writeHead(503).end());
      await waitFor(() => (out.includes('configuration could not be read') ? true : undefined));
      expect(requests).toBeGreaterThanOrEqual(3);
      child.kill('SIGTERM');
      expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(0);
    } finally {
      server.close();
    }
  }, 60_000);

  it('validate names the file of each problem when several are merged, and refuses classpath:// URIs', async () => {
    const dir = tempDir();
    const base = join(dir, 'base.properties');
    const site = join(dir, 'site.properties');
    writeFileSync(base, seqToNull);
    writeFileSync(site, '# site overrides\na1.channels.c1.capacity = lots\n');
    const result = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [cliPath, 'validate', '-n', 'a1', '-f', base, '-f', site], (e, _out, stderr) => resolve({ code: (e as { code?: number } | null)?.code ?? 0, stderr })),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${site}:2: error: a1.channels.c1.capacity`);
    const cp = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [cliPath, 'validate', '-n', 'a1', '-u', 'classpath://flume.conf'], (e, _out, stderr) => resolve({ code: (e as { code?: number } | null)?.code ?? 0, stderr })),
    );
    expect(cp.code).toBe(2);
    expect(cp.stderr).toMatch(/classpath:\/\/ names a Java classpath resource; use file:\/\/ or a --conf-file/);
  });
});

function readRolled(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));
}

describe('rxflume agent routing and sink groups (child process, file_roll outputs)', () => {
  const header = (channels: string, sinks: string) => `a1.sources = r1
a1.channels = ${channels}
a1.sinks = ${sinks}
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 2000
a1.sources.r1.batchSize = 50
`;
  const roll = (sink: string, channel: string, dir: string) => `a1.sinks.${sink}.type = file_roll
a1.sinks.${sink}.channel = ${channel}
a1.sinks.${sink}.sink.directory = ${dir}
a1.sinks.${sink}.sink.rollInterval = 0
`;
  const memory = (c: string) => `a1.channels.${c}.type = memory\na1.channels.${c}.capacity = 1000\n`;
  const refused = (sink: string, channel: string) => `a1.sinks.${sink}.type = avro
a1.sinks.${sink}.channel = ${channel}
a1.sinks.${sink}.hostname = 127.0.0.1
a1.sinks.${sink}.port = 1
`;

  it('replicating: every event lands in both channels and both sinks', async () => {
    const d1 = tempDir();
    const d2 = tempDir();
    const run = startAgent(header('c1 c2', 'k1 k2') + 'a1.sources.r1.channels = c1 c2\n' + memory('c1') + memory('c2') + roll('k1', 'c1', d1) + roll('k2', 'c2', d2), '--no-reload-conf');
    expect(await run.exit).toBe(0);
    const expected = Array.from({ length: 2000 }, (_, i) => String(i));
    expect(readRolled(d1)).toEqual(expected);
    expect(readRolled(d2)).toEqual(expected);
  }, 60_000);

  /** seq (2000 events) → c1, c2 with the given source lines → file_roll each; the numbers each sink wrote. */
  const twoChannels = async (sourceLines: string): Promise<[number[], number[]]> => {
    const one = tempDir();
    const two = tempDir();
    const config = header('c1 c2', 'k1 k2') + 'a1.sources.r1.channels = c1 c2\n' + sourceLines + memory('c1') + memory('c2') + roll('k1', 'c1', one) + roll('k2', 'c2', two);
    const run = startAgent(config, '--no-reload-conf');
    expect(await run.exit).toBe(0);
    return [readRolled(one).map(Number), readRolled(two).map(Number)];
  };

  it('multiplexing: events are routed by a header an interceptor extracted, unmapped ones to the default', async () => {
    const [odds, evens] = await twoChannels(`a1.sources.r1.interceptors = x
a1.sources.r1.interceptors.x.type = regex_extractor
a1.sources.r1.interceptors.x.regex = ([13579])$
a1.sources.r1.interceptors.x.serializers = s1
a1.sources.r1.interceptors.x.serializers.s1.name = odd
a1.sources.r1.selector.type = multiplexing
a1.sources.r1.selector.header = odd
a1.sources.r1.selector.mapping.1 = c1
a1.sources.r1.selector.mapping.3 = c1
a1.sources.r1.selector.mapping.5 = c1
a1.sources.r1.selector.mapping.7 = c1
a1.sources.r1.selector.mapping.9 = c1
a1.sources.r1.selector.default = c2
`);
    expect(odds).toHaveLength(1000);
    expect(evens).toHaveLength(1000);
    expect(odds.every((n) => n % 2 === 1)).toBe(true);
    expect(evens.every((n) => n % 2 === 0)).toBe(true);
  }, 60_000);

  it('load_balancing channel selector: events alternate between the channels, none lost or duplicated', async () => {
    const [first, second] = await twoChannels('a1.sources.r1.selector.type = load_balancing\na1.sources.r1.selector.policy = round_robin\n');
    expect(first).toHaveLength(1000);
    expect(second).toHaveLength(1000);
    expect(first.every((n) => n % 2 === 0)).toBe(true);
    expect([...first, ...second].sort((a, b) => a - b)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  }, 60_000);

  it('failover: when the preferred sink fails, the next one takes every batch', async () => {
    const good = tempDir();
    // k1 sends to a port nobody listens on: every batch it takes is refused and rolled back.
    const config =
      header('c1', 'k1 k2') +
      'a1.sources.r1.channels = c1\n' +
      memory('c1') +
      refused('k1', 'c1') +
      roll('k2', 'c1', good) +
      `a1.sinkgroups = g1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = failover
a1.sinkgroups.g1.processor.priority.k1 = 10
a1.sinkgroups.g1.processor.priority.k2 = 5
a1.sinkgroups.g1.processor.maxpenalty = 1000
`;
    const run = startAgent(config, '--no-reload-conf');
    expect(await run.exit).toBe(0);
    expect(readRolled(good)).toEqual(Array.from({ length: 2000 }, (_, i) => String(i)));
  }, 60_000);

  it('load_balance: batches are spread over the sinks, none lost', async () => {
    const d1 = tempDir();
    const d2 = tempDir();
    const config =
      header('c1', 'k1 k2') +
      'a1.sources.r1.channels = c1\na1.channels.c1.maxInFlight = 2\n' +
      memory('c1') +
      roll('k1', 'c1', d1) +
      roll('k2', 'c1', d2) +
      `a1.sinkgroups = g1
a1.sinkgroups.g1.sinks = k1 k2
a1.sinkgroups.g1.processor.type = load_balance
a1.sinkgroups.g1.processor.selector = round_robin
`;
    const run = startAgent(config, '--no-reload-conf');
    expect(await run.exit).toBe(0);
    const a = readRolled(d1);
    const b = readRolled(d2);
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    expect([...a, ...b].map(Number).sort((x, y) => x - y)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  }, 60_000);
});

describe('rxflume agent with TAILDIR (child process)', () => {
  it('taildir → memory → file_roll delivers every line, across a rename rotation', async () => {
    const logs = tempDir();
    const out = tempDir();
    const log = join(logs, 'app.log');
    writeFileSync(log, Array.from({ length: 500 }, (_, i) => `a${i}`).join('\n') + '\n');
    const run = startAgent(
      `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = TAILDIR
a1.sources.r1.filegroups = f1
a1.sources.r1.filegroups.f1 = ${logs}/app.*
a1.sources.r1.positionFile = ${join(tempDir(), 'taildir_position.json')}
a1.sources.r1.headers.f1.service = checkout
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
a1.sinks.k1.type = file_roll
a1.sinks.k1.sink.directory = ${out}
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.channel = c1
`,
      '--no-reload-conf',
    );
    await waitFor(() => (readRolled(out).length === 500 ? true : undefined));
    renameSync(log, `${log}.1`);
    appendFileSync(`${log}.1`, 'a500\n');
    writeFileSync(log, Array.from({ length: 500 }, (_, i) => `b${i}`).join('\n') + '\n');
    await waitFor(() => (readRolled(out).length >= 1001 ? true : undefined), 30_000);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    const lines = readRolled(out);
    expect(lines).toHaveLength(1001);
    expect(lines.filter((l) => l.startsWith('a'))).toEqual(Array.from({ length: 501 }, (_, i) => `a${i}`));
    expect(lines.filter((l) => l.startsWith('b'))).toEqual(Array.from({ length: 500 }, (_, i) => `b${i}`));
  }, 60_000);
});

describe('rxflume agent with a file channel (child process)', () => {
  it('seq → file channel → file_roll delivers every event and leaves the channel empty', async () => {
    const state = tempDir();
    const out = tempDir();
    const run = startAgent(
      `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 5000
a1.sources.r1.batchSize = 500
a1.sources.r1.channels = c1
a1.channels.c1.type = file
a1.channels.c1.checkpointDir = ${join(state, 'checkpoint')}
a1.channels.c1.dataDirs = ${join(state, 'data')}
a1.channels.c1.transactionCapacity = 1000
a1.channels.c1.minimumRequiredSpace = 1048576
a1.sinks.k1.type = file_roll
a1.sinks.k1.sink.directory = ${out}
a1.sinks.k1.sink.rollInterval = 0
a1.sinks.k1.channel = c1
`,
      '--no-reload-conf',
    );
    expect(await run.exit).toBe(0);
    expect(readRolled(out)).toEqual(Array.from({ length: 5000 }, (_, i) => String(i)));
    const final = JSON.parse(run.stderr().trim().split('\n').at(-1)!) as { metrics: Record<string, Record<string, number>> };
    expect(final.metrics['CHANNEL.c1']!['ChannelSize']).toBe(0);
  }, 60_000);
});

describe('rxflume agent reload keeps unchanged channels (child process)', () => {
  it('events held in a memory channel while its sink fails are delivered by the sink of the reloaded configuration', async () => {
    const out = tempDir();
    // The first sink sends to a port nobody listens on; the reloaded one writes files.
    const sink = (dir: string | undefined) =>
      dir === undefined
        ? 'a1.sinks.k1.type = avro\na1.sinks.k1.hostname = 127.0.0.1\na1.sinks.k1.port = 1\n'
        : `a1.sinks.k1.type = file_roll\na1.sinks.k1.sink.directory = ${dir}\na1.sinks.k1.sink.rollInterval = 0\n`;
    const config = (dir: string | undefined) => `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = seq
a1.sources.r1.totalEvents = 300
a1.sources.r1.batchSize = 100
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 1000
${sink(dir)}a1.sinks.k1.channel = c1
`;
    const run = startAgent(config(undefined), '--reload-interval', '0.2', '--monitor-port', '0');
    const port = await waitFor(() => /"port":(\d+)/.exec(run.stderr())?.[1]);
    // All 300 events are stored in c1; the sink cannot write them.
    await waitFor(async () => {
      const m = (await (await fetch(`http://127.0.0.1:${port}/metrics`)).json()) as Record<string, Record<string, string>>;
      return Number(m['CHANNEL.c1']?.['EventPutSuccessCount']) === 300 && Number(m['SINK.k1']?.['EventWriteFail']) > 0 ? true : undefined;
    });
    const file = run.child.spawnargs[run.child.spawnargs.indexOf('-f') + 1]!;
    writeFileSync(file, config(out));
    await waitFor(() => (run.stderr().includes('agent reloaded') ? true : undefined));
    // The kept channel hands its 300 events to the new sink; the restarted seq source adds 300 more.
    await waitFor(() => (readRolled(out).length >= 600 ? true : undefined), 30_000);
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    const counts = new Map<string, number>();
    for (const l of readRolled(out)) counts.set(l, (counts.get(l) ?? 0) + 1);
    expect(counts.size).toBe(300);
    expect([...counts.values()].every((n) => n === 2)).toBe(true);
  }, 90_000);
});
