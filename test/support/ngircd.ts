/**
 * A real IRC server for the IRC sink's tests: Debian's ngircd (`apt-get install ngircd`), run in the
 * foreground with its own configuration in a temp folder, on a free port of 127.0.0.1 — never the
 * system service. `ngircd.skip` skips without it, and fails instead under RXFLUME_CI=1.
 *
 *   describe.skipIf(ngircd.skip)(`…${ngircd.note}`, () => {
 *     const server = ngircdServer();            // started in beforeAll, stopped in afterAll
 *     it('…', async () => { const { port } = server(); … await server().restart(); });
 *   });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { canConnect, freePort, sleep, tail } from '../../scripts/service.js';
import { toolEnv, toolProblem } from './keytool.js';

const BINARY = process.env['NGIRCD'] ?? (['/usr/sbin/ngircd', '/usr/local/sbin/ngircd'].find((p) => toolProblem(p, ['--version']) === undefined) ?? 'ngircd');

/** describe.skipIf(ngircd.skip) for tests that need the server. */
export const ngircd = toolEnv(toolProblem(BINARY, ['--version']) === undefined ? undefined : 'no ngircd (apt-get install ngircd)');

export interface IrcServer {
  readonly port: number;
  readonly logFile: string;
  /** Stops it (SIGTERM: every client is disconnected). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface NgircdOptions {
  /** Server password (PASS). */
  password?: string;
  /**
   * Channels the server creates at every start with key `key` (mode +k): a client joins only with the
   * key until a member removes it. An IRC operator who joins one is its op (persistent channels), so a
   * test's reader can take its seat before a sink gets in, even when the sink reconnects first after
   * a restart (see `openGate`).
   */
  gated?: readonly string[];
}

/** The key of the gated channels, and the operator password (OPER gate <key>). */
export const GATE_KEY = 'rxflume-gate';

/**
 * The test configuration: loopback only, no DNS or ident look-ups (they would delay every login),
 * no PAM, nick length 30, no per-IP connection limit; flood control is ngircd's own.
 */
function config(port: number, dir: string, options: NgircdOptions): string {
  const channels = (options.gated ?? []).map((name) => `[Channel]\nName = ${name}\nModes = +k ${GATE_KEY}\n`).join('');
  return `[Global]
Name = irc.rxflume.test
Info = rxflume test server
Listen = 127.0.0.1
Ports = ${port}
MotdPhrase = "rxflume test server"
${options.password ? `Password = ${options.password}\n` : ''}PidFile = ${join(dir, 'ngircd.pid')}
[Limits]
MaxConnectionsIP = 0
MaxNickLength = 30
PingTimeout = 120
PongTimeout = 20
[Options]
PAM = no
DNS = no
Ident = no
OperCanUseMode = yes
[Operator]
Name = gate
Password = ${GATE_KEY}
${channels}`;
}

/** Starts ngircd on a free port and resolves once it accepts connections. */
export async function startNgircd(options: NgircdOptions = {}): Promise<IrcServer> {
  const dir = await mkdtemp(join(tmpdir(), 'rxflume-ngircd-'));
  const port = await freePort();
  const conf = join(dir, 'ngircd.conf');
  const logFile = join(dir, 'ngircd.log');
  await writeFile(conf, config(port, dir, options));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    if (child) return;
    const out: Buffer[] = [];
    const proc = spawn(BINARY, ['-n', '-f', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    let code: string | undefined;
    exited = new Promise((resolve) => {
      proc.once('exit', (c, s) => {
        code = s ?? `code ${c}`;
        resolve();
      });
      proc.once('error', (e) => {
        code = e.message;
        resolve();
      });
    });
    proc.stdout!.on('data', (d: Buffer) => out.push(d));
    proc.stderr!.on('data', (d: Buffer) => out.push(d));
    void exited.then(() => writeFile(logFile, Buffer.concat(out), { flag: 'a' }));
    for (let i = 0; i < 300; i++) {
      if (code !== undefined) break;
      if (await canConnect(port)) return;
      await sleep(100);
    }
    await stop();
    const log = await readFile(logFile, 'utf8').catch(() => '');
    throw new Error(`ngircd did not listen on 127.0.0.1:${port} (${code ?? 'no exit'}):\n${tail(log || Buffer.concat(out).toString(), 30)}`);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc) return;
    child = undefined;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  return {
    port,
    logFile,
    stop,
    start,
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** One server for the describe block: started in beforeAll, closed in afterAll. */
export function ngircdServer(options: NgircdOptions = {}): () => IrcServer {
  let server: IrcServer | undefined;
  beforeAll(async () => {
    server = await startNgircd(options);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (!server) throw new Error('ngircd did not start (see beforeAll)');
    return server;
  };
}

/** A second IRC client in a channel, keeping every message posted there. */
export interface IrcReader {
  /** Texts of the PRIVMSGs to the channel, in arrival order. */
  readonly messages: string[];
  /** Sends a raw IRC line (e.g. `MODE #c +m`), as the channel's operator; resolves once a line from the server matches `until`. */
  send(line: string, until: RegExp): Promise<void>;
  close(): Promise<void>;
}

interface TestClient {
  connect(options: Record<string, unknown>): void;
  on(event: string, listener: (payload: never) => void): void;
  quit(message?: string): void;
  removeAllListeners(): void;
  readonly connection: { write(line: string): unknown; end(data?: string, hadError?: boolean): void };
}

/**
 * Joins `channel` on the server as `nick` — an IRC operator, so it takes a gated channel (NgircdOptions.gated)
 * with its key and then opens it (MODE -k) — and resolves once the channel is open; `messages` fill from then on.
 * A gated channel is opened once per server start: a second reader needs a channel of its own.
 */
export async function ircReader(port: number, channel: string, nick = 'reader', timeoutMs = 20_000): Promise<IrcReader> {
  // @ts-expect-error irc-framework ships no types
  const { Client } = (await import('irc-framework')) as { Client: new (o: Record<string, unknown>) => TestClient };
  const client = new Client({ auto_reconnect: false, version: null });
  const messages: string[] = [];
  const lower = channel.toLowerCase();
  client.on('privmsg', (m: { target: string; message: string }) => {
    if (m.target.toLowerCase() === lower) messages.push(m.message);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reader not in ${channel} within ${timeoutMs} ms`)), timeoutMs);
    const ok = (): void => {
      clearTimeout(timer);
      resolve();
    };
    client.on('registered', () => client.connection.write(`OPER gate ${GATE_KEY}`));
    client.on('raw', (r: { line: string; from_server: boolean }) => {
      if (!r.from_server) return;
      const f = r.line.replace(/^@\S+ /, '').split(' ');
      if (f[1] === '381') client.connection.write(`JOIN ${channel} ${GATE_KEY}`); // you are an operator now
      // Our JOIN echoed: open the channel (a gated one) — or, when it had no key, it is open already.
      if (f[1] === 'JOIN' && f[0]!.startsWith(`:${nick}!`)) client.connection.write(`MODE ${channel} -k ${GATE_KEY}`);
      if (f[1] === 'MODE' && f[0]!.startsWith(`:${nick}!`)) ok();
      if (f[1] === '467' || f[1] === '472') ok(); // no key was set: nothing to open
      if (/^[45]\d\d$/.test(f[1] ?? '') && f[1] !== '467') {
        clearTimeout(timer);
        reject(new Error(`reader refused: ${r.line}`));
      }
    });
    client.on('socket close', () => reject(new Error('reader: the server closed the connection')));
    client.connect({ host: '127.0.0.1', port, nick, username: nick, gecos: 'rxflume test reader', auto_reconnect: false });
  });
  return {
    messages,
    send: (line, until) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer matching ${until} to ${line}`)), timeoutMs);
        client.on('raw', (r: { line: string; from_server: boolean }) => {
          if (r.from_server && until.test(r.line)) {
            clearTimeout(timer);
            resolve();
          }
        });
        client.connection.write(line);
      }),
    async close() {
      client.removeAllListeners();
      client.quit('bye');
    },
  };
}
