/**
 * Test-side helpers for the real ActiveMQ broker that test/support/activemqGlobalSetup.ts starts for the
 * run, and plain clients of it that are not rxflume: an AMQP 1.0 producer and reader (rhea), and a STOMP
 * producer (a few frames on a socket), so a message's JMS type is the one its sender chose.
 *
 *   const mq = activemqEnv();
 *   describe.skipIf(mq.skip)(`jmsSource${mq.note}`, () => {
 *     it('…', async () => {
 *       const broker = requireActiveMq();     // fails the test when the broker could not start
 *       await sendAmqp(broker.amqpUrl, 'queue://q', [{ body: 'x' }]);
 *     });
 *   });
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import rhea, { type Connection, type Message } from 'rhea';
import { afterAll, beforeAll, inject } from 'vitest';
import { startActiveMq, type ActiveMq } from '../../scripts/activemq.js';
import { requireService, serviceSkip, type ServiceOutcome } from './serviceGlobalSetup.js';

export interface ActiveMqBroker {
  amqpUrl: string;
  amqpPort: number;
  stompPort: number;
  openwireUrl: string;
  version: string;
}

export interface ActiveMqTestEnv extends ServiceOutcome {
  broker: ActiveMqBroker | null;
}

declare module 'vitest' {
  export interface ProvidedContext {
    activemq: ActiveMqTestEnv;
  }
}

export interface ActiveMqEnv extends ActiveMqTestEnv {
  /** True when the tests must be skipped (`describe.skipIf(env.skip)`). */
  skip: boolean;
  /** Appended to a describe title: " [skipped: …]" when skipped, else "". */
  note: string;
}

export function activemqEnv(): ActiveMqEnv {
  const env: ActiveMqTestEnv = inject('activemq') ?? { broker: null, skipReason: 'the ActiveMQ global setup (test/support/activemqGlobalSetup.ts) did not run' };
  return { ...env, ...serviceSkip(env.broker !== null, env, 'RXFLUME_REQUIRE_ACTIVEMQ') };
}

/** The run's broker; throws the global setup's failure, so a broker that should run but did not fails the test (call it in each test). */
export function requireActiveMq(): ActiveMqBroker {
  const env = activemqEnv();
  return requireService(env.broker, env, 'ActiveMQ broker');
}

/**
 * A broker of the describe block's own, for tests that stop and restart it (same ports, same KahaDB)
 * without disturbing any other test: started in beforeAll, closed and its data removed in afterAll.
 */
export function ownActiveMq(prefix: string): { broker(): ActiveMq } {
  const env = activemqEnv();
  let broker: ActiveMq | undefined;
  let dataDir: string | undefined;
  beforeAll(async () => {
    if (env.failure !== undefined || env.broker === null) return; // the test reports it
    dataDir = await mkdtemp(join(tmpdir(), `${prefix}-`));
    broker = await startActiveMq({ dataDir });
  }, 240_000);
  afterAll(async () => {
    await broker?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 120_000);
  return { broker: () => broker! };
}

let counter = 0;
/** A destination name no other test (or earlier run on a reused broker) has used. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}`;
}

/** An AMQP connection to the broker (SASL ANONYMOUS, which ActiveMQ requires some SASL for), open. */
async function amqpConnect(url: string, containerId = uniqueName('test-client')): Promise<Connection> {
  const { hostname, port } = new URL(url);
  const connection = rhea.create_container({ id: containerId }).connect({ host: hostname, port: Number(port), username: 'test', reconnect: false, container_id: containerId });
  await new Promise<void>((resolve, reject) => {
    connection.once('connection_open', () => resolve());
    connection.once('connection_error', (c) => reject(c.connection.error ?? new Error('connection error')));
    connection.once('disconnected', (c) => reject(c.error ?? new Error('disconnected')));
  });
  return connection;
}

function closeConnection(connection: Connection): Promise<void> {
  return new Promise((resolve) => {
    if (!connection.is_open()) return resolve();
    connection.once('connection_close', () => resolve());
    connection.once('disconnected', () => resolve());
    connection.close();
  });
}

/** What a test sends: an AMQP body (a string is an amqp-value string, a Buffer a data section) and properties. */
export interface OutMessage {
  body: string | Buffer | Record<string, unknown> | null;
  properties?: Record<string, string | number | boolean>;
  subject?: string;
}

/**
 * Sends persistent (`durable`) messages to `address` (`queue://q`, `topic://t`) and resolves once the
 * broker accepted every one.
 */
export async function sendAmqp(url: string, address: string, messages: readonly OutMessage[]): Promise<void> {
  const connection = await amqpConnect(url);
  try {
    const sender = connection.open_sender({ target: { address } });
    let accepted = 0;
    let next = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the broker accepted ${accepted} of ${messages.length} messages to ${address} within 60 s`)), 60_000);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const pump = (): void => {
        while (next < messages.length && sender.sendable()) {
          const m = messages[next++]!;
          const body = Buffer.isBuffer(m.body) ? rhea.message.data_section(m.body) : m.body;
          sender.send({ body, durable: true, ...(m.properties ? { application_properties: m.properties } : {}), ...(m.subject ? { subject: m.subject } : {}) } as unknown as Message);
        }
      };
      sender.on('sendable', pump);
      sender.on('accepted', () => {
        if (++accepted === messages.length) done();
      });
      sender.on('rejected', (c) => reject(new Error(`the broker rejected a message to ${address}: ${JSON.stringify(c.delivery?.remote_state)}`)));
      sender.on('sender_error', (c) => reject(c.sender?.error ?? new Error('sender error')));
      if (messages.length === 0) done();
    });
  } finally {
    await closeConnection(connection);
  }
}

/**
 * Reads and accepts what `address` holds, stopping once nothing came for `quietMs`: what a source left
 * behind (messages never accepted, redelivered ones).
 */
export async function drainAmqp(url: string, address: string, quietMs = 1500): Promise<Message[]> {
  const connection = await amqpConnect(url);
  const got: Message[] = [];
  try {
    const receiver = connection.open_receiver({ source: { address }, credit_window: 500 });
    await new Promise<void>((resolve) => {
      let timer = setTimeout(resolve, quietMs);
      receiver.on('message', (c) => {
        got.push(c.message!);
        clearTimeout(timer);
        timer = setTimeout(resolve, quietMs);
      });
    });
  } finally {
    await closeConnection(connection);
  }
  return got;
}

/**
 * Sends STOMP frames to `destination` (`/queue/q`, `/topic/t`): without `bytes` a TextMessage, with it a
 * BytesMessage (a `content-length` header); `headers` become string properties; persistent. Resolves once
 * the broker acknowledged the last one (a receipt).
 */
export async function sendStomp(port: number, destination: string, messages: readonly { body: string | Buffer; bytes?: boolean; headers?: Record<string, string> }[]): Promise<void> {
  const socket = createConnection({ host: '127.0.0.1', port });
  let input = '';
  const waitFor = (pattern: RegExp, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no STOMP ${what} within 30 s; got: ${input.slice(0, 400)}`)), 30_000);
      const check = (): void => {
        if (pattern.test(input)) {
          clearTimeout(timer);
          socket.off('data', onData);
          resolve();
        } else if (/^ERROR/m.test(input)) {
          clearTimeout(timer);
          reject(new Error(`STOMP error: ${input.slice(0, 400)}`));
        }
      };
      const onData = (d: Buffer): void => {
        input += d.toString('utf8');
        check();
      };
      socket.on('data', onData);
      check();
    });
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.write('CONNECT\naccept-version:1.2\nhost:localhost\n\n\0');
    await waitFor(/CONNECTED/, 'CONNECTED');
    messages.forEach((m, i) => {
      const body = Buffer.isBuffer(m.body) ? m.body : Buffer.from(m.body, 'utf8');
      const headers = [`destination:${destination}`, 'persistent:true', ...Object.entries(m.headers ?? {}).map(([k, v]) => `${k}:${v}`)];
      if (m.bytes) headers.push(`content-length:${body.length}`);
      if (i === messages.length - 1) headers.push('receipt:last');
      socket.write(Buffer.concat([Buffer.from(`SEND\n${headers.join('\n')}\n\n`, 'utf8'), body, Buffer.from([0])]));
    });
    if (messages.length) await waitFor(/receipt-id:last/, 'receipt');
    socket.write('DISCONNECT\n\n\0');
  } finally {
    socket.destroy();
  }
}
