import { expect } from 'vitest';

/**
 * What `fn` throws; the test fails when it returns instead. Assert on the result outside any catch
 * (issue #19: an assertion inside a `catch`, or a `try` whose `catch` accepts it, can pass unseen).
 */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return expect.unreachable('expected a throw');
}
