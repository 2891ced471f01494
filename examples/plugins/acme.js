/**
 * An example plugin: custom components for `rxflume agent`, one of each kind, written as Flume users
 * write their own classes. A configuration names them by module path and export:
 *
 *   a1.sources.r1.type = ./plugins/acme.js#counterSource
 *
 * Each is made with `component(defineComponent(…), factory)` as the built-in ones are, so the agent
 * validates its options with its schema, maps Flume-style keys, shows it in `validate` and counts it in
 * its metrics. Plain JavaScript (ESM); in TypeScript the same code type-checks against 'rxflume'.
 */
import { appendFile } from 'node:fs/promises';
import { z } from 'zod';
import {
  component,
  createSink,
  defineComponent,
  event,
  failoverSink,
  mapEvents,
  memoryChannel,
  pollSource,
  selector,
} from 'rxflume';

const name = (defaultName) => ({ name: z.string().min(1).default(defaultName).describe('Component name in metrics and logs.') });

/** A source: `count` events `<prefix> <n>` with header `n`, in batches of `batchSize`, then it completes. */
export const counterSource = component(
  defineComponent({
    name: 'counterSource',
    kind: 'source',
    summary: 'Emits count numbered events, then completes.',
    flumeTypes: [],
    schema: z.strictObject({
      ...name('counterSource'),
      count: z.number().int().min(0).describe('Events in all.'),
      batchSize: z.number().int().min(1).default(100).describe('Events per batch.'),
      prefix: z.string().default('event').describe('Body text before the number.'),
    }),
  }),
  function counterSource(options) {
    const opts = counterSource.spec.schema.parse(options);
    let n = 0;
    return pollSource(
      () => {
        if (n >= opts.count) return null;
        const batch = [];
        for (; batch.length < opts.batchSize && n < opts.count; n++) batch.push(event(`${opts.prefix} ${n}`, { n: String(n) }));
        return batch;
      },
      { name: opts.name },
    );
  },
);

/** An interceptor: the body in upper case (Flume's `$Builder` classes become a factory of an operator). */
export const upperCase = component(
  defineComponent({
    name: 'upperCase',
    kind: 'interceptor',
    summary: 'Turns the body to upper case.',
    flumeTypes: [],
    schema: z.strictObject({ ...name('upperCase') }),
  }),
  function upperCase(options) {
    const opts = upperCase.spec.schema.parse(options ?? {});
    return mapEvents((e) => ({ headers: e.headers, body: Buffer.from(e.body.toString('utf8').toUpperCase()) }), { name: opts.name });
  },
);

/** A channel selector: events whose `header` is even go to the first channel, the others to the second. */
export const parity = selector(
  defineComponent({
    name: 'parity',
    kind: 'selector',
    summary: 'Even numbers to the first channel, odd ones to the second.',
    flumeTypes: [],
    schema: z.strictObject({ header: z.string().default('n').describe('Header holding the number.') }),
  }),
  'multiplexing',
  (opts) => {
    const even = { required: [0], optional: [] };
    const odd = { required: [1], optional: [] };
    return { route: (e) => (Number(e.headers[opts.header]) % 2 === 0 ? even : odd) };
  },
);

/** A channel: a memory channel whose size is given in thousands of events. */
export const kiloChannel = component(
  defineComponent({
    name: 'kiloChannel',
    kind: 'channel',
    summary: 'A memory channel sized in thousands of events.',
    flumeTypes: [],
    schema: z.strictObject({ ...name('kiloChannel'), kiloEvents: z.number().int().min(1).default(10).describe('Capacity in thousands of events.') }),
  }),
  function kiloChannel(options) {
    const opts = kiloChannel.spec.schema.parse(options ?? {});
    return memoryChannel({ name: opts.name, capacity: opts.kiloEvents * 1000, transactionCapacity: 1000 });
  },
);

/** A sink: appends each event's body as a line to `file`, acking a batch once the append returned. */
export const lineFileSink = component(
  defineComponent({
    name: 'lineFileSink',
    kind: 'sink',
    summary: 'Appends each body as a line to a file.',
    flumeTypes: [],
    schema: z.strictObject({ ...name('lineFileSink'), file: z.string().min(1).describe('File to append to.') }),
  }),
  function lineFileSink(options) {
    const opts = lineFileSink.spec.schema.parse(options);
    return createSink(opts.name, {
      write: (batch) => appendFile(opts.file, batch.events.map((e) => `${e.body.toString('utf8')}\n`).join('')),
    });
  },
);

/** A sink processor: Flume's failover with the members in the order the group lists them. */
export const inOrder = component(
  defineComponent({
    name: 'inOrder',
    kind: 'sinkProcessor',
    summary: 'Failover in the order the group lists its sinks.',
    flumeTypes: [],
    schema: z.strictObject({ ...name('inOrder') }),
  }),
  function inOrder(sinks, options) {
    const opts = inOrder.spec.schema.parse(options ?? {});
    const names = Object.keys(sinks);
    return failoverSink(sinks, { name: opts.name, priority: Object.fromEntries(names.map((n, i) => [n, names.length - i])) });
  },
);
