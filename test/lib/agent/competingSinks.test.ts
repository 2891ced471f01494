import { describe, expect, it } from 'vitest';
import { createBatch } from '../../../lib/core/batch.js';
import { event } from '../../../lib/core/event.js';
import { competingSinks } from '../../../lib/agent/competingSinks.js';
import { member } from '../sinks/groupSupport.js';

describe('competingSinks', () => {
  it('gives each batch to the member with the fewest unsettled batches, ties in turn; the member settles it', () => {
    const [a, b] = [member('hold'), member('hold')];
    const g = competingSinks([a.sink, b.sink]);
    const acks: number[] = [];
    const send = (i: number) => g.next(createBatch([event(String(i))], { onAck: () => acks.push(i) }));
    send(0);
    send(1);
    a.held[0]!.ack();
    send(2);
    send(3);
    expect([a.got.length, b.got.length]).toEqual([2, 2]);
    expect(acks).toEqual([0]);
    b.held[0]!.ack();
    expect(acks).toEqual([0, 1]);
  });

  it('completes every member and closes once all closed', async () => {
    const [a, b] = [member(), member()];
    const g = competingSinks({ a: a.sink, b: b.sink }, { name: 'g1' });
    g.complete();
    await g.closed;
    expect([a.ended(), b.ended()]).toEqual(['complete', 'complete']);
  });

  it("answers to Flume's default processor and validates its options", () => {
    expect(competingSinks.spec).toMatchObject({ kind: 'sinkProcessor', flumeTypes: ['default', 'org.apache.flume.sink.DefaultSinkProcessor'] });
    expect(() => competingSinks([member().sink], { maxpenalty: 1 } as never)).toThrow(/competingSinks\.maxpenalty/);
    expect(() => competingSinks([])).toThrow(/at least one sink/);
  });
});
