import { Observable, Subject, type Subscription } from 'rxjs';
import { createBatch, type Batch } from '../../../lib/core/batch.js';
import { event, type FlumeEvent } from '../../../lib/core/event.js';

export interface Tracked {
  batch: Batch;
  acks: number;
  errors: Error[];
}

/** A source batch of events `body` or `[body, headers]`, recording its settlement. */
export function tracked(items: readonly (string | number | [string, Record<string, string>])[]): Tracked {
  const t: Tracked = { batch: undefined as unknown as Batch, acks: 0, errors: [] };
  const events: FlumeEvent[] = items.map((item) => (Array.isArray(item) ? event(item[0], item[1]) : event(String(item))));
  t.batch = createBatch(events, { onAck: () => t.acks++, onNack: (e) => t.errors.push(e) });
  return t;
}

export const bodiesOf = (batch: { events: readonly FlumeEvent[] }): string[] => batch.events.map((e) => e.body.toString());

/** Subscribes every branch with a recorder that keeps the parts for the test to settle. */
export function record(branches: readonly Observable<Batch>[]) {
  const parts: Batch[][] = branches.map(() => []);
  const ends: (undefined | 'complete' | { error: unknown })[] = branches.map(() => undefined);
  const subs: Subscription[] = branches.map((b, i) =>
    b.subscribe({
      next: (p) => parts[i]!.push(p),
      complete: () => (ends[i] = 'complete'),
      error: (error: unknown) => (ends[i] = { error }),
    }),
  );
  return { parts, ends, subs };
}

/** A push source over a Subject that counts its live and total subscriptions. */
export function subjectSource() {
  const subject = new Subject<Batch>();
  let live = 0;
  let total = 0;
  const source = new Observable<Batch>((subscriber) => {
    live++;
    total++;
    const sub = subject.subscribe(subscriber);
    return () => {
      live--;
      sub.unsubscribe();
    };
  });
  return { subject, source, live: () => live, total: () => total };
}
