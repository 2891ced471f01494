/**
 * Issue #10.8: a sink that cannot deliver, or a channel that can never take a batch, says so in the
 * agent's log — component, cause, what happens next — once, not once per retry.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDist } from '../../support/examples.js';
import { scratch, seqToAvro, startCli } from '../../support/cli.js';

const tmp = scratch('rxflume-failure-log-');
let tls: TlsServer;
let tlsPort: number;

beforeAll(async () => {
  buildDist();
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=127.0.0.1'], { cwd: tmp.dir, stdio: 'pipe' });
  tls = createTlsServer({ key: readFileSync(`${tmp.dir}/key.pem`), cert: readFileSync(`${tmp.dir}/cert.pem`) }, (s) => s.destroy());
  await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
  tlsPort = (tls.address() as { port: number }).port;
}, 180_000);
afterAll(() => {
  tls.close();
  tmp.cleanup();
});


interface LogLine {
  level: number;
  component?: string;
  msg: string;
}

async function logOf(config: string, until: RegExp, waitMs = 12_000): Promise<LogLine[]> {
  const agent = startCli(['agent', '-n', 'a1', '-f', tmp.write(`${Math.random().toString(36).slice(2)}.properties`, config), '--quiet']);
  try {
    await agent.waitFor(until, 30_000);
    // Let retries run: they must not each add a line.
    await new Promise((r) => setTimeout(r, waitMs));
  } finally {
    await agent.stop('SIGKILL');
  }
  return agent
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

describe('failures are logged with component, cause and plan, rate-limited', () => {
  it('a refused connection', async () => {
    const lines = await logOf(seqToAvro('a1.sinks.k1.port = 1\n'), /ECONNREFUSED/);
    const failures = lines.filter((l) => l.component === 'k1' && l.level === 40);
    expect(failures[0]!.msg).toMatch(/^write of \d+ events failed: .*ECONNREFUSED 127\.0\.0\.1:1.*; rolled back to the channel, which offers them again after a back-off/);
    // The channel retried for seconds (every 1–5 s): still one line, the summary comes after 30 s.
    expect(failures).toHaveLength(1);
  }, 60_000);

  it('a TLS certificate the sink does not trust', async () => {
    const lines = await logOf(seqToAvro(`a1.sinks.k1.port = ${tlsPort}\na1.sinks.k1.ssl = true\n`), /"component":"k1"/, 0);
    const failure = lines.find((l) => l.component === 'k1' && l.level === 40)!;
    expect(failure.msg).toMatch(/self[- ]signed certificate/);
  }, 60_000);

  it('a batch larger than the channel can ever hold', async () => {
    const config = `a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = http
a1.sources.r1.bind = 127.0.0.1
a1.sources.r1.port = 0
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.byteCapacity = 100
a1.channels.c1.byteCapacityBufferPercentage = 0
a1.sinks.k1.type = null
a1.sinks.k1.channel = c1
`;
    const agent = startCli(['agent', '-n', 'a1', '-f', tmp.write('big.properties', config), '--quiet', '--log-level', 'debug']);
    try {
      await agent.waitFor(/agent started/);
      const port = await findHttpPort(agent.child.pid!);
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: JSON.stringify([{ body: 'x'.repeat(500) }]) });
        expect(res.status).toBeGreaterThanOrEqual(500);
      }
      await agent.waitFor(/a put of 1 events \(500 bytes\) exceeds/);
    } finally {
      await agent.stop('SIGKILL');
    }
    const warnings = agent.output().split('\n').filter((l) => l.includes('"component":"c1"') && l.includes('"level":40'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/a put of 1 events \(500 bytes\) exceeds byteCapacity 100; lower the source batch size or raise the channel capacity/);
  }, 60_000);
});

/** The port the agent's HTTP source listens on (port 0 in the configuration), from /proc. */
async function findHttpPort(pid: number): Promise<number> {
  const inodes = new Set<string>();
  for (const fd of execFileSync('ls', ['-l', `/proc/${pid}/fd`]).toString().matchAll(/socket:\[(\d+)\]/g)) inodes.add(fd[1]!);
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === '0A' && inodes.has(f[9]!)) return parseInt(f[1]!.split(':')[1]!, 16);
  }
  throw new Error('no listening socket');
}
