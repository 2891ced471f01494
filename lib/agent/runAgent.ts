import { Subject } from 'rxjs';
import { FlumeError } from '../core/errors.js';
import type { ComponentCounters, MetricsSnapshot } from '../core/metrics.js';
import { PipelineCounters, stopWithin, type StopResult } from '../core/pipe.js';
import type { Topology } from './build.js';
import { ChannelSet } from './channelSet.js';
import { listenersOf, startTopology } from './startTopology.js';

export interface RunningAgent {
  /** Resolves once the agent stopped (or every source ended) and every channel drained to its sinks; rejects on a fatal error. */
  readonly done: Promise<void>;
  /**
   * Graceful: sources stop, channels drain to their sinks within `timeoutMs`, sinks close. Never
   * rejects: the result says whether it drained or `timedOut` (the channels were then torn down), and
   * carries `done`'s error if a component failed.
   */
  stop(options?: { timeoutMs?: number }): Promise<StopResult>;
  /**
   * Replaces the running topology, as Flume's reload: sources stop, then the new topology starts.
   * A channel whose type and options are unchanged keeps running with its content, and is handed to
   * the new sinks; a removed or changed channel drains to its old sinks and closes. Throws
   * `FLUME_STOPPED` once the agent has stopped.
   */
  reload(topology: Topology): void;
  /** Flume's `/metrics` view: `SOURCE.r1`, `CHANNEL.c1`, `SINK.k1`, … */
  metrics(): Record<string, MetricsSnapshot>;
  /** Counters of every running component, for the monitoring server. */
  readonly counters: readonly ComponentCounters[];
  /**
   * Resolves once every network source of the first topology listens (at once when there is none),
   * or the agent finished or failed first: until then a client may be refused.
   */
  readonly ready: Promise<void>;
}

export interface RunAgentOptions {
  /**
   * Finish (drain and stop) once every source has ended by itself. Flume agents never do; it suits
   * runs without configuration reload, where nothing could start a new source.
   */
  finishWhenSourcesEnd?: boolean;
  /**
   * Called once, with the first error that ends a component (a source that cannot bind its port, a
   * channel that cannot open its directory), as soon as it happens; `done` rejects with it after the
   * stop. The CLI stops the agent then, rather than running on without that component.
   */
  onFatal?: (error: unknown) => void;
  /** Called as each network source listens (multiport_syslogtcp: per port), on start and on reloads. */
  onListening?: (source: string, address: { address: string; port: number }) => void;
}

/**
 * Runs a validated topology: channels, then sinks, then sources, as Flume starts them (see
 * `startTopology`); its lifecycle here: reloads, finishing once the sources ended, graceful stop.
 */
export function runAgent(initial: Topology, options: RunAgentOptions = {}): RunningAgent {
  let counters = new PipelineCounters();
  let fatal: unknown;
  let stopSources = new Subject<void>();
  let liveSources = 0;
  let replacing = false;
  let finished = false;
  let resolveReady!: () => void;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));
  const fail = (e: unknown): void => {
    resolveReady();
    if (fatal !== undefined) return;
    fatal = e;
    options.onFatal?.(e);
  };
  const channels = new ChannelSet(fail);

  let resolveFinished!: () => void;
  const allInputsClosed = new Promise<void>((resolve) => (resolveFinished = resolve));
  const done = allInputsClosed
    .then(() => Promise.all(channels.closed))
    .then(() => {
      counters.stopped();
      if (fatal !== undefined) throw fatal;
    });
  done.catch(() => undefined);

  const finish = () => {
    resolveReady();
    if (finished) return;
    finished = true;
    stopSources.next();
    channels.closeInputs();
    resolveFinished();
  };

  let initialStart = true;
  const start = (topology: Topology) => {
    channels.update(topology.channels);
    const next = new PipelineCounters().add(...topology.channels.map((p) => channels.countersOf(p.name)));
    const stop$ = stopSources;
    liveSources = topology.sources.length;
    let waiting = initialStart ? topology.sources.reduce((n, p) => n + listenersOf(p), 0) : 0;
    initialStart = false;
    if (waiting === 0) resolveReady();
    startTopology(topology, channels, {
      listening: (source, address) => {
        options.onListening?.(source, address);
        if (waiting > 0 && --waiting === 0) resolveReady();
      },
      counters: next,
      stop$,
      fail,
      sourceEnded: () => {
        // A source that ended by itself (not stopped for a reload or a stop) counts towards finishing.
        if (stop$ !== stopSources || replacing) return;
        if (--liveSources === 0 && options.finishWhenSourcesEnd) finish();
      },
    });
    next.started();
    counters = next;
  };

  try {
    start(initial);
  } catch (error) {
    // A component refused to be built: what was already started (a channel holding its files open) is released.
    finish();
    channels.tearDown();
    throw error;
  }

  let stopping: Promise<StopResult> | undefined;
  return {
    done,
    ready,
    get counters() {
      return counters.all;
    },
    metrics: () => counters.snapshot(),
    reload(topology: Topology) {
      if (finished) throw new FlumeError('FLUME_STOPPED', 'the agent has stopped; it cannot be reloaded');
      replacing = true;
      stopSources.next();
      stopSources.complete();
      stopSources = new Subject<void>();
      replacing = false;
      start(topology);
    },
    stop({ timeoutMs = 30_000 } = {}) {
      if (stopping) return stopping;
      finish();
      stopping = stopWithin(done, timeoutMs, 'agent', () => counters, () => channels.tearDown());
      return stopping;
    },
  };
}
