/**
 * ircSink against a real IRC server (Debian's ngircd, test/support/ngircd.ts: one server for the
 * file), with a second IRC client in the channel counting what arrives.
 */
import { readFileSync } from 'node:fs';
import { ReplaySubject } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { ConfigError } from '../../../lib/core/errors.js';
import { event, type FlumeEvent } from '../../../lib/core/event.js';
import { metricsOf } from '../../../lib/core/metrics.js';
import { pipe } from '../../../lib/core/pipe.js';
import { ircSink, ircSinkSpec } from '../../../lib/sinks/ircSink.js';
import { FloodControl } from '../../../lib/sinks/ircSink/ircEndpoint.js';
import { ircTexts } from '../../../lib/sinks/ircSink/ircLines.js';
import { memoryChannel } from '../../../operators/channels/memoryChannel.js';
import { buildDist, root } from '../../support/examples.js';
import { runCli, scratch, startCli } from '../../support/cli.js';
import { waitFor } from '../../support/kafka.js';
import { ircReader, ngircd, ngircdServer } from '../../support/ngircd.js';
import { thrown } from '../../support/thrown.js';

const texts = (bodies: string[], split?: string) =>
  ircTexts({ events: bodies.map((b) => event(b)) }, { splitlines: split !== undefined, splitchars: split ?? '\n' }, 20);

describe('ircSink lines and options', () => {
  it('one message per event, line breaks as spaces; splitlines splits by the Java regex; empty pieces dropped; long ones cut by bytes', () => {
    expect(texts(['a\r\nb\nc', '', 'x\ry'])).toEqual(['a b c', 'x y']);
    expect(texts(['one\ntwo\n\nthree\n', ''], '\n')).toEqual(['one', 'two', 'three']);
    expect(texts(['a|b||c'], '\\|')).toEqual(['a', 'b', 'c']);
    expect(texts(['k=1, k=2'], ',\\s*')).toEqual(['k=1', 'k=2']);
    // 25 × 'é' = 50 bytes: pieces of at most 20 bytes, never inside a character.
    expect(texts(['é'.repeat(25)])).toEqual(['é'.repeat(10), 'é'.repeat(10), 'é'.repeat(5)]);
  });

  it('flood control: burstLines at once, then one line per 1/linesPerSecond', async () => {
    vi.useFakeTimers();
    try {
      const flood = new FloodControl(10, 3);
      let sent = 0;
      const take = () => flood.take().then(() => sent++);
      const all = Promise.all(Array.from({ length: 6 }, take));
      await vi.advanceTimersByTimeAsync(0);
      expect(sent).toBe(3);
      await vi.advanceTimersByTimeAsync(99);
      expect(sent).toBe(3);
      await vi.advanceTimersByTimeAsync(1);
      expect(sent).toBe(4);
      await vi.advanceTimersByTimeAsync(200);
      expect(sent).toBe(6);
      await all;
      // Idle time refills the bucket, up to the burst.
      await vi.advanceTimersByTimeAsync(10_000);
      const again = Promise.all(Array.from({ length: 4 }, take));
      await vi.advanceTimersByTimeAsync(0);
      expect(sent).toBe(9);
      await vi.advanceTimersByTimeAsync(100);
      await again;
      expect(sent).toBe(10);
    } finally {
      vi.useRealTimers();
    }
  });

  it('validates at call time and maps Flume keys (name is the real name; a chan with # is warned of)', () => {
    const error = thrown(() => ircSink({ hostname: 'h', nick: 'has space', chan: 'c', splitchars: '(' } as never));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.path).sort()).toEqual(['ircSink.nick', 'ircSink.splitchars']);
    expect(() => ircSink({ nick: 'n', chan: 'c' } as never)).toThrow(/ircSink\.hostname/);
    expect(ircSinkSpec.flumeTypes).toEqual(['irc', 'org.apache.flume.sink.irc.IRCSink']);
    expect(ircSinkSpec.flumeKeys).toEqual({ name: 'realName' });
    expect(ircSinkSpec.fromFlume!(new Map([['chan', '#flume']])).problems).toEqual([
      { key: 'chan', severity: 'warning', message: "joins ##flume, as Flume does: the sink prepends '#' (write chan = flume for #flume)" },
    ]);
  });
});

function deliver(sink: { next(b: Batch): void }, events: FlumeEvent[]): Promise<void> {
  return new Promise((resolve, reject) => sink.next(createBatch(events, { onAck: resolve, onNack: reject })));
}

describe.skipIf(ngircd.skip)(`ircSink against ngircd${ngircd.note}`, () => {
  const server = ngircdServer({ gated: ['#flume', '#flood', '#restart', '##flume'] });

  it('posts every event in the channel; a batch is acked after the PONG, refusals nack it', async () => {
    const { port } = server();
    const reader = await ircReader(port, '#flume');
    const sink = ircSink({ hostname: '127.0.0.1', port, nick: 'rxsink', chan: 'flume', splitlines: true, burstLines: 50 });
    const long = 'x'.repeat(1000);
    try {
      await deliver(sink, [event('first'), event('second\nthird'), event(''), event(long)]);
      await waitFor(() => reader.messages.slice(3).join('').length >= long.length, 'messages in #flume', 20_000);
      expect(reader.messages.slice(0, 3)).toEqual(['first', 'second', 'third']);
      expect(reader.messages.slice(3).join('')).toBe(long); // cut into lines the server relays whole
      expect(reader.messages.slice(3).length).toBeGreaterThan(2);

      // A moderated channel (+m): the server refuses the PRIVMSG (404) before the PONG, so the batch is nacked.
      await reader.send('MODE #flume +m', / MODE #flume \+m/);
      await expect(deliver(sink, [event('muted')])).rejects.toThrow(/ircSink: the server refused lines of 1 events: 404 rxsink #flume :Cannot send to channel/);
      // Paced out one by one: refusals of the first lines arrive while later ones are still waiting, and count too.
      const slow = ircSink({ name: 'slow', hostname: '127.0.0.1', port, nick: 'rxslow', chan: 'flume', burstLines: 1, linesPerSecond: 4 });
      await expect(deliver(slow, ['m1', 'm2', 'm3', 'm4'].map((b) => event(b)))).rejects.toThrow(
        /^slow: the server refused lines of 4 events: 404 rxslow #flume :Cannot send to channel(; 404 rxslow #flume :Cannot send to channel){3}$/,
      );
      slow.complete();
      await slow.closed;
      await reader.send('MODE #flume -m', / MODE #flume -m/);
      await deliver(sink, [event('heard')]);
      await waitFor(() => reader.messages.includes('heard'), 'heard', 20_000);

      // A server password where the server has none: registration refused, the batch nacked.
      const refused = ircSink({ hostname: '127.0.0.1', port, nick: 'rxpass', chan: 'flume', password: 'nope', reconnectBackoffMs: 0 });
      await expect(deliver(refused, [event('never')])).rejects.toThrow(/ircSink: cannot connect to 127\.0\.0\.1:\d+: .*Bad password/);
      refused.complete();
      // The nick is taken (by the reader): nacked, naming it.
      const taken = ircSink({ hostname: '127.0.0.1', port, nick: 'reader', chan: 'flume', reconnectBackoffMs: 0 });
      await expect(deliver(taken, [event('never')])).rejects.toThrow(/ircSink: cannot connect to 127\.0\.0\.1:\d+: nick reader is in use/);
      taken.complete();
      await Promise.all([refused.closed, taken.closed]);
      expect(reader.messages).not.toContain('never');
      expect(reader.messages).not.toContain('muted');
    } finally {
      sink.complete();
      await sink.closed;
      await reader.close();
    }
    expect(metricsOf(sink)!.snapshot()).toMatchObject({ EventDrainSuccessCount: 5, EventWriteFail: 1, ConnectionCreatedCount: 1, ConnectionClosedCount: 1 });
  }, 60_000);

  it('sends a batch larger than its burst paced, and the server keeps it connected', async () => {
    const { port } = server();
    const reader = await ircReader(port, '#flood', 'freader');
    const sink = ircSink({ hostname: '127.0.0.1', port, nick: 'rxflood', chan: 'flood', burstLines: 5, linesPerSecond: 10 });
    const bodies = Array.from({ length: 20 }, (_, i) => `f${i}`);
    try {
      await deliver(sink, bodies.map((b) => event(b)));
      await waitFor(() => reader.messages.length >= 20, 'the 20 lines', 20_000);
      expect(reader.messages).toEqual(bodies);
    } finally {
      sink.complete();
      await sink.closed;
      await reader.close();
    }
    expect(metricsOf(sink)!.snapshot()).toMatchObject({ EventDrainSuccessCount: 20, ConnectionCreatedCount: 1 });
  }, 60_000);

  it('reconnects after the server restarts mid-stream: the reader counts every message once', async () => {
    const s = server();
    let reader = await ircReader(s.port, '#restart', 'rreader');
    const source = new ReplaySubject<Batch>(); // pipe() may subscribe after the first put
    const sink = ircSink({ hostname: '127.0.0.1', port: s.port, nick: 'rxrestart', chan: 'restart', reconnectBackoffMs: 200, maxReconnectBackoffMs: 1000, burstLines: 10, linesPerSecond: 20 });
    const pipeline = pipe(source, memoryChannel({ capacity: 1000, transactionCapacity: 10 }), sink);
    const put = (from: number) => source.next(createBatch(Array.from({ length: 10 }, (_, i) => event(`m${from + i}`))));
    const seen: string[] = [];
    try {
      put(0);
      // Acked (PONG received): a batch whose PONG the restart cuts off is sent again, and seen twice.
      await waitFor(() => reader.messages.length >= 10 && metricsOf(sink)!.get('EventDrainSuccessCount') === 10, 'the first 10 messages acked', 30_000);
      seen.push(...reader.messages);
      await s.stop(); // every client is disconnected
      await reader.close();
      put(10); // taken, nacked (refused), offered again by the channel
      await waitFor(() => metricsOf(sink)!.get('EventWriteFail') > 0, 'a failed write while the server is down', 30_000);
      await s.start();
      // The channel is keyed again until the reader is in: the sink's JOIN is refused meanwhile, so nothing is posted to nobody.
      reader = await ircReader(s.port, '#restart', 'rreader');
      await waitFor(() => reader.messages.length >= 10, 'the 10 messages after the restart', 60_000);
      seen.push(...reader.messages);
      source.complete();
      await pipeline.done;
    } finally {
      source.complete();
      await pipeline.stop();
      await reader.close();
    }
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`));
    expect(metricsOf(sink)!.get('ConnectionCreatedCount')).toBe(2);
  }, 120_000);

  it("runs the Flume User Guide's IRC example (chan = #flume joins ##flume, as in Flume)", async () => {
    buildDist();
    const { port } = server();
    const dir = scratch('irc-example');
    const reader = await ircReader(port, '##flume', 'ugreader');
    try {
      const copy = dir.write(
        'sinks-irc.properties',
        readFileSync(`${root}/examples/flume-ug/irc/sinks-irc.properties`, 'utf8').replace('irc.yourdomain.com', '127.0.0.1') +
          `a1.sinks.k1.port = ${port}\na1.sources.r1.totalEvents = 5\n`,
      );
      const validated = await runCli(['validate', '-n', 'a1', '-f', copy]);
      expect(validated.code, validated.stderr).toBe(0);
      expect(validated.stderr + validated.stdout).toMatch(/joins ##flume/);
      const agent = startCli(['agent', '-n', 'a1', '-f', copy, '--no-reload-conf', '--quiet']);
      try {
        await waitFor(() => reader.messages.length >= 5, 'the example seq events in ##flume', 30_000);
      } finally {
        await agent.stop();
      }
      expect(reader.messages).toEqual(['0', '1', '2', '3', '4']);
    } finally {
      await reader.close();
      dir.cleanup();
    }
  }, 90_000);
});
