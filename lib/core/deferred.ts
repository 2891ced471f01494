/**
 * A promise and its settlers, for a completion signal nobody is obliged to await (a sink's `closed`, a
 * pipeline's `done`): its rejection alone never kills the process as an unhandled rejection.
 */
export function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
