/**
 * Vitest global setup: starts a real ActiveMQ Classic broker (scripts/activemq.ts: AMQP 1.0, STOMP and
 * OpenWire on free ports of 127.0.0.1, persistent in its own temp data) for the run, and hands its
 * addresses to the tests as `inject('activemq')` (see test/support/activemq.ts). Stops it and removes
 * its data at the end.
 *
 * - Only when the run includes a test file with "jms" or "activemq" in its path (otherwise no JVM starts).
 * - Java or Maven missing: those tests are skipped with that reason — unless `RXFLUME_REQUIRE_ACTIVEMQ=1`
 *   (for .ci/run), where they fail with it. Any other start failure makes them fail.
 */
import type { TestProject } from 'vitest/node';
import { ACTIVEMQ_VERSION, startActiveMq } from '../../scripts/activemq.js';
import type { ActiveMqTestEnv } from './activemq.js';
import { serviceGlobalSetup } from './serviceGlobalSetup.js';

export default function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  return serviceGlobalSetup<ActiveMqTestEnv>(project, {
    tag: 'activemq',
    name: 'ActiveMQ',
    testFiles: /jms|activemq/i,
    what: `the ActiveMQ ${ACTIVEMQ_VERSION} broker`,
    requireEnv: 'RXFLUME_REQUIRE_ACTIVEMQ',
    provide: (env) => project.provide('activemq', env),
    without: (outcome) => ({ broker: null, ...outcome }),
    async start() {
      const broker = await startActiveMq();
      const { amqpUrl, amqpPort, stompPort, openwireUrl } = broker;
      return {
        env: { broker: { amqpUrl, amqpPort, stompPort, openwireUrl, version: ACTIVEMQ_VERSION } },
        ready: `ActiveMQ ${ACTIVEMQ_VERSION} ready on ${amqpUrl} (STOMP ${stompPort}, OpenWire ${openwireUrl})`,
        close: () => broker.close(),
      };
    },
  });
}
