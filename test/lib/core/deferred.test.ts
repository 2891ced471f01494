import { afterEach, describe, expect, it } from 'vitest';
import { deferred } from '../../../lib/core/deferred.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  unhandled.length = 0;
});

describe('deferred', () => {
  it('settles its promise through resolve and reject', async () => {
    const a = deferred();
    a.resolve();
    await expect(a.promise).resolves.toBeUndefined();
    const b = deferred();
    b.reject(new Error('closed badly'));
    await expect(b.promise).rejects.toThrow('closed badly');
  });

  it('a rejection nobody awaits is no unhandled rejection', async () => {
    process.on('unhandledRejection', onUnhandled);
    deferred().reject(new Error('nobody listens'));
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
  });
});
