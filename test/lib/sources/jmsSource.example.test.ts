/**
 * The Flume User Guide's JMS example (examples/flume-ug/jms/sources-jms.properties, its providerURL
 * rewritten to AMQP): it validates as written, with the JNDI keys reported as ignored, and a copy
 * pointing at the run's ActiveMQ (test/support/activemqGlobalSetup.ts) and a queue of this run moves
 * the messages sent to it to the logger.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activemqEnv, requireActiveMq, sendAmqp, uniqueName } from '../../support/activemq.js';
import { buildDist, cli, root } from '../../support/examples.js';
import { markers, newCtx, runAgent } from '../../support/exampleRun.js';

const run = promisify(execFile);
const example = join(root, 'examples/flume-ug/jms/sources-jms.properties');
const mq = activemqEnv();

beforeAll(() => buildDist(), 120_000);

describe('examples/flume-ug/jms as written', () => {
  it('validates, saying the JNDI keys are ignored', async () => {
    const { stdout, stderr } = await run(process.execPath, [cli, 'validate', '-n', 'a1', '-f', example], { cwd: root });
    expect(stdout).toMatch(/^agent a1\n {2}source {2}r1 \(jms\) → c1\n/);
    expect(stderr).toMatch(/sources-jms\.properties:11: warning: a1\.sources\.r1\.initialContextFactory: .*ignored: rxflume connects over AMQP 1\.0 without JNDI/);
    expect(stderr).toMatch(/sources-jms\.properties:12: warning: a1\.sources\.r1\.connectionFactory: .*ignored/);
  });
});

describe.skipIf(mq.skip)(`examples/flume-ug/jms against ActiveMQ${mq.note}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'rxflume-jms-example-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('moves the messages of its queue to the logger', async () => {
    const broker = requireActiveMq();
    const queue = uniqueName('BUSINESS_DATA');
    const copy = join(dir, 'sources-jms.properties');
    writeFileSync(
      copy,
      readFileSync(example, 'utf8')
        .replace('amqp://mqserver:5672', broker.amqpUrl)
        .replace('destinationName = BUSINESS_DATA', `destinationName = ${queue}`),
    );
    const bodies = markers('jms-', 3);
    const result = await runAgent(copy, 'a1', newCtx(dir, []), {
      feed: () => sendAmqp(broker.amqpUrl, `queue://${queue}`, bodies.map((body, i) => ({ body, properties: { n: i } }))),
      done: (c) => c.logged().length >= bodies.length,
      check: () => undefined,
    }, 'sources-jms');
    expect(result.logged()).toEqual(bodies.map((body, i) => ({ headers: { n: String(i) }, body })));
  }, 90_000);
});
