/**
 * A WebHDFS proxy in front of the NameNode that counts the operations it forwards (`?op=CREATE`, …), so a
 * test can see how many requests a sink made. Writes go in two steps and the second goes straight to the
 * DataNode the NameNode names, so each CREATE or APPEND counts once here.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CountingProxy {
  readonly url: string;
  readonly ops: Map<string, number>;
  count(op: string): number;
  /** While true, every request is answered 503 without reaching HDFS (a NameNode that is away). */
  down: boolean;
  close(): Promise<void>;
}

export async function countingProxy(target: string): Promise<CountingProxy> {
  const to = new URL(target);
  const ops = new Map<string, number>();
  const state = { down: false };
  const server = http.createServer((req, res) => {
    const op = (new URL(req.url ?? '/', 'http://x').searchParams.get('op') ?? '?').toUpperCase();
    ops.set(op, (ops.get(op) ?? 0) + 1);
    if (state.down) {
      req.resume();
      res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
      return;
    }
    const forward = http.request({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    ops,
    count: (op) => ops.get(op) ?? 0,
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
