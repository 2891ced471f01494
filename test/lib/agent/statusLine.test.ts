import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ComponentCounters } from '../../../lib/core/metrics.js';
import { StatusDisplay, statusLine } from '../../../lib/agent/statusLine.js';

describe('statusLine', () => {
  it('shows events/s per source and sink from counter deltas, and channel fill', () => {
    const r1 = new ComponentCounters('SOURCE', 'r1');
    const c1 = new ComponentCounters('CHANNEL', 'c1');
    const k1 = new ComponentCounters('SINK', 'k1');
    c1.set('ChannelCapacity', 200);
    const line = statusLine();
    expect(line([r1, c1, k1], 1000)).toBe('r1 0 ev/s | c1 0% full | k1 0 ev/s');
    r1.inc('EventAcceptedCount', 5000);
    k1.inc('EventDrainSuccessCount', 2500);
    c1.set('ChannelSize', 50);
    expect(line([r1, c1, k1], 500)).toBe('r1 10,000 ev/s | c1 25% full | k1 5,000 ev/s');
  });
});

describe('statusLine: a source that ended', () => {
  it('says so instead of its rate', () => {
    const r1 = new ComponentCounters('SOURCE', 'r1');
    const r2 = new ComponentCounters('SOURCE', 'r2');
    r1.stopTime = 1;
    expect(statusLine()([r1, r2], 1000)).toBe('source r1 finished | r2 0 ev/s');
  });

  it('lists sources, channels and sinks in the order events flow, whatever the order given', () => {
    const c1 = new ComponentCounters('CHANNEL', 'c1');
    c1.set('ChannelCapacity', 100);
    const line = statusLine()([new ComponentCounters('SINK', 'k1'), c1, new ComponentCounters('SOURCE', 'r1')], 1000);
    expect(line).toBe('r1 0 ev/s | c1 0% full | k1 0 ev/s');
  });
});

/** A terminal stream that records each write. */
function fakeTty(columns?: number) {
  const writes: string[] = [];
  return { writes, columns, write: (text: string) => void writes.push(text), text: () => writes.join('') };
}

describe('StatusDisplay on a terminal', () => {
  it('clears the status line before a log line and draws it again after, in one write', () => {
    const tty = fakeTty(80);
    const display = new StatusDisplay(tty);
    display.update('r1 5 ev/s');
    display.print('INFO agent started\n');
    display.update('r1 6 ev/s');
    expect(tty.writes).toEqual(['\r\x1b[2Kr1 5 ev/s', '\r\x1b[2KINFO agent started\nr1 5 ev/s', '\r\x1b[2Kr1 6 ev/s']);
  });

  it('does not draw while the cursor is inside a line, and is never drawn again once closed', () => {
    const tty = fakeTty(80);
    const display = new StatusDisplay(tty);
    display.update('s');
    display.print('partial');
    display.update('t');
    display.print(' line\n');
    display.close();
    display.update('u');
    display.print('after\n');
    expect(tty.writes).toEqual(['\r\x1b[2Ks', '\r\x1b[2Kpartial', ' line\nt', '\r\x1b[2K', 'after\n']);
  });

  it('is cut to the terminal width (a wrapped line could not be cleared), colour codes kept whole; no width means 80', () => {
    const tty = fakeTty(10);
    new StatusDisplay(tty).update('\x1b[2mabc\x1b[22mdefghijkl');
    expect(tty.writes).toEqual(['\r\x1b[2K\x1b[2mabc\x1b[22mdefgh\x1b[0m…']);
    const zero = fakeTty(0);
    new StatusDisplay(zero).update('x'.repeat(100));
    expect(zero.text()).toBe(`\r\x1b[2K${'x'.repeat(78)}…`);
  });

  it('hides itself before each write to a guarded stream (stdout on the same terminal) and draws again on update', () => {
    const tty = fakeTty(80);
    const display = new StatusDisplay(tty);
    const stdout = new PassThrough() as unknown as NodeJS.WriteStream;
    const written: string[] = [];
    (stdout as unknown as PassThrough).on('data', (d: Buffer) => written.push(d.toString()));
    const unguard = display.guard(stdout);
    display.update('r1 1 ev/s');
    stdout.write('Event: 1\n');
    expect(tty.writes).toEqual(['\r\x1b[2Kr1 1 ev/s', '\r\x1b[2K']);
    stdout.write(Buffer.from('Event: 2\n'));
    expect(tty.writes).toHaveLength(2);
    display.update('r1 2 ev/s');
    unguard();
    stdout.write('Event: 3\n');
    expect(tty.writes).toEqual(['\r\x1b[2Kr1 1 ev/s', '\r\x1b[2K', '\r\x1b[2Kr1 2 ev/s']);
    expect(written.join('')).toBe('Event: 1\nEvent: 2\nEvent: 3\n');
  });
});
