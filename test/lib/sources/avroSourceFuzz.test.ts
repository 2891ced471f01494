/**
 * Fuzzing avroSource's parsers from the socket (issue #10): Avro RPC frames, plain and deflated,
 * carrying random and mutated calls. Properties: the source never errors out, the heap never grows
 * past its configured budget, and a valid call sent among the garbage still gets through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { writeCallHeader, zigzag } from '../../../lib/avro/rpc.js';
import { MB, usedAfterGc } from '../avro/heap.js';
import { HANDSHAKE, OK, PING, appendBatch, emptyEvents, errorText, frameHeader, int32, manyHeaders, rawClient, type RawClient } from './avroSource/client.js';
import { startSource, type Running } from './avroSource/server.js';

const LIMITS = { maxMessageBytes: 256 * 1024, maxBuffersPerFrame: 64, maxEventsPerBatch: 50, maxPendingFrames: 8, maxBufferedBytes: 2 * MB };
/** What the heap may hold beyond the budget: V8's own movement, sockets, zlib state, test bookkeeping. */
const SLACK = 24 * MB;
const LIMIT_ERROR = /maxEventsPerBatch|maxBufferedBytes|maxPendingFrames|limit \d+/;

/** A call message: valid, random, mutated from a valid one, or hostile in shape. */
function messages(): fc.Arbitrary<Buffer> {
  const valid = fc
    .array(fc.record({ headers: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }), body: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 4 })
    .map((events) => appendBatch(events.map((e) => ({ headers: e.headers, body: Buffer.from(e.body) }))));
  const mutated = fc.tuple(valid, fc.nat(), fc.nat(255), fc.constantFrom('truncate', 'flip', 'insert')).map(([m, at, byte, how]) => {
    const i = m.length === 0 ? 0 : at % m.length;
    if (how === 'truncate') return m.subarray(0, i);
    if (how === 'flip') return Buffer.concat([m.subarray(0, i), Buffer.from([byte]), m.subarray(i + 1)]);
    return Buffer.concat([m.subarray(0, i), zigzag(2 ** 40 + byte), m.subarray(i)]);
  });
  const hostile = fc.oneof(
    fc.integer({ min: 0, max: 120 }).map((n) => emptyEvents(n)),
    fc.integer({ min: 0, max: 3000 }).map((n) => manyHeaders(n)),
    fc.nat(2 ** 31).map((n) => Buffer.concat([writeCallHeader('appendBatch'), zigzag(n), Buffer.from([0, 0])])),
    fc.string({ maxLength: 300 }).map((name) => Buffer.concat([Buffer.from([0]), zigzag(Buffer.byteLength(name)), Buffer.from(name)])),
  );
  return fc.oneof(fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)), mutated, hostile);
}

/** A message as a frame of 1–3 buffers, with empty ones in between at times. */
function framed(serial: number, message: Buffer, cuts: readonly number[]): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (const c of cuts) {
    const to = Math.min(message.length, at + c);
    parts.push(message.subarray(at, to), Buffer.alloc(0));
    at = to;
  }
  parts.push(message.subarray(at));
  return Buffer.concat([frameHeader(serial, parts.length), ...parts.flatMap((p) => [int32(p.length), p])]);
}

const garbageCall = fc.tuple(messages(), fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 2 }));

for (const deflate of [false, true]) {
  describe(`avroSource fuzz (${deflate ? 'deflate' : 'plain'})`, () => {
    let r: Running;
    let base: number;
    let peak = 0;
    beforeAll(async () => {
      r = await startSource({ ...LIMITS, compressionType: deflate ? 'deflate' : 'none' });
      base = usedAfterGc();
    });
    afterAll(() => r.subscription.unsubscribe());

    const measure = (): void => {
      peak = Math.max(peak, usedAfterGc() - base);
    };

    const open = async (): Promise<RawClient> => {
      const c = await rawClient(r.port, { deflate });
      await c.frame(0, [HANDSHAKE, PING]);
      await c.answer(0);
      return c;
    };

    let token = 0;
    /** A valid call with a unique body, and the check that it was delivered. */
    const validCall = (): { message: Buffer; delivered: () => boolean } => {
      const body = `valid-${token++}`;
      return { message: appendBatch([{ headers: { t: body }, body: Buffer.from(body) }]), delivered: () => r.sink.events.some((e) => e.body.toString() === body) };
    };

    it('a valid call among garbage calls is answered OK and delivered; a connection closed over a limit first got an error naming it (property)', async () => {
      let sameConnection = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(garbageCall, { maxLength: 5 }), fc.array(garbageCall, { maxLength: 3 }), fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 4 }), async (before, after, cuts) => {
          const c = await open();
          const valid = validCall();
          const wire: Buffer[] = [];
          let serial = 1;
          for (const [m, split] of before) wire.push(framed(serial++, m, split));
          const validSerial = serial++;
          wire.push(framed(validSerial, valid.message, []));
          for (const [m, split] of after) wire.push(framed(serial++, m, split));
          // Sent in arbitrary pieces.
          const all = Buffer.concat(wire);
          for (let at = 0, i = 0; at < all.length; i++) {
            const n = cuts[i % cuts.length]!;
            await c.send(all.subarray(at, at + n));
            at += n;
          }
          await Promise.race([c.answer(validSerial, 10_000).catch(() => undefined), c.closed]);
          measure();
          if (c.answers.has(validSerial)) {
            sameConnection++;
            expect(c.answers.get(validSerial)).toEqual(OK);
          } else {
            // Closed before the valid call: by a garbage call over a limit, which was answered with an error naming it.
            const refusals = [...c.answers.values()].map(errorText).filter((t) => t !== undefined && LIMIT_ERROR.test(t));
            expect(refusals.length).toBe(1);
            const again = await open();
            await again.frame(1, [valid.message]);
            expect(await again.answer(1, 5000)).toEqual(OK);
            again.destroy();
          }
          c.destroy();
          await c.closed;
          await expect.poll(valid.delivered, { timeout: 5000 }).toBe(true);
          expect(r.errors).toEqual([]);
        }),
        { numRuns: 40 },
      );
      expect(sameConnection).toBeGreaterThan(20);
      expect(peak).toBeLessThan(LIMITS.maxBufferedBytes + SLACK);
    });

    it('arbitrary bytes on a connection (framing or not, before or after the handshake) never stop a good client (property)', async () => {
      const hostileBytes = fc.oneof(
        fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
        fc.tuple(fc.integer({ min: -5, max: 200 }), fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 6 }), fc.uint8Array({ maxLength: 500 })).map(([count, lengths, tail]) =>
          Buffer.concat([frameHeader(1, count), ...lengths.map(int32), Buffer.from(tail)]),
        ),
      );
      await fc.assert(
        fc.asyncProperty(fc.boolean(), hostileBytes, async (handshaken, bytes) => {
          const bad = handshaken ? await open() : await rawClient(r.port, { deflate });
          await bad.send(bytes);
          const good = await open();
          const valid = validCall();
          await good.frame(1, [valid.message]);
          expect(await good.answer(1, 5000)).toEqual(OK);
          measure();
          bad.destroy();
          good.destroy();
          await Promise.all([bad.closed, good.closed]);
          expect(r.errors).toEqual([]);
        }),
        { numRuns: 40 },
      );
      expect(peak).toBeLessThan(LIMITS.maxBufferedBytes + SLACK);
      await expect.poll(() => r.counters.get('OpenConnectionCount')).toBe(0);
    });

    if (deflate) {
      it('a corrupted deflate stream closes its connection and is counted; the others go on (property)', async () => {
        await fc.assert(
          fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (junk) => {
            const bad = await rawClient(r.port); // raw bytes, not deflated
            const failsBefore = r.counters.get('EventReadFail');
            await bad.send(Buffer.concat([Buffer.from([0x78, 0x9c]), Buffer.from(junk)]));
            const good = await open();
            await good.frame(1, [validCall().message]);
            expect(await good.answer(1, 5000)).toEqual(OK);
            bad.destroy();
            good.destroy();
            await bad.closed;
            expect(r.counters.get('EventReadFail')).toBeGreaterThanOrEqual(failsBefore);
            expect(r.errors).toEqual([]);
          }),
          { numRuns: 30 },
        );
      });
    }
  });
}
