import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingMessage } from 'node:http';
import type { Subscription } from 'rxjs';
import { z } from 'zod';
import { ConfigError } from '../../../../lib/core/errors.js';
import { metricsOf } from '../../../../lib/core/metrics.js';
import {
  blobEvent,
  blobHandler,
  charsetOf,
  defineHttpHandler,
  flumeHandlerName,
  isHttpHandlerDefinition,
  jsonHandler,
  type HttpHandler,
} from '../../../../lib/sources/http/handlers.js';
import { httpSource } from '../../../../lib/sources/http/httpSource.js';
import { memoryChannel } from '../../../../operators/channels/memoryChannel.js';
import { listening, recordingSink, waitFor } from '../../../support/net.js';

describe("Flume's HTTP handlers", () => {
  it("reads the JSON handler's charset from Content-Type, UTF-8 when absent; refuses others", () => {
    expect(charsetOf(undefined)).toBe('UTF-8');
    expect(charsetOf('application/json; charset="utf-16"')).toBe('UTF-16');
    expect(charsetOf('application/json;charset=UTF-32')).toBe('UTF-32');
    expect(() => charsetOf('application/json; charset=ISO-8859-1')).toThrow(/JSON handler supports UTF-8, UTF-16 and UTF-32 only \(the request's charset is ISO-8859-1\)/);
  });

  it("makes the blob handler's one event of the whole body, the first value of each query parameter a header", () => {
    const e = blobEvent({ url: '/x?a=1&b=two&a=3' } as IncomingMessage, Buffer.from('raw'));
    expect(e).toEqual({ headers: { a: '1', b: 'two' }, body: Buffer.from('raw') });
  });

  it('are made with defineHttpHandler, found by their Flume names (any case, class names too)', () => {
    expect([jsonHandler, blobHandler].every(isHttpHandlerDefinition)).toBe(true);
    expect(['json', 'JSONHandler', 'org.apache.flume.source.http.JSONHandler'].map(flumeHandlerName)).toEqual(['JSON', 'JSON', 'JSON']);
    expect(['blob', 'org.apache.flume.source.http.BLOBHandler', 'org.apache.flume.sink.solr.morphline.BlobHandler'].map(flumeHandlerName)).toEqual(['BLOB', 'BLOB', 'BLOB']);
    expect(flumeHandlerName('org.example.Mine')).toBe('org.example.Mine');
    expect(isHttpHandlerDefinition({ kind: 'httpHandler', name: 'x', schema: {}, create: () => undefined })).toBe(false);
  });

  it("words the JSON reader's 400 as Flume's JSONHandler, and refuses a missing BLOB parameter before the body", () => {
    const request = (url: string, contentType?: string) => ({ url, headers: contentType ? { 'content-type': contentType } : {} }) as IncomingMessage;
    const json = jsonHandler.create({ maxEventsPerRequest: 10, maxFieldsPerRequest: 100 }).read(request('/'));
    expect('end' in json && (json.feed?.(Buffer.from('[{"body": 1}')) ?? json.end(Buffer.alloc(0)))).toEqual({ status: 400, message: expect.stringMatching(/^Request has invalid JSON Syntax: /) });
    expect(() => jsonHandler.create({ maxEventsPerRequest: 10, maxFieldsPerRequest: 100 }).read(request('/', 'text/plain; charset=latin1'))).toThrow(/UTF-8, UTF-16 and UTF-32 only/);
    expect(blobHandler.create({ mandatoryParameters: ['host'] }).read(request('/?a=1'))).toEqual({ status: 500, message: 'Please specify host parameter in the request.' });
  });
});

describe('httpSource with a handler made with defineHttpHandler', () => {
  let subscription: Subscription | undefined;
  afterEach(() => {
    subscription?.unsubscribe();
    subscription = undefined;
  });

  /** A handler whose reader is `reader`; its one option, `tag`, is set as a header of each event. */
  const custom = (reader: (tag: string) => ReturnType<HttpHandler['read']>) =>
    defineHttpHandler({
      name: 'custom',
      schema: z.strictObject({ tag: z.string().min(1).default('t') }),
      create: ({ tag }) => ({ read: () => reader(tag) }),
    });

  function start(handler: ReturnType<typeof custom>, handlerOptions: Record<string, unknown> = {}) {
    const l = listening();
    const source = httpSource({ bind: '127.0.0.1', port: 0, onListening: l.onListening, handler, handlerOptions, maxBodyBytes: 64 });
    const sink = recordingSink();
    subscription = source.pipe(memoryChannel({ capacity: 100, transactionCapacity: 10 })).subscribe(sink);
    return { sink, port: l.port, counters: metricsOf(source)! };
  }

  const post = async (port: number, body: string) => {
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body });
    return { status: res.status, text: await res.text() };
  };

  it('puts the events it returns for the whole body, with its options', async () => {
    const { sink, port } = start(
      custom((tag) => ({ end: (body) => body.toString().split(' ').map((w) => ({ headers: { tag }, body: Buffer.from(w) })) })),
      { tag: 'words' },
    );
    expect(await post(await port, 'a b c')).toEqual({ status: 200, text: '' });
    // 200 once the channel stored them; the sink takes them after.
    await waitFor(() => sink.events.length === 3, 'three events at the sink');
    expect(sink.events.map((e) => [e.headers['tag'], e.body.toString()])).toEqual([
      ['words', 'a'],
      ['words', 'b'],
      ['words', 'c'],
    ]);
  });

  it('answers its refusals as Flume does, what it throws and malformed events 500, a body past maxBodyBytes 413; nothing is put', async () => {
    let next: () => ReturnType<HttpHandler['read']> = () => ({ status: 400, message: 'no' });
    const { sink, port, counters } = start(custom(() => next()));
    const p = await port;
    expect(await post(p, 'x')).toEqual({ status: 400, text: 'Bad request from client. no\n' });
    next = () => ({ feed: () => ({ status: 503, message: 'later' }), end: () => [] });
    expect(await post(p, 'x')).toEqual({ status: 503, text: expect.stringMatching(/^Error appending event to channel\. .* later\n$/) });
    next = () => {
      throw new Error('boom');
    };
    expect(await post(p, 'x')).toEqual({ status: 500, text: 'Deserializer threw unexpected exception. boom\n' });
    next = () => ({
      end: () => {
        throw new Error('late boom');
      },
    });
    expect(await post(p, 'x')).toEqual({ status: 500, text: 'Deserializer threw unexpected exception. late boom\n' });
    next = () => ({ end: (body) => [{ headers: {}, body }, { headers: { n: 1 }, body } as never] });
    expect(await post(p, 'x')).toEqual({ status: 500, text: expect.stringMatching(/handler custom returned event 1, which is not \{ headers/) });
    next = () => ({ end: (body) => [{ headers: {}, body }] });
    expect((await post(p, 'x'.repeat(65))).status).toBe(413);
    expect(sink.events).toEqual([]);
    // Flume counts a handler's refusal or late failure as a read failure, the channel's as a write failure.
    expect([counters.get('EventReadFail'), counters.get('ChannelWriteFail'), counters.get('GenericProcessingFail')]).toEqual([3, 1, 2]);
  });

  it("validates its options with the handler's schema when the source is built", () => {
    const handler = custom(() => ({ end: () => [] }));
    expect(() => httpSource({ port: 0, handler, handlerOptions: { tag: '' } })).toThrow(ConfigError);
    expect(() => httpSource({ port: 0, handler, handlerOptions: { tag: '' } })).toThrow(/custom\.tag: expected length of ≥ 1, received ""/);
    expect(() => httpSource({ port: 0, handler, handlerOptions: { tags: 'x' } })).toThrow(/custom\.tags: expected a known option \(tag\)/);
  });
});
