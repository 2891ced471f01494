import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Subscription } from 'rxjs';
import { ConfigError } from '../../../lib/core/errors.js';
import type { FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { thriftSource } from '../../../lib/sources/thriftSource.js';
import { M, encodeMessage } from '../../../lib/thrift/codec.js';
import { encodeAppend } from '../../../lib/thrift/flumeProtocol.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { listening, recordingSink, waitFor, type RecordingSink } from '../../support/net.js';
import { thrown } from '../../support/thrown.js';
import { rawConnection } from '../thrift/rawThrift.js';

const ev = (body: string, headers: Record<string, string> = {}): FlumeEvent => ({ headers, body: Buffer.from(body) });
const bodies = (events: readonly FlumeEvent[]) => events.map((e) => e.body.toString());

interface Running {
  port: number;
  sink: RecordingSink;
  source: ReturnType<typeof thriftSource>;
  counter(key: string): number;
}

describe('thriftSource', () => {
  const subscriptions: Subscription[] = [];
  const running: Record<'compact' | 'binary' | 'tiny', Running> = {} as never;

  beforeAll(async () => {
    for (const protocol of ['compact', 'binary'] as const) {
      const l = listening();
      const sink = recordingSink();
      const source = thriftSource({ name: `thrift-${protocol}`, bind: '127.0.0.1', port: 0, protocol, maxEventsPerBatch: 50, onListening: l.onListening });
      subscriptions.push(source.pipe(memoryChannel({ capacity: 1000, transactionCapacity: 100 })).subscribe(sink));
      running[protocol] = { port: await l.port, sink, source, counter: (k) => metricsOf(source)!.get(k) };
    }
    // A channel of 2 events whose sink holds what it takes: the third event finds it full.
    const l = listening();
    const sink = recordingSink();
    sink.hold = true;
    const source = thriftSource({ name: 'thrift-tiny', bind: '127.0.0.1', port: 0, onListening: l.onListening });
    subscriptions.push(source.pipe(memoryChannel({ capacity: 2, transactionCapacity: 2, keepAliveMs: 20 })).subscribe(sink));
    running.tiny = { port: await l.port, sink, source, counter: (k) => metricsOf(source)!.get(k) };
  });
  afterAll(() => subscriptions.forEach((s) => s.unsubscribe()));

  for (const protocol of ['compact', 'binary'] as const) {
    it(`${protocol}: append and appendBatch are one batch each, headers and bytes kept, answered OK after the channel took them`, async () => {
      const r = running[protocol];
      const c = await rawConnection(r.port, protocol);
      const batch = [ev('a', { h: '1', 'ключ': 'знач' }), ev('b'), { headers: { bin: 'x' }, body: Buffer.from([0, 255, 128]) }];
      c.send(encodeAppend(protocol, 7, [ev('single', { s: 'y' })], false));
      c.send(encodeAppend(protocol, 8, batch));
      expect(await c.until(2)).toEqual([
        { name: 'append', value: 0 },
        { name: 'appendBatch', value: 0 },
      ]);
      await waitFor(() => r.sink.events.length >= 4, 'the events');
      expect(r.sink.events).toEqual([ev('single', { s: 'y' }), ...batch]);
      expect([r.counter('AppendReceivedCount'), r.counter('AppendAcceptedCount'), r.counter('AppendBatchReceivedCount'), r.counter('AppendBatchAcceptedCount')]).toEqual([1, 1, 1, 1]);
      expect([r.counter('EventReceivedCount'), r.counter('EventAcceptedCount')]).toEqual([4, 4]);
      c.socket.destroy();
    });
  }

  it('answers FAILED when the channel is full (ChannelWriteFail), and OK once it has room', async () => {
    const r = running.tiny;
    const c = await rawConnection(r.port, 'compact');
    c.send(encodeAppend('compact', 1, [ev('1'), ev('2')]));
    expect(await c.until(1)).toEqual([{ name: 'appendBatch', value: 0 }]);
    c.send(encodeAppend('compact', 2, [ev('3')]));
    expect((await c.until(2))[1]).toEqual({ name: 'appendBatch', value: 1 }); // FAILED
    expect(r.counter('ChannelWriteFail')).toBe(1);
    expect(r.counter('EventAcceptedCount')).toBe(2);
    r.sink.release();
    c.send(encodeAppend('compact', 3, [ev('3')]));
    expect((await c.until(3))[2]).toEqual({ name: 'appendBatch', value: 0 });
    await waitFor(() => r.sink.events.length === 3, 'the third event');
    expect(bodies(r.sink.events)).toEqual(['1', '2', '3']);
    c.socket.destroy();
  });

  it('closes a connection sending what is not framed Thrift of its protocol, counts it, and keeps serving', async () => {
    const r = running.compact;
    const before = r.counter('EventReadFail');
    const bad = [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), // unframed: a frame length of 1.2 GB
      Buffer.from([0xff, 0xff, 0xff, 0xf0, 1, 2, 3]), // a negative frame length
      encodeAppend('binary', 1, [ev('x')]), // binary at a compact source
      Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from([0x82, 0x21, 0x01])]), // a frame cut inside the message
    ];
    for (const bytes of bad) {
      const c = await rawConnection(r.port, 'compact');
      c.send(bytes);
      await c.closed;
      expect(c.answers).toEqual([]);
    }
    expect(r.counter('EventReadFail') - before).toBe(bad.length);
    const good = await rawConnection(r.port, 'compact');
    good.send(encodeAppend('compact', 1, [ev('after')]));
    expect(await good.until(1)).toEqual([{ name: 'appendBatch', value: 0 }]);
    good.socket.destroy();
  });

  it('answers an unknown method with a TApplicationException and goes on; more than maxEventsPerBatch gets one and a close', async () => {
    const r = running.binary;
    const before = r.counter('EventReadFail');
    const c = await rawConnection(r.port, 'binary');
    c.send(encodeMessage('binary', 'dropTables', M.CALL, 5, (out) => (out.writeStructBegin('x'), out.writeFieldStop(), out.writeStructEnd())));
    c.send(encodeAppend('binary', 6, [ev('still here')]));
    const answers = await c.until(2);
    expect(answers[0]).toEqual({ name: 'dropTables', value: expect.stringMatching(/type 1\).*no method "dropTables"/) });
    expect(answers[1]).toEqual({ name: 'appendBatch', value: 0 });
    c.send(encodeAppend('binary', 7, Array.from({ length: 51 }, (_, i) => ev(String(i)))));
    await c.closed;
    expect(c.answers[2]).toEqual({ name: 'appendBatch', value: expect.stringMatching(/type 7\).*more than 50 events/) });
    expect(r.counter('EventReadFail') - before).toBe(2);
  });

  it('survives 300 corrupted calls (bytes of a valid one flipped, cut or repeated): each is answered or closes its connection, and the source goes on', async () => {
    const r = running.binary;
    const valid = encodeAppend('binary', 1, [ev('body', { a: '1', b: '2' }), ev('two')]);
    let seed = 17;
    const random = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
    const outcomes = { answered: 0, closed: 0, neither: 0 };
    for (let i = 0; i < 300; i++) {
      const bytes = Buffer.from(valid);
      for (let k = 1 + random(4); k > 0; k--) bytes[4 + random(bytes.length - 4)] = random(256); // past the length: reach the decoder
      const c = await rawConnection(r.port, 'binary');
      c.send(i % 10 === 0 ? bytes.subarray(0, 4 + random(bytes.length - 4)) : bytes);
      if (i % 10 === 0) c.socket.end(); // a cut frame: the client gives up
      const answers = await c.until(1); // returns at an answer, a close, or after 20 s
      const closed = await Promise.race([c.closed.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);
      outcomes[answers.length > 0 ? 'answered' : closed ? 'closed' : 'neither']++;
      c.socket.destroy();
    }
    expect(outcomes.neither).toBe(0);
    expect(outcomes.answered).toBeGreaterThan(0);
    expect(outcomes.closed).toBeGreaterThan(0);
    const good = await rawConnection(r.port, 'binary');
    good.send(encodeAppend('binary', 2, [ev('after the fuzz')]));
    expect(await good.until(1)).toEqual([{ name: 'appendBatch', value: 0 }]);
    good.socket.destroy();
  });

  it('closes the connections holding the most when all together hold more than maxBufferedBytes, and goes on', async () => {
    const l = listening();
    const sink = recordingSink();
    const source = thriftSource({ name: 'thrift-budget', bind: '127.0.0.1', port: 0, maxFrameBytes: 32 * 1024, maxBufferedBytes: 64 * 1024, onListening: l.onListening });
    const sub = source.pipe(memoryChannel({ capacity: 100 })).subscribe(sink);
    try {
      const port = await l.port;
      // Each announces a 30 KiB frame and sends 20 KiB of it: the fourth takes the total past 64 KiB.
      const partial = Buffer.concat([Buffer.from([0, 0, 0x78, 0]), Buffer.alloc(20 * 1024)]);
      const slow = [];
      for (let i = 0; i < 4; i++) {
        const c = await rawConnection(port, 'compact');
        c.send(partial);
        slow.push(c);
        await waitFor(() => metricsOf(source)!.get('OpenConnectionCount') === i + 1 || metricsOf(source)!.get('EventReadFail') > 0, 'the bytes to arrive');
        await new Promise((r) => setTimeout(r, 50));
      }
      await Promise.race(slow.map((c) => c.closed));
      expect(metricsOf(source)!.get('EventReadFail')).toBe(1);
      const good = await rawConnection(port, 'compact');
      good.send(encodeAppend('compact', 1, [ev('small')]));
      expect(await good.until(1)).toEqual([{ name: 'appendBatch', value: 0 }]);
      // Answered calls give their bytes back: 80 KiB more through one connection, one call at a time.
      for (let i = 2; i <= 11; i++) {
        good.send(encodeAppend('compact', i, [ev('x'.repeat(8 * 1024))]));
        expect((await good.until(i)).length).toBe(i);
      }
      expect(good.answers.every((a) => a.value === 0)).toBe(true);
      for (const c of [...slow, good]) c.socket.destroy();
    } finally {
      sub.unsubscribe();
    }
    expect(() => thriftSource({ bind: '127.0.0.1', port: 1, maxFrameBytes: 2048, maxBufferedBytes: 1024 })).toThrow(/thriftSource\.maxBufferedBytes: expected at least maxFrameBytes \(2048\)/);
  });

  it('refuses Kerberos and cipher-suite keys, and an unknown protocol, naming each', () => {
    const error = thrown(() => thriftSource({ bind: '127.0.0.1', port: 1, kerberos: true, agentPrincipal: 'flume/_HOST@R', includeCipherSuites: 'TLS_AES_128_GCM_SHA256' }));
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const key of ['kerberos', 'agentPrincipal', 'includeCipherSuites']) expect(message).toContain(`thriftSource.${key}`);
    expect(message).toMatch(/Kerberos \(SASL GSSAPI\) is not supported/);
    expect(() => thriftSource({ bind: '127.0.0.1', port: 1, protocol: 'json' as 'binary' })).toThrow(/thriftSource\.protocol: expected one of "compact" \| "binary", received "json"/);
  });
});
