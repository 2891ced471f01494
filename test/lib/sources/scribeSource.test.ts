import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Subscription } from 'rxjs';
import { metricsOf } from '../../../lib/core/metrics.js';
import { scribeSource, scribeSourceSpec } from '../../../lib/sources/scribeSource.js';
import { encodeLog } from '../../../lib/thrift/scribeProtocol.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { listening, recordingSink, waitFor, type RecordingSink } from '../../support/net.js';
import { rawConnection } from '../thrift/rawThrift.js';
import { scribeClient } from '../thrift/scribeClient.js';

describe('scribeSource', () => {
  const subscriptions: Subscription[] = [];
  let port = 0;
  let sink: RecordingSink;
  let source: ReturnType<typeof scribeSource>;
  const counter = (key: string) => metricsOf(source)!.get(key);

  beforeAll(async () => {
    const l = listening();
    sink = recordingSink();
    source = scribeSource({ bind: '127.0.0.1', port: 0, maxReadBufferBytes: 4096, onListening: l.onListening });
    // 4 events at most: the sink holds batches while `hold` is set, so the channel fills.
    subscriptions.push(source.pipe(memoryChannel({ capacity: 4, transactionCapacity: 4, keepAliveMs: 20 })).subscribe(sink));
    port = await l.port;
  });
  afterAll(() => subscriptions.forEach((s) => s.unsubscribe()));

  it("maps a generated Scribe client's Log(messages) to one batch: message bytes as body, category header when set", async () => {
    const { client, close } = await scribeClient(port);
    const entries = [
      { category: 'web', message: Buffer.from('GET /index.html 200') },
      { category: 'db', message: Buffer.from('запрос выполнен') },
      { message: Buffer.from([0, 1, 254, 255]) },
    ];
    expect(await client.Log(entries)).toBe(0); // OK
    expect(await client.Log([])).toBe(0); // an empty list is OK, as Flume
    close();
    await waitFor(() => sink.events.length === 3, 'three events');
    expect(sink.events).toEqual([
      { headers: { category: 'web' }, body: Buffer.from('GET /index.html 200') },
      { headers: { category: 'db' }, body: Buffer.from('запрос выполнен') },
      { headers: {}, body: Buffer.from([0, 1, 254, 255]) },
    ]);
    expect([counter('AppendBatchReceivedCount'), counter('AppendBatchAcceptedCount'), counter('EventReceivedCount'), counter('EventAcceptedCount')]).toEqual([2, 1, 3, 3]);
  });

  it('answers TRY_LATER when the channel is full or an entry has no message, and OK once there is room', async () => {
    sink.hold = true;
    const { client, close } = await scribeClient(port);
    const entry = (m: string) => ({ category: 'c', message: Buffer.from(m) });
    expect(await client.Log([entry('1'), entry('2'), entry('3'), entry('4')])).toBe(0);
    await waitFor(() => sink.held.length === 1, 'the sink to hold the batch');
    expect(await client.Log([entry('5')])).toBe(1); // TRY_LATER: the channel holds 4 of 4
    expect(counter('ChannelWriteFail')).toBe(1);
    expect(await client.Log([entry('6'), { category: 'no message' }])).toBe(1);
    sink.release();
    expect(await client.Log([entry('5')])).toBe(0);
    close();
    await waitFor(() => sink.events.length === 8, 'the events after release');
    expect(sink.events.slice(3).map((e) => e.body.toString())).toEqual(['1', '2', '3', '4', '5']);
  });

  it('closes a connection whose frame is larger than maxReadBufferBytes or not binary Thrift, counts it, and goes on', async () => {
    const before = counter('EventReadFail');
    for (const bytes of [encodeLog('binary', 1, [{ message: Buffer.alloc(5000) }]), encodeLog('compact', 1, [{ message: Buffer.from('x') }])]) {
      const c = await rawConnection(port, 'binary', () => 'Log_result');
      c.send(bytes);
      await c.closed;
      expect(c.answers).toEqual([]);
    }
    expect(counter('EventReadFail') - before).toBe(2);
    const ok = await rawConnection(port, 'binary', () => 'Log_result');
    ok.send(encodeLog('binary', 9, [{ category: 'after', message: Buffer.from('ok') }]));
    expect(await ok.until(1)).toEqual([{ name: 'Log', value: 0 }]);
    ok.socket.destroy();
  });

  it("takes Flume's keys: port and maxReadBufferBytes ≤ 0 give Flume's defaults", () => {
    const keys = scribeSourceSpec.flumeKeys as Record<string, { convert(v: string): unknown }>;
    expect([keys['port']!.convert('0'), keys['port']!.convert('1463'), keys['maxReadBufferBytes']!.convert('-1')]).toEqual([1499, 1463, 16_384_000]);
  });
});
