/**
 * WebHdfsClient's HTTP behaviour against scripted servers on 127.0.0.1, for what a healthy HDFS does not
 * show: a NameNode without noredirect, a redirect answered to the data step, HttpFS's one-step upload,
 * keep-alive, deadlines, refused connections and malformed answers.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebHdfsClient } from '../../../lib/hdfs/webHdfsClient.js';
import { freePort } from '../../../scripts/service.js';
import { refusal } from '../../support/hdfsRefusal.js';

interface Seen {
  method: string;
  url: URL;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  socket: number;
}

const servers: http.Server[] = [];
const clients: WebHdfsClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r())))));
});

/** A server that records each request (with its socket's number) and answers with `answer`. */
async function server(answer: (req: Seen, res: http.ServerResponse) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  let sockets = 0;
  const ids = new WeakMap<object, number>();
  const s = http.createServer((req, res) => {
    if (!ids.has(req.socket)) ids.set(req.socket, ++sockets);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = { method: req.method!, url: new URL(req.url!, 'http://x'), headers: req.headers, body: Buffer.concat(chunks), socket: ids.get(req.socket)! };
      seen.push(entry);
      answer(entry, res);
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

function client(url: string, options: Partial<ConstructorParameters<typeof WebHdfsClient>[0]> = {}): WebHdfsClient {
  const c = new WebHdfsClient({ url, user: 'flume', ...options });
  clients.push(c);
  return c;
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('WebHdfsClient on the wire', () => {
  it('CREATE: step 1 bodiless with noredirect=true, user.name and doas; the bytes go once, to the Location, as application/octet-stream', async () => {
    const dn = await server((_req, res) => {
      res.writeHead(201, { location: 'hdfs://nn/x' });
      res.end();
    });
    const nn = await server((req, res) => json(res, 200, { Location: `${dn.url}/webhdfs/v1/a%20b/c?op=CREATE&token=1` }));
    await client(nn.url, { doAs: 'alice' }).create('/a b/c', Buffer.from('payload'), { replication: 1, permission: '640' });
    expect(nn.seen).toHaveLength(1);
    const step1 = nn.seen[0]!;
    expect(step1.method).toBe('PUT');
    expect(step1.url.pathname).toBe('/webhdfs/v1/a%20b/c');
    expect(Object.fromEntries(step1.url.searchParams)).toEqual({
      op: 'CREATE',
      'user.name': 'flume',
      doas: 'alice',
      overwrite: 'false',
      replication: '1',
      permission: '640',
      createparent: 'true',
      noredirect: 'true',
    });
    expect(step1.body).toHaveLength(0);
    expect(dn.seen).toHaveLength(1);
    expect(dn.seen[0]).toMatchObject({ method: 'PUT' });
    expect(dn.seen[0]!.url.search).toBe('?op=CREATE&token=1');
    expect(dn.seen[0]!.body.toString()).toBe('payload');
    expect(dn.seen[0]!.headers['content-type']).toBe('application/octet-stream');
  });

  it('a NameNode that redirects step 1 (no noredirect support) is followed there without the body, which goes only to the DataNode', async () => {
    const dn = await server((_req, res) => {
      res.writeHead(200);
      res.end();
    });
    const nn = await server((_req, res) => {
      res.writeHead(307, { location: `${dn.url}/webhdfs/v1/f?op=APPEND` });
      res.end();
    });
    await client(nn.url).append('/f', Buffer.from('batch'));
    expect(nn.seen.map((s) => s.body.length)).toEqual([0]);
    expect(dn.seen.map((s) => [s.method, s.body.toString()])).toEqual([['POST', 'batch']]);
  });

  it('a redirect answered to the data step is an error, never a second upload of the body', async () => {
    let uploads = 0;
    const elsewhere = await server((_req, res) => {
      uploads++;
      res.writeHead(200);
      res.end();
    });
    const dn = await server((req, res) => {
      if (req.body.length) uploads++;
      res.writeHead(307, { location: `${elsewhere.url}/webhdfs/v1/f?op=APPEND` });
      res.end();
    });
    const nn = await server((_req, res) => json(res, 200, { Location: `${dn.url}/webhdfs/v1/f?op=APPEND` }));
    const error = await refusal(client(nn.url).append('/f', Buffer.from('batch')));
    expect(error).toMatchObject({ code: 'FLUME_HDFS_IO', status: 307, op: 'APPEND', path: '/f', retriable: true });
    expect(error.message).toMatch(/unexpected redirect.*never re-sent/);
    expect(uploads).toBe(1);
    expect(elsewhere.seen).toHaveLength(0);
  });

  it("HttpFS: one request with data=true and Content-Type application/octet-stream (HttpFS answers 400 without it)", async () => {
    const httpfs = await server((req, res) => {
      if (req.url.searchParams.get('data') !== 'true') {
        res.writeHead(307, { location: `${req.url.pathname}${req.url.search}&data=true` });
        res.end();
      } else if (req.headers['content-type'] !== 'application/octet-stream') {
        json(res, 400, { RemoteException: { exception: 'IllegalArgumentException', message: "Data upload requests must have content-type set to 'application/octet-stream'" } });
      } else {
        res.writeHead(req.url.searchParams.get('op') === 'CREATE' ? 201 : 200);
        res.end();
      }
    });
    const c = client(httpfs.url, { gateway: 'httpfs' });
    await c.create('/h/f', Buffer.from('one'));
    await c.append('/h/f', Buffer.from('two'));
    expect(httpfs.seen.map((s) => [s.method, s.url.searchParams.get('op'), s.url.searchParams.get('data'), s.url.searchParams.get('noredirect'), s.body.toString()])).toEqual([
      ['PUT', 'CREATE', 'true', null, 'one'],
      ['POST', 'APPEND', 'true', null, 'two'],
    ]);
  });

  it('keeps connections alive between NameNode requests', async () => {
    const nn = await server((_req, res) => json(res, 200, { boolean: true }));
    const c = client(nn.url);
    for (let i = 0; i < 5; i++) await c.mkdirs(`/k/${i}`);
    expect(nn.seen).toHaveLength(5);
    expect(new Set(nn.seen.map((s) => s.socket)).size).toBe(1);
  });

  it('a keep-alive socket the server dropped: a GET is sent again on a new one, a PUT fails with FLUME_HDFS_IO (it may have been applied)', async () => {
    // The server drops each connection when its second request arrives, as a server that closed an idle
    // keep-alive socket while the request was on its way.
    const requests = new WeakMap<object, number>();
    const s = http.createServer((req, res) => {
      const n = (requests.get(req.socket) ?? 0) + 1;
      requests.set(req.socket, n);
      if (n > 1) return req.socket.destroy();
      req.resume();
      req.on('end', () => json(res, 200, req.method === 'GET' ? { FileStatus: { length: 1 } } : { boolean: true }));
    });
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const c = client(`http://127.0.0.1:${(s.address() as AddressInfo).port}`);
    expect(await c.getFileStatus('/a')).toMatchObject({ length: 1 });
    expect(await c.getFileStatus('/a')).toMatchObject({ length: 1 });
    expect(await refusal(c.mkdirs('/b'))).toMatchObject({ code: 'FLUME_HDFS_IO', op: 'MKDIRS' });
  });

  it('an operation past its deadline fails with FLUME_HDFS_TIMEOUT (retriable), its connection dropped', async () => {
    let closed = 0;
    const silent = await server((req, res) => {
      res.socket?.on('close', () => closed++);
      // never answers
    });
    const error = await refusal(client(silent.url, { timeoutMs: 300 }).getFileStatus('/slow'));
    expect(error).toMatchObject({ code: 'FLUME_HDFS_TIMEOUT', retriable: true, op: 'GETFILESTATUS', path: '/slow' });
    await new Promise((r) => setTimeout(r, 200));
    expect(closed).toBe(1);
  });

  it('the deadline covers both steps of a write: each step in time, both together not', async () => {
    const dn = await server((_req, res) =>
      setTimeout(() => {
        res.writeHead(201);
        res.end();
      }, 350),
    );
    const nn = await server((_req, res) => setTimeout(() => json(res, 200, { Location: `${dn.url}/webhdfs/v1/f?op=CREATE` }), 350));
    const error = await refusal(client(nn.url, { timeoutMs: 600 }).create('/f', Buffer.from('x')));
    expect(error).toMatchObject({ code: 'FLUME_HDFS_TIMEOUT', op: 'CREATE' });
  });

  it('a refused connection is FLUME_HDFS_IO (retriable), naming the address', async () => {
    const port = await freePort();
    const error = await refusal(client(`http://127.0.0.1:${port}`).mkdirs('/x'));
    expect(error).toMatchObject({ code: 'FLUME_HDFS_IO', retriable: true, op: 'MKDIRS' });
    expect(error.message).toContain(`ECONNREFUSED talking to 127.0.0.1:${port}`);
  });

  it('malformed answers are FLUME_HDFS_IO, not crashes: non-JSON, a missing field, HTML error pages, no Location', async () => {
    const nn = await server((req, res) => {
      const op = req.url.searchParams.get('op');
      if (op === 'MKDIRS') return json(res, 200, { notBoolean: 1 });
      if (op === 'GETFILESTATUS') {
        res.writeHead(200);
        return res.end('<html>not json</html>');
      }
      if (op === 'LISTSTATUS') {
        res.writeHead(500, { 'content-type': 'text/html' });
        return res.end('<html><body>Server Error</body></html>');
      }
      return json(res, 200, { NoLocation: true });
    });
    const c = client(nn.url);
    expect(await refusal(c.mkdirs('/m'))).toMatchObject({ code: 'FLUME_HDFS_IO' });
    expect(await refusal(c.getFileStatus('/m'))).toMatchObject({ code: 'FLUME_HDFS_IO' });
    // stat() answers undefined only for a missing path; anything else is thrown.
    expect(await refusal(c.stat('/m'))).toMatchObject({ code: 'FLUME_HDFS_IO' });
    const html = await refusal(c.listStatus('/m'));
    expect(html).toMatchObject({ code: 'FLUME_HDFS_IO', status: 500, exception: undefined });
    expect(html.message).toContain('HTTP 500');
    expect(await refusal(c.create('/m/f', Buffer.from('x')))).toMatchObject({ code: 'FLUME_HDFS_IO', op: 'CREATE' });
  });

  it('an answer larger than maxResponseBytes is cut off with FLUME_HDFS_IO', async () => {
    const nn = await server((_req, res) => {
      res.writeHead(200);
      res.end(JSON.stringify({ FileStatuses: { FileStatus: [] } }).padEnd(5000, ' '));
    });
    expect(await client(nn.url, { maxResponseBytes: 6000 }).listStatus('/big')).toEqual([]);
    const error = await refusal(client(nn.url, { maxResponseBytes: 1000 }).listStatus('/big'));
    expect(error).toMatchObject({ code: 'FLUME_HDFS_IO' });
    expect(error.message).toContain('exceeds 1000 bytes');
  });

  it('accepts webhdfs:// and swebhdfs:// URLs; rejects other schemes', () => {
    expect(client('webhdfs://127.0.0.1:9870').url).toBe('http://127.0.0.1:9870');
    expect(client('swebhdfs://127.0.0.1:9871').url).toBe('https://127.0.0.1:9871');
    expect(() => client('hdfs://127.0.0.1:8020')).toThrow(/http\(s\):\/\/, webhdfs:\/\/ or swebhdfs:\/\//);
  });
});
