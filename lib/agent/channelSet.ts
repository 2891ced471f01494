import { mergeAll, Subject, type Observable, type OperatorFunction, type Subscription } from 'rxjs';
import type { Batch } from '../core/batch.js';
import { metricsOf, type ComponentCounters } from '../core/metrics.js';
import type { Sink } from '../core/sink.js';
import { instantiate, type Planned } from './plan.js';
import { SwitchSink } from './switchSink.js';

interface Entry {
  fingerprint: string;
  counters: ComponentCounters | undefined;
  /** The parts the sources put into it, merged. */
  inputs: Subject<Observable<Batch>>;
  sink: SwitchSink;
  subscription: Subscription;
}

/**
 * The agent's channels across reloads. Each runs from its inputs into a `SwitchSink` its sinks are
 * swapped into. `update` keeps a channel whose type and options are unchanged, with its content;
 * the others' inputs close, so they drain to their old sinks and close.
 */
export class ChannelSet {
  private readonly entries = new Map<string, Entry>();
  private readonly sinksClosed: Promise<void>[] = [];

  /** `onError`: a channel failed (its sink end gets the error too). */
  constructor(private readonly onError: (error: unknown) => void) {}

  update(wanted: readonly Planned[]): void {
    const byName = new Map(wanted.map((p) => [p.name, p]));
    for (const [name, entry] of this.entries) {
      const p = byName.get(name);
      if (!p || fingerprintOf(p) !== entry.fingerprint) {
        entry.inputs.complete();
        this.entries.delete(name);
      }
    }
    for (const p of wanted) if (!this.entries.has(p.name)) this.entries.set(p.name, this.open(p));
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  countersOf(name: string): ComponentCounters | undefined {
    return this.entries.get(name)?.counters;
  }

  /** Puts a source's part into the channel. */
  feed(name: string, part: Observable<Batch>): void {
    this.entries.get(name)!.inputs.next(part);
  }

  /** The channel's consumer from now on (the one before completes once its batches settled). */
  connect(name: string, sink: Sink | undefined): void {
    this.entries.get(name)!.sink.swap(sink);
  }

  /** Closes every channel's input: they drain to their sinks and complete. */
  closeInputs(): void {
    for (const entry of this.entries.values()) entry.inputs.complete();
  }

  /** A stop that timed out: every channel is unsubscribed, whatever it holds. */
  tearDown(): void {
    for (const entry of this.entries.values()) entry.subscription.unsubscribe();
  }

  /** One promise per channel ever opened: resolves once its sink end closed. */
  get closed(): Promise<void>[] {
    return [...this.sinksClosed];
  }

  private open(p: Planned): Entry {
    const op = instantiate<OperatorFunction<Batch, Batch>>(p);
    const inputs = new Subject<Observable<Batch>>();
    const sink = new SwitchSink();
    const subscription = inputs.pipe(mergeAll(), op).subscribe({
      next: (b) => sink.next(b),
      error: (e: unknown) => {
        this.onError(e);
        sink.error(e);
      },
      complete: () => sink.complete(),
    });
    this.sinksClosed.push(sink.closed);
    return { fingerprint: fingerprintOf(p), counters: metricsOf(op), inputs, sink, subscription };
  }
}

/** Same type and options: the same channel, kept across a reload. */
function fingerprintOf(p: Planned): string {
  return JSON.stringify([p.spec.name, p.options]);
}
