/**
 * A small application built on rxflume, run with `node examples/app/app.ts` after `npm run build`
 * (Node ≥ 22.18 runs TypeScript directly, 22.12–22.17 with --experimental-strip-types; in your own
 * app, `npm install rxflume pino`).
 *
 * It plays both ends of a Flume setup in one process, to show each piece:
 *
 * - the collector: two Avro sources (one for business events, one for logs) merged with
 *   `mergeSources` (fan-in, each source keeps its counters) into a memory channel, drained by
 *   `consumerSink`, whose handler acks a batch only once it has been handled (here: written to stdout
 *   as one JSON line per event) and nacks it on error, so the channel offers it again;
 * - the producers: `createRpcClient`, Flume's client SDK, sends order events (appendBatch,
 *   split into batchSize calls), and the `rxflume/pino` transport ships the app's own log lines from
 *   pino's worker thread, batched, with a bounded buffer.
 *
 * Options: ORDERS and LOGS (environment) set how many of each are sent. It ends with a summary line
 * `{"summary": …}` and exits 0 once every event has been handled, 1 otherwise.
 *
 * In production the collector is a Flume or rxflume agent on another host; then `pino.transport`
 * is all an app needs:
 *
 *   const logger = pino(pino.transport({ target: 'rxflume/pino', options: { hosts: ['collector:41414'] } }));
 */
import { pino, transport } from 'pino';
import {
  avroSource,
  consumerSink,
  createRpcClient,
  event,
  memoryChannel,
  mergeSources,
  pipe,
  text,
  type FlumeEvent,
} from 'rxflume';

const ORDERS = Number(process.env.ORDERS ?? 1000);
const LOGS = Number(process.env.LOGS ?? 200);

/** Resolves with the port an avroSource bound (port 0: any free one). */
function portOf(): { onListening: (a: { port: number }) => void; port: Promise<number> } {
  let resolve!: (port: number) => void;
  const port = new Promise<number>((r) => (resolve = r));
  return { onListening: (a) => resolve(a.port), port };
}

// ---- the collector ------------------------------------------------------------------------------

const ordersPort = portOf();
const logsPort = portOf();
const handled = { orders: 0, logs: 0 };
let allHandled: () => void = () => undefined;
const done = new Promise<void>((r) => (allHandled = r));

const pipeline = pipe(
  mergeSources(
    avroSource({ name: 'orders', bind: '127.0.0.1', port: 0, onListening: ordersPort.onListening }),
    avroSource({ name: 'logs', bind: '127.0.0.1', port: 0, onListening: logsPort.onListening }),
  ),
  memoryChannel({ name: 'events', capacity: 10_000, transactionCapacity: 500 }),
  consumerSink(
    async (events: readonly FlumeEvent[]) => {
      // The batch is acked when this promise resolves; a throw here would nack it.
      for (const e of events) {
        const kind = e.headers.kind === 'order' ? 'orders' : 'logs';
        handled[kind]++;
        process.stdout.write(JSON.stringify({ kind, headers: e.headers, body: text(e) }) + '\n');
      }
      if (handled.orders >= ORDERS && handled.logs >= LOGS) allHandled();
    },
    { name: 'handler' },
  ),
);

// ---- the producers ------------------------------------------------------------------------------

// Flume's RPC client: the orders, 100 per appendBatch call.
const client = createRpcClient({ hosts: [`127.0.0.1:${await ordersPort.port}`], batchSize: 100 });
const orders = Array.from({ length: ORDERS }, (_, i) => event(JSON.stringify({ order: i, amount: (i % 7) + 1 }), { kind: 'order', id: String(i) }));
for (let i = 0; i < orders.length; i += 250) await client.appendBatch(orders.slice(i, i + 250));

// The pino transport, in pino's worker thread (pino resolves the target with require.resolve: the
// package's './pino' export has a default condition for it).
const logTransport = transport({
  target: 'rxflume/pino',
  options: { hosts: [`127.0.0.1:${await logsPort.port}`], batchSize: 50, lingerMs: 50, headers: { kind: 'log', app: 'example' } },
});
const logger = pino({ name: 'example-app' }, logTransport);
for (let i = 0; i < LOGS; i++) logger.info({ i }, `log line ${i}`);

// Everything handled (or 30 s passed), then a graceful stop: the sources stop, the channel drains.
const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref());
const outcome = await Promise.race([done.then(() => 'ok' as const), timeout]);
await client.close();
// Only once every line was handled: pino's end() blocks this thread until the worker has flushed,
// and the source receiving the lines runs on this thread.
await new Promise<void>((r) => {
  logTransport.once('close', () => r());
  logTransport.end();
});
const stopped = await pipeline.stop();
const metrics = pipeline.metrics();
process.stdout.write(
  JSON.stringify({
    summary: {
      outcome,
      handled,
      drained: stopped.drained,
      received: { orders: metrics['SOURCE.orders']?.EventAcceptedCount, logs: metrics['SOURCE.logs']?.EventAcceptedCount },
    },
  }) + '\n',
);
process.exitCode = outcome === 'ok' ? 0 : 1;
