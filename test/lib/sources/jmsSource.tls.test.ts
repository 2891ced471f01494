/**
 * amqps://: the JMS source over TLS to a broker of its own with an AMQP+SSL transport (a key store made
 * with keytool), the broker's certificate checked against sslCaFile, or refused without it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startActiveMq, type ActiveMq } from '../../../scripts/activemq.js';
import { ConfigError } from '../../../lib/core/errors.js';
import type { FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { jmsSource, type JmsSourceOptions } from '../../../lib/sources/jmsSource.js';
import { activemqEnv, drainAmqp, requireActiveMq, sendAmqp, uniqueName } from '../../support/activemq.js';
import { keytool, keytoolIn } from '../../support/keytool.js';
import { waitFor } from '../../support/net.js';
import { thrown } from '../../support/thrown.js';

const mq = activemqEnv();

describe('jmsSource sslCaFile', () => {
  it('needs an amqps:// providerUrl', () => {
    const error = thrown(() => jmsSource({ providerUrl: 'amqp://127.0.0.1:5672', destinationName: 'q', destinationType: 'QUEUE', sslCaFile: '/etc/hostname' })) as ConfigError;
    expect(error.issues.map((i) => `${i.path}: ${i.expected}`)).toEqual(['jmsSource.sslCaFile: an amqps:// providerUrl with sslCaFile']);
  });
});

describe.skipIf(mq.skip || keytool.skip)(`jmsSource over amqps://${mq.note}${keytool.note}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'jms-tls-'));
  let broker: ActiveMq | undefined;
  const subscriptions: Subscription[] = [];
  beforeAll(async () => {
    if (mq.failure !== undefined || mq.broker === null) return; // the tests report it
    const run = keytoolIn(dir);
    run('-genkeypair', '-alias', 'broker', '-keyalg', 'RSA', '-keysize', '2048', '-dname', 'CN=127.0.0.1', '-ext', 'SAN=ip:127.0.0.1', '-validity', '2', '-storetype', 'PKCS12', '-keystore', 'broker.p12', '-storepass', 'changeit', '-keypass', 'changeit');
    run('-exportcert', '-rfc', '-alias', 'broker', '-keystore', 'broker.p12', '-storepass', 'changeit', '-file', 'ca.pem');
    broker = await startActiveMq({ tls: { keyStore: join(dir, 'broker.p12'), keyStorePassword: 'changeit' } });
  }, 240_000);
  afterAll(async () => {
    for (const s of subscriptions) s.unsubscribe();
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  function consume(options: Partial<JmsSourceOptions> & { destinationName: string }) {
    const events: FlumeEvent[] = [];
    const lines: string[] = [];
    const source = jmsSource({ providerUrl: broker!.amqpsUrl!, destinationType: 'QUEUE', pollTimeoutMs: 200, backoffSleepIncrementMs: 100, maxBackoffSleepMs: 300, logger: (_, l) => lines.push(l), ...options });
    subscriptions.push(
      source.subscribe((batch) => {
        events.push(...batch.events);
        batch.ack();
      }),
    );
    return { events, lines, source };
  }

  it('reads over TLS, trusting the broker through sslCaFile', async () => {
    requireActiveMq();
    const queue = uniqueName('tls');
    await sendAmqp(broker!.amqpUrl, `queue://${queue}`, [{ body: 'secret 1' }, { body: 'secret 2' }]);
    const run = consume({ destinationName: queue, sslCaFile: join(dir, 'ca.pem') });
    await waitFor(() => run.events.length === 2, 'two events over amqps', 30_000);
    expect(run.events.map((e) => e.body.toString())).toEqual(['secret 1', 'secret 2']);
    expect(run.lines[0]).toMatch(/^connected to '.*' of type 'QUEUE' at amqps:\/\/127\.0\.0\.1:\d+$/);
  });

  it("refuses a broker whose certificate Node's CAs do not vouch for, and keeps retrying", async () => {
    requireActiveMq();
    const queue = uniqueName('tls-untrusted');
    await sendAmqp(broker!.amqpUrl, `queue://${queue}`, [{ body: 'kept' }]);
    const run = consume({ destinationName: queue });
    await waitFor(() => metricsOf(run.source)!.get('GenericProcessingFail') >= 2, 'two refused connections', 30_000);
    expect(run.events).toEqual([]);
    expect(run.lines[0]).toMatch(/^cannot connect to .* at amqps:\/\/127\.0\.0\.1:\d+; retrying after the back-off: .*self[- ]signed certificate/);
    subscriptions.pop()!.unsubscribe();
    expect((await drainAmqp(broker!.amqpUrl, `queue://${queue}`)).map((m) => m.body)).toEqual(['kept']);
  });
});
