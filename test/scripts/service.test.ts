/**
 * scripts/service.ts with real JVMs: a tiny Java service (compiled here with javac) that logs a line,
 * opens its port later, and can exit early, stay silent or ignore SIGTERM. Needs a JDK: skipped without
 * one unless RXFLUME_REQUIRE_KAFKA=1 or RXFLUME_REQUIRE_FLUME=1 (as in CI).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { requireTools } from '../support/keytool.js';
import {
  canConnect,
  checkTools,
  dataDir,
  findUp,
  freePort,
  processAlive,
  serviceDown,
  serviceUp,
  startFailure,
  startJava,
  ToolsMissingError,
  type JavaOptions,
  type UpState,
} from '../../scripts/service.js';
import { root } from '../support/examples.js';
import { sleep, waitFor } from '../support/net.js';

const SERVICE = `
import java.net.*;
public class Svc {
  public static void main(String[] args) throws Exception {
    String mode = args[0];
    System.out.println("pid " + ProcessHandle.current().pid());
    if (mode.equals("exit")) { System.out.println("giving up"); System.exit(3); }
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      System.out.println("shutdown hook ran");
      if (mode.equals("stubborn")) { try { Thread.sleep(600_000); } catch (InterruptedException e) { } }
    }));
    if (mode.equals("silent")) { Thread.sleep(600_000); return; }
    System.out.println("started");
    Thread.sleep(1500); // the port opens well after the line
    ServerSocket server = new ServerSocket(Integer.parseInt(args[1]), 50, InetAddress.getByName("127.0.0.1"));
    while (true) server.accept().close();
  }
}
`;

function jdkMissing(): string | undefined {
  if (requireTools || process.env['RXFLUME_REQUIRE_KAFKA'] === '1' || process.env['RXFLUME_REQUIRE_FLUME'] === '1') return undefined;
  return spawnSync('javac', ['-version'], { stdio: 'ignore' }).error ? 'javac (a JDK) is not on the PATH' : undefined;
}
const missing = jdkMissing();

const pidIn = (log: string) => Number(/pid (\d+)/.exec(log)?.[1]);

describe('scripts/service tools and folders', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('names the missing tools; tests skip on them, or fail when the service is required', () => {
    vi.stubEnv('PATH', '/nonexistent');
    let error: unknown;
    try {
      checkTools('a probe', { maven: true });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ToolsMissingError);
    expect((error as ToolsMissingError).missing).toEqual(['java', 'mvn']);
    expect((error as Error).message).toMatch(/^a probe needs java \(a JDK 17\+.*\) and mvn \(Apache Maven 3.*\) on the PATH/);

    vi.stubEnv('RXFLUME_REQUIRE_PROBE', '');
    expect(startFailure(error, 'the probe', 'RXFLUME_REQUIRE_PROBE')).toEqual({ skipReason: `${(error as Error).message} (set RXFLUME_REQUIRE_PROBE=1 to fail instead)` });
    vi.stubEnv('RXFLUME_REQUIRE_PROBE', '1');
    expect(startFailure(error, 'the probe', 'RXFLUME_REQUIRE_PROBE')).toEqual({ failure: `RXFLUME_REQUIRE_PROBE=1 but ${(error as Error).message}` });
    vi.stubEnv('RXFLUME_REQUIRE_PROBE', '');
    expect(startFailure(new Error('port in use'), 'the probe', 'RXFLUME_REQUIRE_PROBE')).toEqual({ failure: 'the probe did not start: port in use' });
  });

  it('freePort never hands out the same port twice (the kernel alone repeats one within a few hundred calls)', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 500; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('keeps a given data folder, removes a temp one; finds repository files from the module', async () => {
    const given = mkdtempSync(join(tmpdir(), 'rxflume-service-test-'));
    const kept = await dataDir(join(given, 'sub'), 'probe');
    await kept.remove();
    expect(existsSync(join(given, 'sub'))).toBe(true);
    const temp = await dataDir(undefined, 'probe');
    expect(temp.path).toMatch(/rxflume-probe-/);
    await temp.remove();
    expect(existsSync(temp.path)).toBe(false);
    rmSync(given, { recursive: true, force: true });
    expect(findUp(import.meta.url, 'flume/log4j2.xml')).toBe(join(root, 'flume/log4j2.xml'));
  });
});

describe.skipIf(missing !== undefined)(`scripts/service JVM lifecycle${missing ? ` [skipped: ${missing}]` : ''}`, () => {
  let classes: string;
  let work: string;
  const started: number[] = [];
  beforeAll(() => {
    classes = mkdtempSync(join(tmpdir(), 'rxflume-service-classes-'));
    writeFileSync(join(classes, 'Svc.java'), SERVICE);
    execFileSync('javac', ['-d', classes, join(classes, 'Svc.java')]);
    work = mkdtempSync(join(tmpdir(), 'rxflume-service-test-'));
  }, 60_000);
  afterAll(() => {
    for (const pid of started) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(classes, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  const options = (mode: string, port: number, extra: Partial<JavaOptions> = {}): JavaOptions => ({
    what: `probe ${mode}`,
    classpath: [classes],
    mainClass: 'Svc',
    args: [mode, String(port), work],
    jvmArgs: ['-Xmx32m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'],
    logFile: join(work, `${mode}-${port}.log`),
    readyLog: /started/,
    readyPort: port,
    readyTimeoutMs: 60_000,
    ...extra,
  });

  it('is ready once its line is logged and its port accepts connections; stop() is a SIGTERM; start() runs it again', async () => {
    const port = await freePort();
    const java = await startJava(options('serve', port));
    started.push(java.pid!);
    expect(await canConnect(port)).toBe(true);
    const first = java.pid!;
    expect(readFileSync(`/proc/${first}/cmdline`, 'utf8')).toContain('Svc');
    await java.stop();
    expect(java.running).toBe(false);
    expect(java.pid).toBeUndefined();
    expect(await java.log()).toContain('shutdown hook ran'); // SIGTERM: the JVM shut down cleanly

    await java.start();
    started.push(java.pid!);
    expect(java.pid).not.toBe(first);
    expect(await canConnect(port)).toBe(true);
    // log() is this run's: the first run's pid line is in the file, not in it.
    expect(pidIn(await java.log())).toBe(java.pid);
    expect(readFileSync(java.logFile, 'utf8')).toContain(`pid ${first}`);
    await java.stop();
  }, 120_000);

  it('rejects with the log when the JVM exits before it is ready', async () => {
    await expect(startJava(options('exit', await freePort()))).rejects.toThrow(/probe exit exited \(code 3\) before ready; .*exit-\d+\.log:\npid \d+\ngiving up/);
  }, 60_000);

  it('kills a JVM that is not ready in time, and says so', async () => {
    const opts = options('silent', await freePort(), { readyTimeoutMs: 3000 });
    await expect(startJava(opts)).rejects.toThrow(/probe silent not ready within 3000 ms/);
    const pid = pidIn(readFileSync(opts.logFile, 'utf8'));
    started.push(pid);
    expect(processAlive(pid)).toBe(false);
  }, 60_000);

  it('waitForLog rejects when the JVM exits, and on timeout', async () => {
    const java = await startJava(options('silent', 0, { readyLog: /pid/, readyPort: undefined }));
    started.push(java.pid!);
    await expect(java.waitForLog(/never/, 1000)).rejects.toThrow(/probe silent not logging \/never\/ within 1000 ms/);
    const waiting = java.waitForLog(/never/, 60_000);
    await java.stop({ signal: 'SIGKILL' });
    await expect(waiting).rejects.toThrow(/probe silent exited \(SIGKILL\) before logging \/never\//);
  }, 60_000);

  it('stop() follows SIGTERM with SIGKILL when the JVM does not exit in time', async () => {
    const port = await freePort();
    const java = await startJava(options('stubborn', port));
    const pid = java.pid!;
    started.push(pid);
    await java.stop({ timeoutMs: 2000 });
    expect(processAlive(pid)).toBe(false);
    expect(await java.log()).toContain('shutdown hook ran');
  }, 60_000);

  it('the JVM dies with the process that started it (watchdog)', async () => {
    // The parent runs scripts/service.ts compiled alone (it imports only node:), whatever else the tree holds.
    const compiled = join(work, 'compiled');
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--outDir', compiled, '--module', 'nodenext', '--target', 'es2022', '--types', 'node', '--skipLibCheck', join(root, 'scripts/service.ts')]);
    writeFileSync(join(compiled, 'package.json'), '{"type":"module"}');
    const port = await freePort();
    const script = `
      import { startJava } from ${JSON.stringify(join(compiled, 'service.js'))};
      const java = await startJava({ ...${JSON.stringify(options('serve', port))}, readyLog: /started/ });
      console.log('jvm ' + java.pid);
      setInterval(() => undefined, 1000);`;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => /jvm \d+/.test(out) || parent.exitCode !== null, 'the parent to start its JVM', 60_000);
    expect(out).toMatch(/jvm \d+/);
    const pid = Number(/jvm (\d+)/.exec(out)?.[1]);
    started.push(pid);
    expect(processAlive(pid)).toBe(true);
    parent.kill('SIGKILL');
    await waitFor(() => !processAlive(pid), `JVM ${pid} to die after its parent`, 15_000);
  }, 120_000);

  describe('up/down', () => {
    interface ProbeState extends UpState {
      port: number;
    }
    const command = (stateFile: string, port: number, starts: { n: number }) => ({
      stateFile,
      dataDir: join(work, `run-${port}`),
      downCommand: 'npm run probe:down',
      async start(dir: string): Promise<ProbeState> {
        starts.n++;
        const java = await startJava({ ...options('serve', port, { logFile: join(dir, 'probe.log'), detached: true }), args: ['serve', String(port), dir] });
        return { pid: java.pid!, dataDir: dir, logFile: java.logFile, mainClass: 'Svc', name: `probe on ${port}`, port };
      },
      readyLine: (s: ProbeState) => `probe ready on ${s.port}`,
    });

    it('up leaves a detached JVM running and records it; a second up finds it; down stops it and removes its data', async () => {
      const port = await freePort();
      const stateFile = join(work, `probe-${port}.json`);
      const starts = { n: 0 };
      const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        const state = await serviceUp(command(stateFile, port, starts));
        started.push(state.pid);
        expect(log.mock.calls.map((c) => String(c[0]))).toEqual([`probe ready on ${port}`, 'stop it with: npm run probe:down']);
        expect(JSON.parse(readFileSync(stateFile, 'utf8'))).toEqual(state);
        expect(await canConnect(port)).toBe(true);

        const again = await serviceUp(command(stateFile, port, starts));
        expect(again.pid).toBe(state.pid);
        expect(starts.n).toBe(1);
        expect(String(log.mock.calls.at(-1)![0])).toBe(`probe on ${port} is already running (pid ${state.pid}); stop it with: npm run probe:down`);

        await serviceDown(stateFile, 'no probe');
        expect(String(log.mock.calls.at(-1)![0])).toBe(`stopped probe on ${port} (pid ${state.pid})`);
        expect(processAlive(state.pid)).toBe(false);
        expect(existsSync(state.dataDir)).toBe(false);
        expect(existsSync(stateFile)).toBe(false);
        await serviceDown(stateFile, 'no probe');
        expect(String(log.mock.calls.at(-1)![0])).toBe('no probe');
      } finally {
        log.mockRestore();
      }
    }, 120_000);

    it('down never kills a recorded pid that now belongs to another program', async () => {
      const other = spawn('sleep', ['60'], { stdio: 'ignore' });
      const stateFile = join(work, 'recycled.json');
      const data = mkdtempSync(join(work, 'recycled-'));
      const state: UpState = { pid: other.pid!, dataDir: data, logFile: join(data, 'x.log'), mainClass: 'Svc', name: 'probe' };
      writeFileSync(stateFile, JSON.stringify(state));
      const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        await serviceDown(stateFile, 'no probe');
        expect(String(log.mock.calls.at(-1)![0])).toBe('probe was not running any more');
        await sleep(200);
        expect(processAlive(other.pid!)).toBe(true);
        expect(existsSync(data)).toBe(false);
      } finally {
        log.mockRestore();
        other.kill('SIGKILL');
      }
    });
  });
});
