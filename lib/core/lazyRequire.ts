import { FlumeError } from './errors.js';

// Made on the first load, so that importing this module does not load node:module (issue #15's import time).
let require: NodeJS.Require | undefined;

/**
 * A CommonJS package loaded on first call rather than when the module naming it is imported: the
 * agent's registry imports every component, and a process that never builds a Kafka or Avro
 * component should not pay kafkajs's or avsc's memory and start-up time (test/lib/agent/lazyLoading.test.ts).
 * Synchronous (`require`), so the components' factories and codecs keep their signatures.
 *
 * A package that cannot be loaded (not installed, broken) throws a non-retriable `FLUME_CONFIG`
 * naming it and what needs it: the configuration cannot run in this installation.
 */
export function lazyRequire<T>(pkg: string, neededBy: string): () => T {
  let loaded: T | undefined;
  return () => {
    if (loaded === undefined) {
      try {
        require ??= process.getBuiltinModule('node:module').createRequire(import.meta.url);
        loaded = require(pkg) as T;
      } catch (error) {
        throw new FlumeError('FLUME_CONFIG', `${neededBy} need the package '${pkg}', which cannot be loaded (install it: npm install ${pkg}): ${(error as Error).message}`, {
          retriable: false,
          cause: error,
        });
      }
    }
    return loaded;
  };
}
