import { z } from 'zod';
import { component, defineComponent, parseOptions, type FlumeProblem } from '../core/config.js';
import { ComponentCounters, withMetrics, type HasMetrics } from '../core/metrics.js';
import { nameOption } from '../core/options.js';
import { rpcEndpointOptions } from '../core/rpcEndpoint.js';
import { createSink, type Sink } from '../core/sink.js';
import { javaRegexOption } from '../text/javaRegex.js';
import { IrcEndpoint } from './ircSink/ircEndpoint.js';

const { connectTimeoutMs, requestTimeoutMs, reconnectBackoffMs, maxReconnectBackoffMs } = rpcEndpointOptions('');

export const ircSinkOptions = z.strictObject({
  ...nameOption('ircSink'),
  hostname: z.string().min(1).describe('Host of the IRC server.'),
  port: z.number().int().min(1).max(65535).default(6667).describe('Port of the IRC server (plain TCP, as Flume).'),
  nick: z
    .string()
    .regex(/^[A-Za-z[\]\\`_^{|}][A-Za-z0-9[\]\\`_^{|}-]*$/, 'an IRC nick: a letter or one of []\\`_^{|} first, then digits and - too')
    .describe('Nick of the sink (the server limits its length: 9 by default on ngircd).'),
  user: z.string().regex(/^[A-Za-z0-9+\-@._]+$/, 'letters, digits and +-@._').optional().describe('User name sent in USER; the nick when unset (Flume sends the literal "null").'),
  password: z.string().min(1).optional().describe('Server password (PASS), sent only when set.'),
  chan: z
    .string()
    .min(1)
    .regex(/^[^\s,\x07]+$/, 'a channel name without spaces or commas')
    .describe("Channel, without its '#': the sink joins '#' + chan, as Flume does (so 'chan = #flume' joins ##flume, as in Flume)."),
  realName: z.string().min(1).default('rxflume').describe('Real name sent in USER (Flume name).'),
  splitlines: z.boolean().default(false).describe('Send each piece of the body split by splitchars as its own message; otherwise one message per event (line breaks become spaces).'),
  splitchars: javaRegexOption().default('\n').describe('Java regular expression the body is split by when splitlines is on (Flume splitchars).'),
  linesPerSecond: z.number().positive().default(2).describe('Lines sent per second at most once the burst is spent: flood control, so the server does not penalise or kill the sink.'),
  burstLines: z.number().int().min(1).default(5).describe('Lines that may go out at once before linesPerSecond applies.'),
  connectTimeoutMs: connectTimeoutMs.describe('Longest wait to connect, register and join the channel.'),
  requestTimeoutMs: requestTimeoutMs.describe("Longest wait for the server's PONG that confirms a batch's lines were read."),
  reconnectBackoffMs,
  maxReconnectBackoffMs,
});

export type IrcSinkOptions = z.input<typeof ircSinkOptions>;

/** Flume keys whose option has another name (`name` is the component's own name here). */
const flumeKeys = { name: 'realName' } as const;

export const ircSinkSpec = defineComponent({
  name: 'ircSink',
  kind: 'sink',
  summary: "Posts each event's body to an IRC channel as PRIVMSG lines; acked once the server answered a PING sent after them (Flume irc sink).",
  flumeTypes: ['irc', 'org.apache.flume.sink.irc.IRCSink'],
  schema: ircSinkOptions,
  flumeKeys,
  // Flume prepends '#' to chan: the User Guide's `chan = #flume` joins ##flume. Kept, and said.
  fromFlume: (props) => {
    const chan = props.get('chan');
    const problems: FlumeProblem[] = [];
    if (chan?.startsWith('#')) {
      problems.push({ key: 'chan', severity: 'warning', message: `joins #${chan}, as Flume does: the sink prepends '#' (write chan = ${chan.replace(/^#+/, '')} for #${chan.replace(/^#+/, '')})` });
    }
    return { options: {}, consumed: [], problems };
  },
});

// ---- the sink -----------------------------------------------------------------------------------

/**
 * Flume's IRC sink: posts every event's body to channel `#chan` on `hostname:port` as `PRIVMSG`
 * lines — one per event, or with `splitlines` one per piece of the body split by the Java regex
 * `splitchars`. The client (irc-framework) connects on the first batch, registers (`PASS` when
 * `password` is set, `NICK`, `USER user 0 * :realName`) and joins the channel before anything is sent.
 * irc-framework is an optional peer dependency (`npm install irc-framework` beside rxflume): without it
 * building the sink fails with `FLUME_CONFIG` naming the package, and no other install carries its weight.
 *
 * What IRC can confirm: nothing per message — PRIVMSG has no reply when it succeeds. So after a
 * batch's lines the sink sends a `PING` and **acks the batch once the server's `PONG` arrives**: the
 * server handles a client's commands in order, so by then it read every line, and any refusal of
 * them (an error numeric such as 404 "cannot send to channel") came first and nacks the batch. IRC
 * cannot confirm that any member of the channel saw a line (a server keeps no history: members who
 * join later never see it), nor that a line reached other servers of the network.
 *
 * Lines: the body is read as UTF-8; a line break would end the IRC command, so CR and LF become spaces
 * (Flume sends them raw, and the rest of the body runs as IRC commands); empty pieces are not sent
 * (Flume sends them and the server answers with an error); a text longer than what the server
 * relays whole (512 bytes per line, less the command and the sender prefix) is cut into several
 * messages at code point boundaries (Flume sends it and the server disconnects it).
 *
 * Flood control: at most `burstLines` at once, then `linesPerSecond` (2 by default), the PING included,
 * so the server neither slows the sink down nor kills it for flooding.
 *
 * Failures nack the batch (retriable `FLUME_SINK_FAILED`), and the channel offers it again: connection
 * refused, registration or join refused (bad password, nick in use, banned, channel key…), the
 * connection lost, an error numeric, no PONG within `requestTimeoutMs`. A lost connection is noticed
 * (Flume's sink never notices one and loses events until restarted) and the next batch reconnects,
 * after `reconnectBackoffMs` doubling up to `maxReconnectBackoffMs` when attempts fail.
 *
 * Delivery: at-least-once into the server. A batch nacked after some of its lines went out is sent
 * whole again: members may see lines twice. Counters: Flume's sink counters with
 * `ConnectionCreatedCount`, `ConnectionClosedCount`, `ConnectionFailedCount`.
 *
 * @example
 * pipe(netcatSource({ bind: '127.0.0.1', port: 44444 }), memoryChannel(), ircSink({ hostname: 'irc.example.org', nick: 'flume', chan: 'alerts' }));
 */
export const ircSink = component(ircSinkSpec, function ircSink(options: IrcSinkOptions): Sink & HasMetrics {
  const opts = parseOptions(ircSinkSpec, options);
  const metrics = new ComponentCounters('SINK', opts.name);
  const endpoint = new IrcEndpoint(opts, metrics);
  const sink = createSink(opts.name, { write: (batch) => endpoint.send(batch), close: () => endpoint.close() }, metrics);
  return withMetrics(sink, metrics);
});
