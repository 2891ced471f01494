import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { skipOrFail } from '../../../support/keytool.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Subscription } from 'rxjs';
import { ConfigError, FlumeError } from '../../../../lib/core/errors.js';
import { metricsOf } from '../../../../lib/core/metrics.js';
import { httpSource, type HttpSourceOptions } from '../../../../lib/sources/http/httpSource.js';
import { memoryChannel } from '../../../../operators/channels/memoryChannel.js';
import { client, listening, recordingSink, waitFor } from '../../../support/net.js';

let subscription: Subscription | undefined;

afterEach(() => {
  subscription?.unsubscribe();
  subscription = undefined;
});

function start(options: Partial<HttpSourceOptions> = {}, channel = memoryChannel({ capacity: 1000, transactionCapacity: 100 })) {
  const l = listening();
  const source = httpSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, ...options });
  const sink = recordingSink();
  subscription = source.pipe(channel).subscribe(sink);
  return { sink, port: l.port, counters: metricsOf(source)! };
}

interface Reply {
  status: number;
  body: string;
}

function post(port: number, body: string | Buffer, headers: Record<string, string> = {}, path = '/', tls?: { ca: Buffer; minVersion?: 'TLSv1.2'; maxVersion?: 'TLSv1.2' }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const send = tls ? httpsRequest : httpRequest;
    const req = send(
      { host: '127.0.0.1', port, path, method: 'POST', headers, agent: false, ...(tls ? { ca: tls.ca, servername: 'localhost', minVersion: tls.minVersion, maxVersion: tls.maxVersion } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const json = { 'content-type': 'application/json' };

/**
 * Sends the start of a chunked request and never ends it: the answer can only come from what the
 * source read so far. Rejects when none comes within `ms`.
 */
function partialPost(port: number, start: string, headers: Record<string, string> = json, ms = 5000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() });
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer within ${ms} ms to a request not yet ended`));
    }, ms);
    req.on('error', () => undefined);
    req.write(start);
  });
}

describe('httpSource', () => {
  it('puts a JSON request as one batch and answers 200 once stored', async () => {
    const { sink, port, counters } = start();
    const p = await port;
    const reply = await post(p, JSON.stringify([{ headers: { a: '1', n: 2 }, body: 'héllo' }, { body: null }, {}]), json);
    expect(reply.status).toBe(200);
    await waitFor(() => sink.events.length === 3, 'events');
    expect(sink.events[0]!.headers).toEqual({ a: '1', n: '2' });
    expect(sink.events[0]!.body.toString()).toBe('héllo');
    expect(sink.events[1]!.body.length).toBe(0);
    expect(counters.get('AppendBatchAcceptedCount')).toBe(1);
    expect(counters.get('EventAcceptedCount')).toBe(3);
    expect((await post(p, '[]', json)).status).toBe(200);
  });

  it('decodes UTF-16 and UTF-32 requests and encodes bodies as Java does', async () => {
    const { sink, port } = start();
    const p = await port;
    const text = JSON.stringify([{ headers: { k: 'v' }, body: 'a€' }]);
    const utf16be = Buffer.from(text, 'utf16le').swap16();
    expect((await post(p, utf16be, { 'content-type': 'application/json; charset=UTF-16' })).status).toBe(200);
    const utf32 = Buffer.alloc(text.length * 4);
    [...text].forEach((ch, i) => utf32.writeUInt32BE(ch.codePointAt(0)!, i * 4));
    expect((await post(p, utf32, { 'content-type': 'application/json;charset="utf-32"' })).status).toBe(200);
    await waitFor(() => sink.events.length === 2, 'events');
    expect([...sink.events[0]!.body]).toEqual([0xfe, 0xff, 0x00, 0x61, 0x20, 0xac]);
    expect([...sink.events[1]!.body]).toEqual([0, 0, 0, 0x61, 0, 0, 0x20, 0xac]);
    expect(sink.events[1]!.headers).toEqual({ k: 'v' });
    const bad = await post(p, text, { 'content-type': 'application/json; charset=ISO-8859-1' });
    expect(bad.status).toBe(500);
  });

  it('answers 400 for malformed bodies and puts nothing of them', async () => {
    const { sink, port, counters } = start();
    const p = await port;
    for (const body of ['{', '{"headers":{},"body":"x"}', '[1]', '[{"body":"ok"},{"body":[5]}]', '[{"headers":{"a":{}}}]', '[{"headers":["a"]}]']) {
      const reply = await post(p, body, json);
      expect(reply.status, body).toBe(400);
    }
    expect(counters.get('EventReadFail')).toBe(6);
    expect(counters.get('EventReceivedCount')).toBe(0);
    expect((await post(p, '[{"body":"after"}]', json)).status).toBe(200);
    await waitFor(() => sink.events.length === 1, 'event');
    expect(sink.events[0]!.body.toString()).toBe('after');
  });

  it('answers 413 over maxBodyBytes, declared or streamed', async () => {
    const { sink, port, counters } = start({ maxBodyBytes: 100 });
    const p = await port;
    const big = JSON.stringify([{ body: 'x'.repeat(200) }]);
    expect((await post(p, big, json)).status).toBe(413);
    // Chunked: no content-length, the limit is hit while reading.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: p, method: 'POST', headers: json, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.write(big.slice(0, 60));
      req.end(big.slice(60));
    });
    expect(chunked).toBe(413);
    expect(counters.get('EventReadFail')).toBe(2);
    expect((await post(p, '[{"body":"small"}]', json)).status).toBe(200);
    await waitFor(() => sink.events.length === 1, 'event');
  });

  it('makes the whole body one event with the BLOB handler', async () => {
    const { sink, port } = start({ handler: 'BLOB' });
    const p = await port;
    const bytes = Buffer.from([0, 1, 2, 255, 10, 13]);
    expect((await post(p, bytes, { 'content-type': 'application/octet-stream' }, '/x?host=h1&n=2&n=3')).status).toBe(200);
    await waitFor(() => sink.events.length === 1, 'event');
    expect([...sink.events[0]!.body]).toEqual([...bytes]);
    expect(sink.events[0]!.headers).toEqual({ host: 'h1', n: '2' });
  });

  it("answers 500 where Flume's JSONHandler fails on a null: no value, null, a null event; nothing is put", async () => {
    const { sink, port, counters } = start();
    const p = await port;
    const replies = [];
    for (const body of ['', ' \r\n\t', 'null', ' null ', '[{"body":"a"},null]']) replies.push(await post(p, body, json));
    expect(replies.map((r) => r.status)).toEqual([500, 500, 500, 500, 500]);
    expect(replies[4]!.body).toBe('Deserializer threw unexpected exception. Event 1 is null.\n');
    expect(replies[0]!.body).toBe('Deserializer threw unexpected exception. The request body holds no JSON value (Flume: a null event list).\n');
    expect((await post(p, 'nul', json)).status).toBe(400);
    expect((await post(p, '[null,[]]', json)).status).toBe(400);
    expect((await post(p, '[{"body":"b"}]', json)).status).toBe(200);
    await waitFor(() => sink.events.length === 1, 'event');
    expect(sink.events[0]!.body.toString()).toBe('b');
    expect(counters.get('EventReadFail')).toBe(7);
  });

  it('takes a null header value, as Flume does, and drops that header', async () => {
    const { sink, port } = start();
    const p = await port;
    expect((await post(p, '[{"headers":{"a":null,"b":"2","__proto__":null},"body":"nh"}]', json)).status).toBe(200);
    await waitFor(() => sink.events.length === 1, 'event');
    expect(sink.events[0]!.headers).toEqual({ b: '2' });
    expect(Object.keys(sink.events[0]!.headers)).toEqual(['b']);
  });

  it("answers 500 to a BLOB request without one of mandatoryParameters (Flume BLOBHandler) and puts nothing", async () => {
    const { sink, port, counters } = start({ handler: 'BLOB', mandatoryParameters: ['host', 'n'] });
    const p = await port;
    const missing = await post(p, 'x', {}, '/?host=h1');
    expect(missing).toEqual({ status: 500, body: 'Deserializer threw unexpected exception. Please specify n parameter in the request.\n' });
    expect((await post(p, 'y', {}, '/?n=1&host=h1&n=2')).status).toBe(200);
    await waitFor(() => sink.events.length === 1, 'event');
    expect(sink.events.map((e) => [e.headers, e.body.toString()])).toEqual([[{ n: '1', host: 'h1' }, 'y']]);
    expect(counters.get('EventReadFail')).toBe(1);
    // Flume's default ("" split on ",") asks for a parameter with an empty name.
    subscription?.unsubscribe();
    const flumeDefault = start({ handler: 'BLOB', mandatoryParameters: [''] });
    expect((await post(await flumeDefault.port, 'z', {}, '/?a=1')).status).toBe(500);
  });

  it('answers 503 when the channel is full; the retry succeeds later and nothing is lost', async () => {
    const { sink, port, counters } = start({}, memoryChannel({ capacity: 2, transactionCapacity: 2, keepAliveMs: 50 }));
    sink.hold = true;
    const p = await port;
    expect((await post(p, '[{"body":"a"},{"body":"b"}]', json)).status).toBe(200);
    const full = await post(p, '[{"body":"c"}]', json);
    expect(full.status).toBe(503);
    expect(full.body).toMatch(/Channel might be full/);
    expect(counters.get('ChannelWriteFail')).toBe(1);
    sink.release();
    await waitFor(() => sink.events.length === 2, 'drained');
    expect((await post(p, '[{"body":"c"}]', json)).status).toBe(200);
    await waitFor(() => sink.events.length === 3, 'all');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['a', 'b', 'c']);
  });

  it('answers 503 for a request larger than the channel transaction, as Flume answers a ChannelException', async () => {
    const { port, counters } = start({}, memoryChannel({ capacity: 10, transactionCapacity: 2 }));
    const reply = await post(await port, '[{"body":"a"},{"body":"b"},{"body":"c"}]', json);
    expect(reply.status).toBe(503);
    expect(reply.body).toMatch(/transactionCapacity/);
    expect(counters.get('ChannelWriteFail')).toBe(1);
    expect(counters.get('GenericProcessingFail') ?? 0).toBe(0);
  });

  it('answers 503 while still reading a request with more events than maxEventsPerRequest, and puts nothing of it', async () => {
    const { sink, port, counters } = start({ maxEventsPerRequest: 3 });
    const p = await port;
    expect((await post(p, '[{"body":"a"},{},{"body":"c"}]', json)).status).toBe(200);
    const early = await partialPost(p, '[{"body":"x"},{},{"headers":{"h":"1"}},{"body":"too many"},');
    expect(early.status).toBe(503);
    expect(early.body).toMatch(/Channel might be full.*more than 3 events/s);
    expect(counters.get('ChannelWriteFail')).toBe(1);
    expect((await post(p, '[{"body":"d"}]', json)).status).toBe(200);
    await waitFor(() => sink.events.length === 4, 'events');
    expect(sink.events.map((e) => e.body.toString())).toEqual(['a', '', 'c', 'd']);
    expect(counters.get('EventReceivedCount')).toBe(4);
  });

  it('answers 413 while still reading a request whose events carry more fields than maxFieldsPerRequest', async () => {
    // An event counts one field per member (headers, body, ignored ones) and one per header.
    const { sink, port, counters } = start({ maxFieldsPerRequest: 4 });
    const p = await port;
    expect((await post(p, '[{"headers":{"a":"1","b":2},"body":"x"}]', json)).status).toBe(200);
    const early = await partialPost(p, '[{"headers":{"a":"1","b":"2","c":"3","d":"4"');
    expect(early.status).toBe(413);
    expect(early.body).toMatch(/more than 4 fields/);
    // Values nested in fields Flume ignores count too.
    expect((await partialPost(p, '[{"ignored":[1,2,3,4,5')).status).toBe(413);
    expect(counters.get('EventReadFail')).toBe(2);
    expect((await post(p, '[{}]', json)).status).toBe(200);
    await waitFor(() => sink.events.length === 2, 'events');
  });

  it('answers 400 while still reading a body that cannot be an array of event objects', async () => {
    const { port, counters } = start();
    const p = await port;
    for (const start of ['{"headers":', '[1,', '[{}, [', '[{}]]', '[{} {', `${'['.repeat(2)}`, '[{"body":"a"}] // Gson reads past the array strictly']) {
      const reply = await partialPost(p, start);
      expect(reply.status, start).toBe(400);
    }
    expect(counters.get('EventReadFail')).toBe(7);
    expect((await post(p, '[{"x":[[{"y":[]}]],"body":"nested ignored fields are fine"}]', json)).status).toBe(200);
  });

  it('answers 503 to a request that would pass maxBufferedBytes held for other requests, and serves again once they are answered', async () => {
    const { sink, port, counters } = start({ maxBufferedBytes: 100 });
    const p = await port;
    // A request under way holds 80 bytes.
    const slow = httpRequest({ host: '127.0.0.1', port: p, method: 'POST', headers: json, agent: false });
    const slowReply = new Promise<number>((resolve) => slow.on('response', (res) => (res.resume(), resolve(res.statusCode!))));
    slow.on('error', () => undefined);
    slow.write(`[{"body":"${'s'.repeat(66)}"}`);
    await waitFor(() => counters.get('OpenConnectionCount') === 1, 'slow request read');
    await new Promise((r) => setTimeout(r, 100));
    const busy = await post(p, `[{"body":"${'b'.repeat(40)}"}]`, json);
    expect(busy.status).toBe(503);
    expect(busy.body).toMatch(/maxBufferedBytes/);
    slow.end(']');
    expect(await slowReply).toBe(200);
    expect((await post(p, `[{"body":"${'b'.repeat(40)}"}]`, json)).status).toBe(200);
    // One request alone may always be as large as maxBodyBytes.
    expect((await post(p, `[{"body":"${'c'.repeat(500)}"}]`, json)).status).toBe(200);
    await waitFor(() => sink.events.length === 3, 'events');
  });

  it('refuses connections past maxConnections and serves again when one closes', async () => {
    const { port, counters } = start({ maxConnections: 2 });
    const p = await port;
    const open = await Promise.all([0, 1].map(() => client(p)));
    await waitFor(() => counters.get('OpenConnectionCount') === 2, 'two connections');
    const third = await client(p);
    await third.closed;
    expect(third.received()).toBe('');
    open[0]!.socket.destroy();
    await waitFor(() => counters.get('OpenConnectionCount') === 1, 'one closed');
    expect((await post(p, '[]', json)).status).toBe(200);
    open[1]!.socket.destroy();
  });

  /** Starts a source, opens a connection, lets `behave` drive it; resolves true once the server closed it (false after 10 s). */
  async function closedByServer(options: Partial<HttpSourceOptions>, behave: (write: (text: string) => void) => (() => void) | void): Promise<boolean> {
    const { port, counters } = start(options);
    const p = await port;
    const c = await client(p);
    const stop = behave((text) => c.socket.write(text));
    const closed = await Promise.race([c.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
    stop?.();
    c.socket.destroy();
    await waitFor(() => counters.get('OpenConnectionCount') === 0, 'server side closed');
    expect((await post(p, '[]', json)).status).toBe(200);
    return closed;
  }

  it('closes a connection whose headers trickle past headersTimeoutMs', async () => {
    const closed = await closedByServer({ headersTimeoutMs: 300, requestTimeoutMs: 60_000, idleTimeoutMs: 60_000 }, (write) => {
      write('POST / HTTP/1.1\r\nHost: x\r\n');
      const timer = setInterval(() => write('X-a: 1\r\n'), 50);
      return () => clearInterval(timer);
    });
    expect(closed).toBe(true);
  });

  it('closes a connection whose body trickles past requestTimeoutMs', async () => {
    const closed = await closedByServer({ headersTimeoutMs: 300, requestTimeoutMs: 800, idleTimeoutMs: 60_000 }, (write) => {
      write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[');
      const timer = setInterval(() => write('{},'), 50);
      return () => clearInterval(timer);
    });
    expect(closed).toBe(true);
  });

  it('closes a connection silent past idleTimeoutMs', async () => {
    const closed = await closedByServer({ headersTimeoutMs: 60_000, requestTimeoutMs: 120_000, idleTimeoutMs: 300 }, (write) => {
      write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{}');
    });
    expect(closed).toBe(true);
  });

  it('answers 405 for other methods and 400 for garbage, and keeps serving', async () => {
    const { port } = start();
    const p = await port;
    const status = await new Promise<number>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: p, method: 'GET', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(405);
    const garbage = await new Promise<string>((resolve) => {
      const s = connect(p, '127.0.0.1', () => s.write('\x00\x01 not http at all\r\n\r\n'));
      let got = '';
      s.on('data', (c: Buffer) => (got += c.toString()));
      s.on('close', () => resolve(got));
      s.on('error', () => undefined);
    });
    expect(garbage).toMatch(/^HTTP\/1.1 400/);
    expect((await post(p, '[]', json)).status).toBe(200);
  });

  it('property: any array of string events round-trips through the JSON handler', async () => {
    const { sink, port } = start();
    const p = await port;
    const arbEvent = fc.record({ headers: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 4 }), body: fc.string({ maxLength: 50 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(arbEvent, { maxLength: 10 }), async (events) => {
        const before = sink.events.length;
        const reply = await post(p, JSON.stringify(events), json);
        expect(reply.status).toBe(200);
        await waitFor(() => sink.events.length === before + events.length, 'events');
        const got = sink.events.slice(before);
        expect(got.map((e) => ({ headers: { ...e.headers }, body: e.body.toString() }))).toEqual(
          events.map((e) => ({ headers: { ...e.headers }, body: Buffer.from(e.body).toString() })),
        );
      }),
      { numRuns: 40 },
    );
  });

  it('property: arbitrary bytes are answered 200 or 400 (500 when no value: Flume\'s null list) and the server keeps serving', async () => {
    const { port } = start();
    const p = await port;
    // Counterexamples found by CI: a lone comment is no value, as Gson reads it.
    for (const text of ['#', '// x', '/* */ \n']) expect((await post(p, text, json)).status, text).toBe(500);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        const reply = await post(p, Buffer.from(bytes), json);
        // Nothing but whitespace and comments (Gson's lenient reader skips #…, //… and /*…*/) is no value.
        const empty = /^(?:[ \t\n\r]+|#[^\n\r]*|\/\/[^\n\r]*|\/\*[\s\S]*?\*\/)*$/.test(Buffer.from(bytes).toString('utf8'));
        expect(empty ? [500] : [200, 400]).toContain(reply.status);
      }),
      { numRuns: 40 },
    );
    expect((await post(p, '[]', json)).status).toBe(200);
  });

  it('closes the server and its connections on unsubscribe', async () => {
    const { port } = start();
    const p = await port;
    subscription!.unsubscribe();
    await expect(post(p, '[]', json)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('validates options: ssl needs PEM files or a keystore; keystore keys without ssl are ignored, as Flume', () => {
    expect(() => httpSource({ port: 1, keystore: '/x.jks', keystorePassword: 'p' })).not.toThrow();
    expect(() => httpSource({ port: 1, ssl: true })).toThrow(/httpSource.sslKeyFile: expected a PEM file path when ssl is true \(or give keystore\)/);
    expect(() => httpSource({ port: 1, ssl: true, keystore: '/x.p12', keystoreType: 'BKS' })).toThrow(/httpSource.keystoreType: expected JKS or PKCS12/);
    expect(() => httpSource({ port: 1, ssl: true, keystore: '/x.p12', sslKeyFile: 'k' })).toThrow(/sslKeyFile: expected unset when keystore is given/);
    expect(() => httpSource({ port: 1, ssl: true, sslKeyFile: 'k', sslCertFile: 'c', excludeProtocols: ['TLSv1.2'] })).toThrow(/excludeProtocols/);
    expect(() => httpSource({ port: 1, handler: 'XML' as 'JSON' })).toThrow(/handler/);
    const handler = httpSource.spec.flumeKeys!['handler'] as { convert: (v: string) => unknown };
    expect(handler.convert('org.apache.flume.source.http.JSONHandler')).toBe('JSON');
    expect(() => httpSource({ port: 1, headersTimeoutMs: 2000, requestTimeoutMs: 1000 })).toThrow(/httpSource.requestTimeoutMs: expected at least headersTimeoutMs \(2000\)/);
    // Jetty's idle timeout is the one Jetty key with a meaning here; the others are named and ignored.
    expect(httpSource.spec.flumeKeys!['ServerConnector.idleTimeout']).toBe('idleTimeoutMs');
    const mapped = httpSource.spec.fromFlume!(new Map([['ServerConnector.idleTimeout', '5000'], ['QueuedThreadPool.maxThreads', '10']]));
    expect(mapped.consumed).toEqual(['QueuedThreadPool.maxThreads']);
  });

  it("maps Flume's core BLOBHandler and its mandatoryParameters (Java's split, \"\" by default)", () => {
    const core = 'org.apache.flume.source.http.BLOBHandler';
    expect(httpSource.spec.flumeKeys!['handler']).toMatchObject({ option: 'handler' });
    const convert = (httpSource.spec.flumeKeys!['handler'] as { convert: (v: string) => unknown }).convert;
    expect(convert(core)).toBe('BLOB');
    expect(convert('org.apache.flume.sink.solr.morphline.BlobHandler')).toBe('BLOB');
    const map = (props: [string, string][]) => httpSource.spec.fromFlume!(new Map(props));
    expect(map([['handler', core]])).toMatchObject({ options: { mandatoryParameters: [''] }, consumed: ['handler.mandatoryParameters'], problems: [] });
    expect(map([['handler', core], ['handler.mandatoryParameters', 'a,,b,']]).options).toEqual({ mandatoryParameters: ['a', '', 'b'] });
    // The morphline BlobHandler has no such key: named and ignored.
    const morphline = map([['handler', 'org.apache.flume.sink.solr.morphline.BlobHandler'], ['handler.mandatoryParameters', 'a']]);
    expect(morphline.options).toEqual({});
    expect(morphline.problems!.map((p) => p.key)).toEqual(['handler.mandatoryParameters']);
  });
});

describe('httpSource over TLS', () => {
  let dir: string;
  let ca: Buffer | undefined;
  let why = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rxflume-http-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'pipe' });
      ca = execFileSync('cat', [join(dir, 'cert.pem')]);
    } catch (error) {
      why = `openssl could not make a self-signed certificate: ${(error as Error).message}`;
    }
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves HTTPS with PEM files and honours excludeProtocols', async (ctx) => {
    if (!ca) skipOrFail(ctx, why);
    const { sink, port } = start({ ssl: true, sslKeyFile: join(dir, 'key.pem'), sslCertFile: join(dir, 'cert.pem'), excludeProtocols: ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2'] });
    const p = await port;
    expect((await post(p, '[{"body":"secure"}]', json, '/', { ca: ca! })).status).toBe(200);
    await waitFor(() => sink.events.length === 1, 'event');
    expect(sink.events[0]!.body.toString()).toBe('secure');
    // TLS 1.2 is excluded: the handshake fails.
    await expect(post(p, '[]', json, '/', { ca: ca!, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' })).rejects.toThrow();
  });

  it("serves HTTPS from Flume's keystore when keytool wrote it as PKCS#12, and names a JKS one with the conversion", async (ctx) => {
    const keytool = (args: string[]) => execFileSync('keytool', args, { stdio: 'pipe' });
    try {
      keytool(['-genkeypair', '-alias', 'server', '-keyalg', 'RSA', '-keysize', '2048', '-dname', 'CN=localhost', '-ext', 'SAN=dns:localhost', '-validity', '1',
        '-keystore', join(dir, 'server.p12'), '-storetype', 'PKCS12', '-storepass', 'changeit', '-keypass', 'changeit']);
      keytool(['-exportcert', '-rfc', '-alias', 'server', '-keystore', join(dir, 'server.p12'), '-storepass', 'changeit', '-file', join(dir, 'server.pem')]);
      keytool(['-genkeypair', '-alias', 'server', '-keyalg', 'RSA', '-keysize', '2048', '-dname', 'CN=localhost', '-validity', '1',
        '-keystore', join(dir, 'server.jks'), '-storetype', 'JKS', '-storepass', 'changeit', '-keypass', 'changeit']);
    } catch (error) {
      skipOrFail(ctx, `keytool (JDK) could not make keystores: ${(error as Error).message}`);
    }
    const serverCa = execFileSync('cat', [join(dir, 'server.pem')]);
    // The file is named like Flume's examples and typed JKS (Flume's default): Java reads PKCS#12 under that type too.
    const { sink, port } = start({ ssl: true, keystore: join(dir, 'server.p12'), keystorePassword: 'changeit', keystoreType: 'JKS' });
    const p = await port;
    expect((await post(p, '[{"body":"from a keystore"}]', json, '/', { ca: serverCa })).status).toBe(200);
    await waitFor(() => sink.events.length === 1, 'event');
    subscription!.unsubscribe();

    // Read when the source is built: a wrong password or a JKS file is a configuration error naming the option.
    expect(() => httpSource({ bind: '127.0.0.1', port: 0, ssl: true, keystore: join(dir, 'server.p12'), keystorePassword: 'nope' })).toThrow(
      /^httpSource\.keystorePassword: expected the keystore's password, received mac verify failure/,
    );
    expect(() => httpSource({ bind: '127.0.0.1', port: 0, ssl: true, keystore: join(dir, 'server.jks'), keystorePassword: 'changeit' })).toThrow(
      /^httpSource\.keystore: expected a readable PKCS#12 keystore, or PEM key and certificate files, received keystore .*server\.jks is a JKS file.*keytool -importkeystore -srckeystore .*server\.jks .*-deststoretype PKCS12/,
    );
  });

  it('a missing key file is a ConfigError when the source is built, naming the option and the file', () => {
    const build = () => httpSource({ bind: '127.0.0.1', port: 0, ssl: true, sslKeyFile: join(dir, 'missing.pem'), sslCertFile: join(dir, 'cert.pem') });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/^httpSource\.sslKeyFile: expected .* received cannot read the TLS key .*missing\.pem: ENOENT/);
  });
});
