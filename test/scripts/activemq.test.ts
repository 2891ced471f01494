import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ACTIVEMQ_VERSION, activemqCacheDir, activemqDown, activemqUp, ensureActiveMqJars, startActiveMq } from '../../scripts/activemq.js';
import { freePort, processAlive, ToolsMissingError } from '../../scripts/service.js';
import { activemqEnv, drainAmqp, requireActiveMq, sendAmqp } from '../support/activemq.js';
import { waitFor } from '../support/kafka.js';

describe('scripts/activemq tool checks', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('names what is missing when java and mvn are not on the PATH', async () => {
    vi.stubEnv('PATH', '/nonexistent');
    await expect(startActiveMq()).rejects.toThrow(ToolsMissingError);
    await expect(startActiveMq()).rejects.toThrow(/ActiveMQ 6\.3\.1 broker needs java \(a JDK 17\+.*\) on the PATH/);
    vi.stubEnv('RXFLUME_ACTIVEMQ_CACHE', '/nonexistent/cache');
    await expect(ensureActiveMqJars()).rejects.toThrow(/needs java \(a JDK 17\+.*\) and mvn \(Apache Maven 3/);
  });
});

const mq = activemqEnv();

describe.skipIf(mq.skip)(`scripts/activemq up/down${mq.note}`, () => {
  it('finds the jars cached by the global setup without running Maven', async () => {
    requireActiveMq();
    const jars = await ensureActiveMqJars();
    expect(jars.fetched).toBe(false);
    expect(existsSync(join(jars.libsDir, `activemq-amqp-${ACTIVEMQ_VERSION}.jar`))).toBe(true);
    expect(jars.libsDir.startsWith(activemqCacheDir())).toBe(true);
  });

  it('activemq:up starts a detached broker that keeps messages, prints its amqp:// URL; activemq:down stops it and removes its data', async () => {
    requireActiveMq();
    const [port, stompPort, openwirePort] = [await freePort(), await freePort(), await freePort()];
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    let pid: number | undefined;
    try {
      const up = await activemqUp(port, { stompPort, openwirePort });
      pid = up.pid;
      expect(up.amqpUrl).toBe(`amqp://127.0.0.1:${port}`);
      expect(up.openwireUrl).toBe(`tcp://127.0.0.1:${openwirePort}`);
      const printed = log.mock.calls.map((c) => String(c[0])).join('\n');
      expect(printed).toContain(`ActiveMQ ${ACTIVEMQ_VERSION} is ready: amqp://127.0.0.1:${port} (STOMP port ${stompPort}, OpenWire tcp://127.0.0.1:${openwirePort}`);
      expect(printed).toContain(`stop it with: npm run activemq:down -- --port ${port}`);
      const state = JSON.parse(readFileSync(join(activemqCacheDir(), `broker-${port}.json`), 'utf8')) as { dataDir: string };
      expect(existsSync(state.dataDir)).toBe(true);

      await sendAmqp(up.amqpUrl, 'queue://hello', [{ body: 'world' }]);
      expect((await drainAmqp(up.amqpUrl, 'queue://hello', 500)).map((m) => m.body)).toEqual(['world']);

      const again = await activemqUp(port);
      expect(again.pid).toBe(pid);
      expect(String(log.mock.calls.at(-1)![0])).toContain('already running');

      await activemqDown(port);
      pid = undefined;
      expect(existsSync(state.dataDir)).toBe(false);
      expect(existsSync(join(activemqCacheDir(), `broker-${port}.json`))).toBe(false);
      // Started from this process, the JVM stays a zombie until Node reaps it: gone or zombie is stopped.
      await waitFor(() => !processAlive(up.pid), `pid ${up.pid} to exit`, 10_000);
    } finally {
      if (pid !== undefined) await activemqDown(port);
      log.mockRestore();
    }
  }, 180_000);
});
