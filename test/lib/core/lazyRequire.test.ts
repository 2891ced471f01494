import { describe, expect, it } from 'vitest';
import { FlumeError } from '../../../lib/core/errors.js';
import { lazyRequire } from '../../../lib/core/lazyRequire.js';

describe('lazyRequire', () => {
  it('loads the package on the first call, once', () => {
    const split2 = lazyRequire<() => unknown>('split2', 'test');
    const first = split2();
    expect(typeof first).toBe('function');
    expect(split2()).toBe(first);
  });

  it('a package that cannot be loaded is a non-retriable FLUME_CONFIG naming it and what needs it', () => {
    const missing = lazyRequire('rxflume-no-such-package', 'Frobnicating sinks');
    expect(missing).toThrow(FlumeError);
    expect(missing).toThrow(expect.objectContaining({ code: 'FLUME_CONFIG', retriable: false }));
    expect(missing).toThrow(/^Frobnicating sinks need the package 'rxflume-no-such-package', which cannot be loaded \(install it: npm install rxflume-no-such-package\): Cannot find module/);
  });
});
