import { isObservable, merge, Observable } from 'rxjs';
import type { Batch } from './batch.js';

const MERGED: unique symbol = Symbol.for('rxflume.mergedSources');

/** What `mergeSources` returns: the merged batches, remembering the sources they come from. */
export type MergedSources = Observable<Batch> & { readonly [MERGED]: readonly Observable<Batch>[] };

/**
 * Fan-in: several sources into one pipeline, as Flume's agent puts several sources into one channel.
 * Each source keeps its own `SOURCE.<name>` counters in `pipeline.metrics()` (a plain RxJS `merge`
 * would hide them from `pipe`, which finds counters on the values it is given). A batch keeps its own
 * transaction, so its ack or nack goes back to the source that read it, and each source keeps its
 * own `maxInFlight`: a slow one never holds the others back beyond the channel's capacity.
 *
 * The merged stream completes once every source completed (a `stop()` stops them all); an error from
 * any source ends it, as any source's fatal error ends a pipeline. Merging merged sources flattens.
 *
 * @example
 * const pipeline = pipe(
 *   mergeSources(netcatSource({ name: 'r1', bind: '127.0.0.1', port: 44444 }), httpSource({ name: 'r2', bind: '127.0.0.1', port: 8080 })),
 *   memoryChannel({ name: 'c1' }),
 *   loggerSink({ name: 'k1' }),
 * );
 * pipeline.metrics(); // { 'SOURCE.r1': …, 'SOURCE.r2': …, 'CHANNEL.c1': …, 'SINK.k1': … }
 */
export function mergeSources(...sources: Observable<Batch>[]): MergedSources {
  if (sources.length === 0) throw new TypeError('mergeSources(...sources): give at least one source');
  sources.forEach((s, i) => {
    if (!isObservable(s)) throw new TypeError(`mergeSources(...sources): argument ${i + 1} is not a source (an Observable of batches)`);
  });
  // A new Observable even for one source (`merge` would return that source itself, which must not be marked).
  const merged = new Observable<Batch>((subscriber) => merge(...sources).subscribe(subscriber));
  Object.defineProperty(merged, MERGED, { value: sources, enumerable: false });
  return merged as MergedSources;
}

/** The sources a `mergeSources` value merges, or undefined for any other value. */
export function mergedSources(value: unknown): readonly Observable<Batch>[] | undefined {
  if (typeof value === 'object' && value !== null) return (value as Partial<MergedSources>)[MERGED];
  return undefined;
}
