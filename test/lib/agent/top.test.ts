/**
 * `rxflume top` (issue #18): the table drawn in place under a real pseudo-terminal (tmux), its sort
 * keys and q; the plain lines when piped; the rows' order. The agent it watches is a monitor server
 * in this process whose counters the test moves.
 */
import { execFileSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ComponentCounters } from '../../../lib/core/metrics.js';
import { startMonitorServer, type MonitorServer } from '../../../lib/agent/monitorServer.js';
import { metricsUrl, renderTable, sortedRows, type AgentReading } from '../../../lib/agent/top.js';
import type { ComponentRow } from '../../../lib/agent/monitor/rates.js';
import { buildDist, cli } from '../../support/examples.js';
import { runCli } from '../../support/cli.js';
import { toolEnv, toolProblem } from '../../support/keytool.js';

const row = (id: string, over: Partial<ComponentRow>): ComponentRow => ({ id, type: id.split('.')[0]!, name: id.split('.')[1]!, inRate: 0, outRate: 0, errors: 0, state: 'ok', ...over });

describe('top: rows and table', () => {
  const readings: AgentReading[] = [
    { url: 'a:1', rows: [row('SINK.k1', { outRate: 5 }), row('CHANNEL.c1', { fill: 95, size: 95, capacity: 100, inRate: 50 })] },
    { url: 'b:2', rows: [row('SINK.k9', { outRate: 500, errors: 3, state: 'failing' })], error: 'unreachable: connect ECONNREFUSED' },
  ];

  it('sorts by name ascending, by numbers descending, and reverses on request', () => {
    expect(sortedRows(readings, 'name').map((r) => r.row.id)).toEqual(['CHANNEL.c1', 'SINK.k1', 'SINK.k9']);
    expect(sortedRows(readings, 'out').map((r) => r.row.id)).toEqual(['SINK.k9', 'SINK.k1', 'CHANNEL.c1']);
    expect(sortedRows(readings, 'fill').map((r) => r.row.id)[0]).toBe('CHANNEL.c1');
    expect(sortedRows(readings, 'out', true).map((r) => r.row.id)).toEqual(['CHANNEL.c1', 'SINK.k1', 'SINK.k9']);
  });

  it('draws one line per component, the sort column marked, an unreachable agent named, cut to the width', () => {
    const lines = renderTable(readings, 'errors', false, 200);
    expect(lines[0]).toMatch(/^AGENT +COMPONENT +IN\/s +OUT\/s +FILL +ERRORS↓ +STATE$/);
    expect(lines[1]).toMatch(/^b:2 +SINK\.k9 +0 +500 +3 +failing$/);
    expect(lines.at(-1)).toBe('b:2: unreachable: connect ECONNREFUSED');
    for (const l of renderTable(readings, 'name', false, 30)) expect(l.length).toBeLessThanOrEqual(30);
  });

  it('takes host:port, a base URL or the /metrics URL', () => {
    expect(metricsUrl('127.0.0.1:41414').href).toBe('http://127.0.0.1:41414/metrics');
    expect(metricsUrl('http://h:1/').href).toBe('http://h:1/metrics');
    expect(metricsUrl('https://h:1/metrics').href).toBe('https://h:1/metrics');
    expect(() => metricsUrl('ftp://h/')).toThrow(/expected an http\(s\) URL/);
  });
});

const tmuxProblem = toolProblem('tmux', ['-V']);
const tmux = toolEnv(tmuxProblem);

describe('rxflume top against a live monitor server', () => {
  const source = new ComponentCounters('SOURCE', 'r1');
  const channel = new ComponentCounters('CHANNEL', 'c1');
  const sink = new ComponentCounters('SINK', 'k1');
  channel.set('ChannelCapacity', 100);
  let monitor: MonitorServer;
  let url: string;
  let moving: NodeJS.Timeout;
  beforeAll(async () => {
    buildDist();
    monitor = await startMonitorServer({ counters: () => [source, channel, sink], state: () => 'running' }, 0);
    url = `127.0.0.1:${monitor.port}`;
    // Events keep flowing through r1 and k1 while c1 holds 42 of 100.
    moving = setInterval(() => {
      source.inc('EventReceivedCount', 100);
      source.inc('EventAcceptedCount', 100);
      sink.inc('EventDrainSuccessCount', 100);
      channel.set('ChannelSize', 42);
    }, 20);
  }, 180_000);
  afterAll(async () => {
    clearInterval(moving);
    await monitor?.close();
  });

  it('piped: plain lines, one per component and reading, and stops after --count', async () => {
    const r = await runCli(['top', url, '--interval', '0.3', '--count', '3']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(9);
    expect(r.stdout).not.toMatch(/\x1b\[/);
    const last = lines.slice(-3);
    expect(last[0]).toMatch(new RegExp(`^\\S+ ${url.replace(/\./g, '\\.')} CHANNEL\\.c1 in=0/s out=0/s fill=42\\.0% errors=0 ok$`));
    // Rates from the second reading on: k1 drained about 5,000 events/s.
    expect(Number(/SINK\.k1 in=\S+ out=(\d+(?:\.\d+)?)(k?)\/s/.exec(last[1]!)?.[1])).toBeGreaterThan(0);
  }, 60_000);

  it('refuses a bad argument as a usage error, naming it', async () => {
    const r = await runCli(['top', url, '--interval', 'soon']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`rxflume: top --interval: expected seconds ≥ 0.05, received "soon"\nrun 'rxflume --help' for the options\n`);
  }, 60_000);

  it('an agent that does not answer: its error, and exit code 1', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const r = await runCli(['top', `127.0.0.1:${port}`, '--count', '1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} unreachable: .*ECONNREFUSED`));
  }, 60_000);

  describe.skipIf(tmux.skip)(`on a terminal (tmux)${tmux.note}`, () => {
    const server = `rxflume-top-${process.pid}`;
    const tm = (...args: string[]) => execFileSync('tmux', ['-L', server, ...args], { encoding: 'utf8' });
    afterAll(() => {
      if (!tmuxProblem) execFileSync('tmux', ['-L', server, 'kill-server'], { stdio: 'ignore' });
    });
    const screen = () => tm('capture-pane', '-p', '-t', 'top');
    const until = async (pattern: RegExp, what: string) => {
      for (let i = 0; i < 200; i++) {
        const s = screen();
        if (pattern.test(s)) return s;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${what}: no ${pattern} on the screen:\n${screen()}`);
    };

    it('draws the table in place, re-sorts on a key and quits on q, leaving the screen as it was', async () => {
      tm('new-session', '-d', '-s', 'top', '-x', '120', '-y', '20', `${process.execPath} ${cli} top ${url} --interval 0.3; echo EXITED=$?; sleep 30`);
      const first = await until(/SINK\.k1 +[\d.]+k? +[1-9][\d.]*k?/, 'rates');
      expect(first).toMatch(/^rxflume top · 1 agent · sort: name/m);
      expect(first).toMatch(/COMPONENT↓/);
      expect(first).toMatch(/CHANNEL\.c1 .*████·{6} +42%/);
      // Redrawn in place: one header on the screen, however many readings went by.
      await new Promise((r) => setTimeout(r, 1000));
      expect(screen().match(/AGENT +COMPONENT/g)).toHaveLength(1);
      tm('send-keys', '-t', 'top', 'o');
      const byOut = await until(/OUT\/s↓/, 'sorted by out');
      const ids = byOut.split('\n').map((l) => /(SOURCE|CHANNEL|SINK)\.\w+/.exec(l)?.[0]).filter(Boolean);
      expect(ids.at(-1)).toBe('CHANNEL.c1');
      tm('send-keys', '-t', 'top', 'q');
      const after = await until(/EXITED=0/, 'exit');
      // The alternate screen is left: the table is gone from the shell's screen.
      expect(after).not.toMatch(/AGENT +COMPONENT/);
    }, 60_000);
  });
});
