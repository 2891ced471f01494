/**
 * System-call traces for durability tests: run a command under `strace -f -yy -xx`, then read the output
 * as a list of calls, each with its file descriptor's path (strace's `-yy` decoding, taken when the call
 * ran), the file instance it belongs to (one per open), and the bytes it wrote or read.
 *
 * Why strace: a SIGKILL cannot show a missing fsync (the page cache outlives the process); the order of
 * the calls can. Lines are ordered as strace printed them, which is the order the kernel ran them in
 * across threads: a call's `end` (the line carrying its result) before another's `start` means it had
 * returned before the other began.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

export const STRACE = '/usr/bin/strace';

/** The calls the durability tests look at. */
export const DURABILITY_CALLS = [
  'openat', 'close', 'read', 'write', 'writev', 'pwrite64', 'pwritev', 'pwritev2',
  'fdatasync', 'fsync', 'rename', 'renameat', 'renameat2',
] as const;

export interface Syscall {
  pid: number;
  /** Line index where the call began. */
  start: number;
  /** Line index where its result was printed (equal to start when it was not interrupted). */
  end: number;
  /** Wall-clock time of the call's start, as printed (`HH:MM:SS.micro`). */
  time: string;
  name: string;
  /** The call's result: a number, or -1 with `errno` set. */
  result: number;
  errno?: string;
  /** The file descriptor argument (for openat: the descriptor returned). */
  fd?: number;
  /** The descriptor's path (for openat: the path opened; for a socket: strace's `TCP:[a->b]`). */
  path?: string;
  /** One number per opened file: calls on the same descriptor between one open and the next share it. */
  file?: number;
  /** Bytes written (write family) or read (read), as printed: `truncated` when strace cut them. */
  data?: Buffer;
  truncated?: boolean;
  /** rename*: the old and the new path. */
  from?: string;
  to?: string;
}

/** A signal delivered to a traced process (`--- SIGTERM {...} ---`), at its line index. */
export interface SignalLine {
  pid: number;
  index: number;
  signal: string;
}

export interface Trace {
  calls: Syscall[];
  signals: SignalLine[];
}

const LINE = /^(\d+)\s+(\d\d:\d\d:\d\d\.\d+)\s+(.*)$/;
const RESUMED = /^<\.\.\. (\w+) resumed>(.*)$/;
const UNFINISHED = ' <unfinished ...>';
const SIGNAL = /^--- (SIG\w+) /;
const RESULT = /\)\s+=\s+(-?\d+|\?)(?:<[^>]*>)?(?:\s+(E[A-Z0-9]+))?(?:\s.*)?$/;

/** Parses strace output (`-f -tt -yy -xx` form); lines it does not know (exits, signals but kept) are skipped. */
export function parseStrace(text: string): Trace {
  const calls: Syscall[] = [];
  const signals: SignalLine[] = [];
  const pending = new Map<number, { start: number; time: string; head: string }>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = LINE.exec(lines[i]!);
    if (!m) continue;
    const pid = Number(m[1]);
    const time = m[2]!;
    let body = m[3]!;
    const sig = SIGNAL.exec(body);
    if (sig) {
      signals.push({ pid, index: i, signal: sig[1]! });
      continue;
    }
    if (body.startsWith('+++')) continue;
    let start = i;
    let callTime = time;
    const resumed = RESUMED.exec(body);
    if (resumed) {
      const head = pending.get(pid);
      if (!head) continue;
      pending.delete(pid);
      start = head.start;
      callTime = head.time;
      body = head.head + resumed[2]!;
    } else if (body.endsWith(UNFINISHED)) {
      pending.set(pid, { start: i, time, head: body.slice(0, -UNFINISHED.length) });
      continue;
    }
    const call = parseCall(body);
    if (call) calls.push({ pid, start, end: i, time: callTime, ...call });
  }
  assignFiles(calls);
  return { calls, signals };
}

type Parsed = Omit<Syscall, 'pid' | 'start' | 'end' | 'time'>;

function parseCall(body: string): Parsed | undefined {
  const open = body.indexOf('(');
  if (open <= 0) return undefined;
  const name = body.slice(0, open);
  const res = RESULT.exec(body);
  if (!res) return undefined;
  const args = body.slice(open + 1, res.index);
  const result = res[1] === '?' ? -1 : Number(res[1]);
  const call: Parsed = { name, result };
  if (res[2]) call.errno = res[2];
  const tokens = splitArgs(args);
  const fdArg = (t: string | undefined): void => {
    const fm = t === undefined ? null : /^(-?\d+)(?:<(.*)>)?$/s.exec(t);
    if (!fm) return;
    call.fd = Number(fm[1]);
    if (fm[2] !== undefined) call.path = decode(fm[2]).data.toString('latin1');
  };
  switch (name) {
    case 'openat': {
      call.path = str(tokens[1]);
      if (result >= 0) call.fd = result;
      break;
    }
    case 'rename':
      call.from = str(tokens[0]);
      call.to = str(tokens[1]);
      break;
    case 'renameat':
    case 'renameat2':
      call.from = str(tokens[1]);
      call.to = str(tokens[3]);
      break;
    case 'write':
    case 'pwrite64':
    case 'read': {
      fdArg(tokens[0]);
      const s = tokens[1] !== undefined && tokens[1].startsWith('"') ? decode(tokens[1]) : undefined;
      if (s) {
        call.data = name === 'read' && result >= 0 ? s.data.subarray(0, result) : s.data;
        if (s.truncated) call.truncated = true;
      }
      break;
    }
    case 'writev':
    case 'pwritev':
    case 'pwritev2': {
      fdArg(tokens[0]);
      const parts: Buffer[] = [];
      let truncated = false;
      for (const iov of (tokens[1] ?? '').matchAll(/iov_base=("(?:[^"\\]|\\.)*"(?:\.\.\.)?)/g)) {
        const s = decode(iov[1]!);
        parts.push(s.data);
        truncated ||= s.truncated;
      }
      if ((tokens[1] ?? '').includes('...}') || (tokens[1] ?? '').endsWith(', ...]')) truncated = true;
      call.data = Buffer.concat(parts);
      if (truncated) call.truncated = true;
      break;
    }
    default:
      fdArg(tokens[0]);
  }
  return call;
}

/** Splits a call's arguments at top-level commas (outside strings, brackets, braces and `<...>`). */
export function splitArgs(args: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inStr = false;
  let from = 0;
  for (let i = 0; i < args.length; i++) {
    const c = args[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '<') {
      // A descriptor's path (`-yy`): a socket's (`TCP:[a->b]`) is not escaped, so it runs to the '>' ending the argument.
      const end = /[>](?=\s*(,|$))/.exec(args.slice(i));
      if (end) i += end.index;
    } else if (c === '[' || c === '{' || c === '(') depth++;
    else if (c === ']' || c === '}' || c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(args.slice(from, i).trim());
      from = i + 1;
    }
  }
  if (args.trim() !== '') out.push(args.slice(from).trim());
  return out;
}

function str(token: string | undefined): string | undefined {
  return token?.startsWith('"') ? decode(token).data.toString('latin1') : undefined;
}

const SIMPLE: Record<string, number> = { n: 10, t: 9, r: 13, v: 11, f: 12, '\\': 92, '"': 34 };

/** Decodes a strace string (`"..."`, C escapes: `\xHH`, octal, `\n` …; `"..."...` when cut at `-s`). */
export function decode(token: string): { data: Buffer; truncated: boolean } {
  let s = token;
  let truncated = false;
  if (s.endsWith('...')) {
    truncated = true;
    s = s.slice(0, -3);
  }
  if (s.startsWith('"') && s.endsWith('"') && s.length >= 2) s = s.slice(1, -1);
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      bytes.push(c.charCodeAt(0) & 0xff);
      continue;
    }
    const n = s[++i]!;
    if (n === 'x') {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (n >= '0' && n <= '7') {
      let j = i;
      while (j < i + 3 && s[j]! >= '0' && s[j]! <= '7') j++;
      bytes.push(parseInt(s.slice(i, j), 8));
      i = j - 1;
    } else bytes.push(SIMPLE[n] ?? n.charCodeAt(0));
  }
  return { data: Buffer.from(bytes), truncated };
}

/** Numbers the file instances: a descriptor's calls belong to the last open that returned it. */
function assignFiles(calls: Syscall[]): void {
  const current = new Map<number, number>();
  let next = 0;
  for (const c of [...calls].sort((a, b) => a.end - b.end)) {
    if (c.fd === undefined) continue;
    if (c.name === 'openat') {
      current.set(c.fd, ++next);
      c.file = next;
    } else {
      // A descriptor open before tracing began (or inherited) gets a number at its first call.
      if (!current.has(c.fd)) current.set(c.fd, ++next);
      c.file = current.get(c.fd)!;
      if (c.name === 'close') current.delete(c.fd);
    }
  }
}

/** Whether strace can trace here (installed, and ptrace allowed); the reason when it cannot. */
export function straceProblem(): string | undefined {
  try {
    execFileSync(STRACE, ['-f', '-o', '/dev/null', 'true'], { stdio: 'pipe', timeout: 10_000 });
    return undefined;
  } catch (error) {
    return `strace cannot run (${STRACE}): ${(error as Error).message.split('\n')[0]}`;
  }
}

export interface TracedProcess {
  child: ChildProcess;
  /** The traced command's output so far (stdout and stderr). */
  output(): string;
  /** Reads and parses what strace has written so far. */
  trace(): Trace;
  /** Sends `signal` to the traced command (not to strace), then waits (20 s, then SIGKILL) for both to end. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs `command` under strace into `outFile`, tracing `calls` in every thread and child. Strings are
 * printed in full up to `maxString` bytes (hex, so that bodies compare byte for byte).
 */
export function spawnTraced(
  command: string,
  args: readonly string[],
  opts: { outFile: string; calls?: readonly string[]; maxString?: number; cwd?: string; env?: NodeJS.ProcessEnv },
): TracedProcess {
  const calls = opts.calls ?? DURABILITY_CALLS;
  const child = spawn(
    STRACE,
    ['-f', '-tt', '-yy', '-xx', '-s', String(opts.maxString ?? 65536), '-e', `trace=${calls.join(',')}`, '-o', opts.outFile, command, ...args],
    { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const read = (): string => (existsSync(opts.outFile) ? readFileSync(opts.outFile, 'utf8') : '');
  return {
    child,
    output: () => out,
    trace: () => parseStrace(read()),
    async stop(signal = 'SIGTERM') {
      // The traced command is the first process strace names.
      const pid = Number(/^(\d+)\s/.exec(read())?.[1]);
      if (child.exitCode === null && child.signalCode === null && pid > 0) signalPid(pid, signal);
      const timer = setTimeout(() => {
        if (pid > 0) signalPid(pid, 'SIGKILL');
        child.kill('SIGKILL');
      }, 20_000);
      try {
        await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Signals a process that may have exited already. */
function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** The first call matching `pred` whose index range lies within (after, before). */
export function callBetween(calls: readonly Syscall[], after: number, before: number, pred: (c: Syscall) => boolean): Syscall | undefined {
  return calls.find((c) => c.start > after && c.end < before && pred(c));
}

export const isSync = (c: Syscall): boolean => (c.name === 'fdatasync' || c.name === 'fsync') && c.result === 0;
export const isWrite = (c: Syscall): boolean => /^(p?write(v|v2|64)?)$/.test(c.name) && c.result >= 0;
