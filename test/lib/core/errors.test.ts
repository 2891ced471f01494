import { describe, expect, it } from 'vitest';
import { ComponentError, describeError, ERROR_CODES, FlumeError, isRetriable, printable, type ErrorCode } from '../../../lib/core/errors.js';

describe('describeError', () => {
  it('adds causes that say something new, never repeats one the message already holds', () => {
    const listen = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:4'), { code: 'EADDRINUSE' });
    const outer = new ComponentError('FLUME_SOURCE_FAILED', `r1: cannot listen on 127.0.0.1:4: ${listen.message}`, { cause: listen });
    expect(describeError(outer)).toBe('r1: cannot listen on 127.0.0.1:4: listen EADDRINUSE: address already in use 127.0.0.1:4');
    const tls = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(describeError(new Error('k1: connect failed', { cause: tls }))).toBe('k1: connect failed: unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)');
    expect(describeError('plain')).toBe('plain');
  });

  it('shows control characters as escapes, so nothing from a config or a peer reaches a terminal raw', () => {
    expect(printable('a\x1b[2Jb\nc\x07')).toBe('a\\x1b[2Jb\\nc\\x07');
    expect(describeError(new Error('bad \x1b]0;title\x07'))).toBe('bad \\x1b]0;title\\x07');
  });
});

describe('FlumeError', () => {
  it("is retriable as its code says unless the raiser says otherwise; ComponentError is the same class", () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) expect(new FlumeError(code, 'x').retriable, code).toBe(ERROR_CODES[code].retriable);
    expect(new FlumeError('FLUME_SINK_FAILED', 'down').retriable).toBe(true);
    expect(new FlumeError('FLUME_SINK_FAILED', 'bad record', { retriable: false }).retriable).toBe(false);
    expect(isRetriable(new FlumeError('FLUME_CONFIG', 'x'))).toBe(false);
    expect(isRetriable(new Error('not ours'))).toBe(true);
    expect(ComponentError).toBe(FlumeError);
  });
});
