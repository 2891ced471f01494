/**
 * Errors with stable codes. Every error says which component raised it and whether retrying the
 * same events may succeed (`retriable`), so a source knows whether to back off or give up.
 */
export type ErrorCode =
  | 'FLUME_CONFIG'
  | 'FLUME_CHANNEL_FULL'
  | 'FLUME_CHANNEL_CLOSED'
  | 'FLUME_CHANNEL_IO'
  | 'FLUME_TRANSACTION'
  | 'FLUME_BATCH_TOO_LARGE'
  | 'FLUME_DEFERRED_EVENTS'
  | 'FLUME_SOURCE_OVERFLOW'
  | 'FLUME_SOURCE_FAILED'
  | 'FLUME_INTERCEPTOR_FAILED'
  | 'FLUME_SINK_FAILED'
  | 'FLUME_CLIENT_FAILED'
  | 'FLUME_STOP_TIMEOUT'
  | 'FLUME_STOPPED'
  | 'FLUME_BAD_EVENT'
  | 'FLUME_HDFS_NOT_FOUND'
  | 'FLUME_HDFS_EXISTS'
  | 'FLUME_HDFS_PERMISSION'
  | 'FLUME_HDFS_SAFE_MODE'
  | 'FLUME_HDFS_LEASE'
  | 'FLUME_HDFS_QUOTA'
  | 'FLUME_HDFS_BAD_REQUEST'
  | 'FLUME_HDFS_IO'
  | 'FLUME_HDFS_TIMEOUT';

/** What a code means, and whether an error with it is retriable unless the raiser says otherwise. */
export interface ErrorCodeInfo {
  meaning: string;
  retriable: boolean;
}

/**
 * Every code with its meaning, one line each; docs/errors.md is generated from it. Typed by `ErrorCode`,
 * so a code added to the union without an entry here fails to compile.
 */
export const ERROR_CODES: Readonly<Record<ErrorCode, ErrorCodeInfo>> = {
  FLUME_CONFIG: {
    meaning: 'Invalid options or configuration, found before anything runs; the error lists every problem at once.',
    retriable: false,
  },
  FLUME_CHANNEL_FULL: {
    meaning: 'A channel could not store a put within its keep-alive (full, or too little disk space); the source backs off and retries.',
    retriable: true,
  },
  FLUME_CHANNEL_CLOSED: {
    meaning: "A channel or fan-out branch closed before it stored a put, or the agent stopped before a sink took a batch; the events are still the sender's.",
    retriable: true,
  },
  FLUME_CHANNEL_IO: {
    meaning: 'A durable channel could not use its files: opening them failed (locked by another channel, unreadable), or a put could not be written (then retriable).',
    retriable: false,
  },
  FLUME_TRANSACTION: {
    meaning: 'A batch was settled twice or used after its transaction ended: a bug in the component that did it.',
    retriable: false,
  },
  FLUME_BATCH_TOO_LARGE: {
    meaning: "A put holds more events than the channel's transactionCapacity; lower the source's batch size or raise the capacity.",
    retriable: false,
  },
  FLUME_DEFERRED_EVENTS: {
    meaning:
      "A source's deferred events (checked, answered, made only when the memory channel hands them on) could not be made: a bug in that source; the channel ends with this error.",
    retriable: false,
  },
  FLUME_SOURCE_OVERFLOW: {
    meaning: "fromObservable's buffer filled (whenFull: 'error'): the application's Observable emitted faster than the pipeline took.",
    retriable: false,
  },
  FLUME_SOURCE_FAILED: {
    meaning: 'A source cannot go on (a port it cannot bind, a missing directory, a file changed while read, a missing topic) and ends with this error.',
    retriable: false,
  },
  FLUME_INTERCEPTOR_FAILED: {
    meaning: "An interceptor's function threw on a batch, which is nacked; retriable only when the function threw a retriable FlumeError.",
    retriable: false,
  },
  FLUME_SINK_FAILED: {
    meaning: 'A sink could not deliver a batch (connection, write or broker failure); it is nacked and the channel offers it again after a back-off.',
    retriable: true,
  },
  FLUME_CLIENT_FAILED: {
    meaning: "The RPC client (createRpcClient) could not deliver an append or appendBatch to any host (Flume's EventDeliveryException); the events are still the caller's. Not retriable once the client is closed.",
    retriable: true,
  },
  FLUME_STOP_TIMEOUT: {
    meaning: 'A graceful stop did not drain the channels within its timeout; the pipeline was torn down and the message says how many events were left.',
    retriable: false,
  },
  FLUME_BAD_EVENT: {
    meaning: "An event cannot be handled as it is (a header names an impossible Kafka partition, a path escape gives no valid path); retrying the same events cannot help.",
    retriable: false,
  },
  FLUME_STOPPED: {
    meaning: 'The agent was asked to reload after it had stopped.',
    retriable: false,
  },
  FLUME_HDFS_NOT_FOUND: {
    meaning: 'An HDFS path (or the parent of a file to create) does not exist (FileNotFoundException).',
    retriable: false,
  },
  FLUME_HDFS_EXISTS: {
    meaning: 'An HDFS file to create already exists (FileAlreadyExistsException); files are never overwritten.',
    retriable: false,
  },
  FLUME_HDFS_PERMISSION: {
    meaning: 'HDFS refused the user (AccessControlException, an impersonation not allowed by hadoop.proxyuser rules, or failed authentication).',
    retriable: false,
  },
  FLUME_HDFS_SAFE_MODE: {
    meaning: 'The NameNode is in safe mode and takes no writes; retried after a back-off.',
    retriable: true,
  },
  FLUME_HDFS_LEASE: {
    meaning: 'Another writer holds the lease on an HDFS file, or its lease is being recovered; retried after a back-off.',
    retriable: true,
  },
  FLUME_HDFS_QUOTA: {
    meaning: 'An HDFS name or space quota is exceeded.',
    retriable: false,
  },
  FLUME_HDFS_BAD_REQUEST: {
    meaning: 'HDFS rejected a request as invalid (a bad parameter or path, a non-empty directory, a parent that is a file).',
    retriable: false,
  },
  FLUME_HDFS_IO: {
    meaning: 'An HDFS request failed on the way (connection refused or reset, a server error, a DataNode failure); retried after a back-off.',
    retriable: true,
  },
  FLUME_HDFS_TIMEOUT: {
    meaning: 'An HDFS request did not complete within its timeout; a write may have been applied in part.',
    retriable: true,
  },
};

export interface FlumeErrorOptions {
  component?: string | undefined;
  retriable?: boolean;
  cause?: unknown;
}

export class FlumeError extends Error {
  readonly code: ErrorCode;
  readonly component: string | undefined;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: FlumeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.component = options.component;
    // A code says whether retrying may help; the raiser may know better (an I/O error on a put is, on open it is not).
    this.retriable = options.retriable ?? ERROR_CODES[code].retriable;
  }
}

/** One bad option: where it is, what was expected, what was given. */
export interface ConfigIssue {
  /** Dotted path including the component, e.g. `memoryChannel.capacity`. */
  path: string;
  expected: string;
  received: string;
  /** A close valid key for an unknown one ("did you mean …"). */
  suggestion?: string;
}

/** Invalid options or configuration. Lists every problem at once, never only the first. */
export class ConfigError extends FlumeError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options: FlumeErrorOptions = {}) {
    super('FLUME_CONFIG', formatIssues(issues), { ...options, retriable: false });
    this.issues = issues;
  }
}

export function formatIssue(issue: ConfigIssue): string {
  const hint = issue.suggestion ? ` (did you mean \`${issue.suggestion}\`?)` : '';
  return `${issue.path}: expected ${issue.expected}, received ${issue.received}${hint}`;
}

function formatIssues(issues: readonly ConfigIssue[]): string {
  if (issues.length === 1) return formatIssue(issues[0]!);
  return `${issues.length} configuration errors:\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`;
}

/** A put could not be stored within keep-alive: the sinks are not keeping up. Retriable. */
export class ChannelFullError extends FlumeError {
  constructor(message: string, options: FlumeErrorOptions = {}) {
    super('FLUME_CHANNEL_FULL', message, { ...options, retriable: true });
  }
}

/** A batch was settled twice, or used after its transaction ended. A programming error. */
export class TransactionError extends FlumeError {
  constructor(message: string, options: FlumeErrorOptions = {}) {
    super('FLUME_TRANSACTION', message, { ...options, retriable: false });
  }
}

/** The same class under its former name: every component error is a FlumeError with a code. */
export const ComponentError = FlumeError;
export type ComponentError = FlumeError;

export function isRetriable(error: unknown): boolean {
  return error instanceof FlumeError ? error.retriable : true;
}

export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/**
 * One line for a log or a diagnostic: the error's message followed by the causes that add something
 * (a cause whose text the message already holds is not repeated), control characters made visible.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let at: unknown = error;
  for (let depth = 0; at !== undefined && at !== null && depth < 4; depth++) {
    const text = at instanceof Error ? at.message || at.name : String(at);
    const code = (at as { code?: unknown }).code;
    const withCode = typeof code === 'string' && !/^FLUME_/.test(code) && !text.includes(code) ? `${text} (${code})` : text;
    if (!parts.some((p) => p.includes(text))) parts.push(withCode);
    at = at instanceof Error ? at.cause : undefined;
  }
  return printable(parts.join(': '));
}

/** Control characters (a config value or a peer's bytes echoed back) shown as escapes, never sent to a terminal. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, (c) => (c === '\n' ? '\\n' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}
