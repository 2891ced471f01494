import { z } from 'zod';

/**
 * How components report what counters alone cannot say (a sink that keeps failing and why, a
 * recovery that dropped records). One signature for every component: a component takes an optional
 * `logger` option; without one its lines go to the process-wide log, which the agent points at its
 * pino logger and which writes plain lines to stderr otherwise.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type ComponentLogger = (level: LogLevel, message: string, fields?: Readonly<Record<string, unknown>>) => void;

export interface LogEntry {
  level: LogLevel;
  component: string;
  message: string;
  fields?: Readonly<Record<string, unknown>> | undefined;
}

const stderrLog = (e: LogEntry): void => {
  process.stderr.write(`${new Date().toISOString()} ${e.level.toUpperCase()} ${e.component}: ${e.message}\n`);
};

let processLog: (entry: LogEntry) => void = stderrLog;

/** Routes every component's log lines (those without a `logger` of their own); `undefined` restores stderr. */
export function setProcessLog(log: ((entry: LogEntry) => void) | undefined): void {
  processLog = log ?? stderrLog;
}

/** The logger a component uses: its own `logger` option, or the process-wide log under its name. */
export function componentLogger(name: string, own?: ComponentLogger): ComponentLogger {
  return own ?? ((level, message, fields) => processLog({ level, component: name, message, fields }));
}

/** The `logger` option every component that logs declares (spread into its schema). */
export const loggerOption = {
  logger: z
    .custom<ComponentLogger>((v) => typeof v === 'function', { message: 'a function (level, message, fields?) => void' })
    .optional()
    .describe("Receives this component's warnings and errors; by default the process-wide log (the agent's, or stderr)."),
};

/**
 * A warning that may repeat many times a second (a sink whose destination is down): the first
 * occurrence of each kind is logged at once, later ones within `intervalMs` only counted and then
 * summarised in one line with the last cause, so a failing destination neither floods the log nor
 * goes unseen. Kinds are keyed by the caller (e.g. the error code).
 */
export class RateLimitedLog {
  private readonly kinds = new Map<string, { since: number; suppressed: number; last: string; level: LogLevel }>();

  constructor(
    private readonly log: ComponentLogger,
    private readonly intervalMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  write(level: LogLevel, kind: string, message: string, fields?: Readonly<Record<string, unknown>>): void {
    const t = this.now();
    const seen = this.kinds.get(kind);
    if (seen === undefined || t - seen.since >= this.intervalMs) {
      if (seen && seen.suppressed > 0) this.summarise(seen);
      this.kinds.set(kind, { since: t, suppressed: 0, last: message, level });
      this.log(level, message, fields);
      return;
    }
    seen.suppressed++;
    seen.last = message;
  }

  /** Says what was suppressed and forgets it: call when the condition cleared (a write succeeded) and on close. */
  flush(): void {
    for (const seen of this.kinds.values()) if (seen.suppressed > 0) this.summarise(seen);
    this.kinds.clear();
  }

  private summarise(seen: { since: number; suppressed: number; last: string; level: LogLevel }): void {
    const secs = Math.max(1, Math.round((this.now() - seen.since) / 1000));
    this.log(seen.level, `${seen.suppressed} more like this in the last ${secs} s; the last: ${seen.last}`, { suppressed: seen.suppressed });
    seen.suppressed = 0;
  }
}
