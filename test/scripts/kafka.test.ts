import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ensureJars, freePort, kafkaCacheDir, kafkaDown, kafkaUp, startBroker } from '../../scripts/kafka.js';
import { processAlive, ToolsMissingError } from '../../scripts/service.js';
import { kafkaEnv, requireKafka, testKafka, topicRecordCount, waitFor } from '../support/kafka.js';

describe('scripts/kafka tool checks', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('names what is missing when java and mvn are not on the PATH', async () => {
    vi.stubEnv('PATH', '/nonexistent');
    await expect(startBroker({ major: 3 })).rejects.toThrow(ToolsMissingError);
    await expect(startBroker({ major: 3 })).rejects.toThrow(/Kafka 3\.9\.2 broker needs java \(a JDK 17\+.*\) on the PATH/);
    vi.stubEnv('RXFLUME_KAFKA_CACHE', '/nonexistent/cache');
    await expect(ensureJars({ major: 3 })).rejects.toThrow(/needs java \(a JDK 17\+.*\) and mvn \(Apache Maven 3/);
  });
});

const kafka = kafkaEnv();

describe.skipIf(kafka.skip)(`scripts/kafka up/down${kafka.note}`, () => {
  it('finds the jars cached by the global setup without running Maven', async () => {
    requireKafka();
    const jars = await ensureJars(kafka.major ? { major: kafka.major } : {});
    expect(jars.fetched).toBe(false);
    expect(existsSync(join(jars.libsDir, `kafka_2.13-${jars.version}.jar`))).toBe(true);
    expect(jars.libsDir.startsWith(kafkaCacheDir())).toBe(true);
  });

  it('kafka:up starts a detached broker that takes records, kafka:down stops it and removes its data', async () => {
    requireKafka();
    const port = await freePort();
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    let pid: number | undefined;
    try {
      const up = await kafkaUp(port, kafka.major ? { major: kafka.major } : {});
      pid = up.pid;
      expect(up.bootstrap).toBe(`127.0.0.1:${port}`);
      const printed = log.mock.calls.map((c) => String(c[0])).join('\n');
      expect(printed).toContain(`is ready: bootstrap 127.0.0.1:${port}`);
      expect(printed).toContain(`stop it with: npm run kafka:down -- --port ${port}`);
      const state = JSON.parse(readFileSync(join(kafkaCacheDir(), `broker-${port}.json`), 'utf8')) as { dataDir: string };
      expect(existsSync(state.dataDir)).toBe(true);

      // Auto-create is on for kafka:up, as a developer expects.
      const producer = testKafka(up.bootstrap).producer();
      await producer.connect();
      await producer.send({ topic: 'hello', messages: [{ value: 'world' }] });
      await producer.disconnect();
      expect(await topicRecordCount(up.bootstrap, 'hello')).toBe(1);

      const again = await kafkaUp(port);
      expect(again.pid).toBe(pid);
      expect(String(log.mock.calls.at(-1)![0])).toContain('already running');

      await kafkaDown(port);
      pid = undefined;
      expect(existsSync(state.dataDir)).toBe(false);
      expect(existsSync(join(kafkaCacheDir(), `broker-${port}.json`))).toBe(false);
      // Started from this process, the JVM stays a zombie until Node reaps it: gone or zombie is stopped.
      await waitFor(() => !processAlive(up.pid), `pid ${up.pid} to exit`, 10_000);
    } finally {
      if (pid !== undefined) await kafkaDown(port);
      log.mockRestore();
    }
  }, 300_000);
});
