import { connect, type Socket } from 'node:net';
import type { Observer } from 'rxjs';
import type { Batch } from '../../lib/core/batch.js';
import type { FlumeEvent } from '../../lib/core/event.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `condition` until true; generous default for a loaded machine. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A sink recording every event it acked; with `hold` set it keeps batches unsettled until `release()`. */
export interface RecordingSink extends Observer<Batch> {
  readonly events: FlumeEvent[];
  readonly held: Batch[];
  hold: boolean;
  release(): void;
  closed: Promise<void>;
}

export function recordingSink(): RecordingSink {
  const sink: RecordingSink = {
    events: [],
    held: [],
    hold: false,
    closed: Promise.resolve(),
    next(batch) {
      if (sink.hold) {
        sink.held.push(batch);
        return;
      }
      sink.events.push(...batch.events);
      batch.ack();
    },
    error() {},
    complete() {},
    release() {
      sink.hold = false;
      for (const batch of sink.held.splice(0)) {
        sink.events.push(...batch.events);
        batch.ack();
      }
    },
  };
  return sink;
}

/** A source option `onListening` and the promise of the port it reports. */
export function listening(): { onListening: (a: { port: number }) => void; port: Promise<number> } {
  let resolve!: (port: number) => void;
  const port = new Promise<number>((r) => (resolve = r));
  return { onListening: (a) => resolve(a.port), port };
}

/** A TCP client collecting what the server answers. */
export interface Client {
  socket: Socket;
  received(): string;
  closed: Promise<void>;
}

export async function client(port: number, host = '127.0.0.1'): Promise<Client> {
  const socket = connect(port, host);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => Buffer.concat(chunks).toString(), closed };
}

/**
 * Sends `lines` to a netcat source on one connection, each ended by \n (with `oneByOne`, each after the
 * previous one's answer), connecting again until the source listens (60 s); returns the first word of
 * each answer (`OK`, `FAILED`).
 */
export async function netcatSend(port: number, lines: string[], oneByOne = false): Promise<string[]> {
  const until = Date.now() + 60_000;
  for (;;) {
    try {
      const c = await client(port);
      const answered = async (n: number): Promise<void> => {
        const limit = Date.now() + 15_000;
        while (c.received().split('\n').length <= n && Date.now() < limit) await sleep(5);
      };
      if (oneByOne)
        for (const [i, x] of lines.entries()) {
          c.socket.write(`${x}\n`);
          await answered(i + 1);
        }
      else c.socket.write(lines.map((x) => `${x}\n`).join(''));
      await answered(lines.length);
      c.socket.destroy();
      return c.received().split('\n').slice(0, -1).map((a) => a.split(':')[0]!);
    } catch (error) {
      if (Date.now() > until) throw error;
      await sleep(200);
    }
  }
}
