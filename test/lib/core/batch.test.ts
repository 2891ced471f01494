import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createBatch, createDeferredBatch, deferEvents, deriveBatch } from '../../../lib/core/batch.js';
import { TransactionError } from '../../../lib/core/errors.js';
import { event, text, toBuffer } from '../../../lib/core/event.js';

describe('event', () => {
  it('keeps bodies as bytes and reads text as a view', () => {
    const e = event(Buffer.from([0xff, 0x41]), { a: 'b' });
    expect(e.body).toEqual(Buffer.from([0xff, 0x41]));
    expect(e.headers).toEqual({ a: 'b' });
    expect(text(event('héllo'))).toBe('héllo');
    expect(text(e, 'latin1')).toBe('ÿA');
  });

  it('wraps a Uint8Array without copying', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const buf = toBuffer(bytes);
    bytes[0] = 9;
    expect(buf[0]).toBe(9);
  });
});

describe('Batch', () => {
  it('settles exactly once: a second ack or nack throws TransactionError', () => {
    let acks = 0;
    const b = createBatch([event('x')], { onAck: () => acks++ });
    expect(b.settled).toBe(false);
    b.ack();
    expect(b.settled).toBe(true);
    expect(() => b.ack()).toThrow(TransactionError);
    expect(() => b.nack(new Error('late'))).toThrow(/already acked/);
    expect(acks).toBe(1);
  });

  it('a deferred batch makes its events once, on the first read of events or of deferred.make(), and never to settle', () => {
    let makes = 0;
    const deferred = deferEvents(2, () => (makes++, [event('a'), event('b')]));
    const b = createDeferredBatch(deferred);
    expect(b.deferred).toBe(deferred);
    b.ack();
    expect(() => b.ack()).toThrow(/batch of 2 events already acked/);
    expect(makes).toBe(0);
    const kept = b.deferred!.make();
    expect(b.events).toBe(kept);
    expect(b.deferred).toBeUndefined();
    expect(b.events.map((e) => e.body.toString())).toEqual(['a', 'b']);
    expect(makes).toBe(1);
    expect(createBatch([event('x')]).deferred).toBeUndefined();
  });

  it('nack passes the error, or a default one, to the owner', () => {
    const errors: Error[] = [];
    createBatch([], { onNack: (e) => errors.push(e) }).nack(new Error('boom'));
    createBatch([], { onNack: (e) => errors.push(e) }).nack();
    createBatch([], { onNack: (e) => errors.push(e) }).nack('text');
    expect(errors.map((e) => e.message)).toEqual(['boom', 'batch rolled back', 'text']);
  });

  it('a derived batch settles its parent exactly once', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }), (settles) => {
        let parentSettles = 0;
        const parent = createBatch([event('p')], { onAck: () => parentSettles++, onNack: () => parentSettles++ });
        const child = deriveBatch(parent, [event('c')]);
        const errors: unknown[] = [];
        for (const ack of settles) {
          try {
            if (ack) child.ack();
            else child.nack(new Error('n'));
          } catch (e) {
            errors.push(e);
          }
        }
        expect(parentSettles).toBe(1);
        expect(errors).toHaveLength(settles.length - 1);
        for (const e of errors) expect(e).toBeInstanceOf(TransactionError);
      }),
    );
  });
});
