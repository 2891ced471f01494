import type { FlumeEvent } from '../../core/event.js';

/**
 * The syslog family's shared parts: Flume's `SyslogUtils` message parser and an RFC 6587 framer for
 * TCP (newline and octet-counting). Facts from Flume 1.11 `SyslogUtils`; where Flume is plainly
 * wrong (timestamps whose zone it ignores, fractions read as whole milliseconds, CRLF senders
 * getting raw bodies, priorities up to 999 giving facilities past 23, impossible dates rolled over
 * by a lenient SimpleDateFormat) this parser does the right thing instead: the last two are flagged
 * `Invalid`, as Flume flags a malformed priority.
 */

export type SyslogField = 'priority' | 'version' | 'timestamp' | 'hostname';

/** `none`, `all` (the raw message is the body) or the fields prepended to the body (Flume keepFields). */
export type KeepFields = 'none' | 'all' | readonly SyslogField[];

export interface ParseOptions {
  keepFields: KeepFields;
  /** The frame was cut at eventSize: flagged `flume.syslog.status: Incomplete`. */
  incomplete?: boolean;
  /** Epoch ms "now", for the year of RFC 3164 stamps (and the nil timestamp, with `multiport`). */
  now: number;
  /**
   * Flume's multiport source parses with its own `SyslogParser`: headers `Priority` and `Version`
   * (capitalised), the nil timestamp `-` stamped with now, the nil host name kept as `host: -`, and a
   * message it cannot read (no valid PRI, or a header that does not parse) carries only
   * `flume.syslog.status: Invalid`.
   */
  multiport?: boolean | undefined;
}

export const SYSLOG_STATUS = 'flume.syslog.status';

/** facility 23 × 8 + severity 7 (RFC 5424 §6.2.1). */
const MAX_PRIORITY = 191;

// Flume's patterns (SyslogUtils SYSLOG_MSG_RFC5424_0 / RFC3164_0), run over the latin1 view of the
// bytes so that string offsets are byte offsets. The body may span any bytes (octet-counted frames).
const RFC5424 =
  /^<(\d{1,3})>(\d?)\s?(?:(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:[+-]\d{2}:\d{2}|Z)?)|-)\s(?:([\w][\w\d.@-]*)|-)\s/;
const RFC3164 = /^<(\d{1,3})>(\d)?\s?([A-Z][a-z][a-z]\s{1,2}\d{1,2}\s\d{2}:\d{2}:\d{2})\s([\w][\w\d.@-]*)\s/;
const STAMP_5424 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|([+-])(\d{2}):(\d{2}))?$/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Flume's keepFields property value (`none`, `false`, `all`, `true`, or a list naming fields). */
export function keepFieldsFromFlume(value: string): KeepFields {
  const v = value.trim().toLowerCase();
  if (v === 'false' || v === 'none' || v === '') return 'none';
  if (v === 'true' || v === 'all') return 'all';
  // Flume looks for each field name as a substring, so "priority,hostname" and "priority hostname" both work.
  return (['priority', 'version', 'timestamp', 'hostname'] as const).filter((f) => v.includes(f));
}

/**
 * One syslog message (a frame without its delimiter) as Flume's event: headers `Facility`,
 * `Severity`, `priority`, `version`, `timestamp` (epoch ms), `host`, and `flume.syslog.status`
 * (`Invalid` when the priority is missing, malformed or above 191, or the timestamp names a date or
 * time that does not exist; `Incomplete` when cut at eventSize). An RFC 3164 stamp whose month is no
 * English month name leaves the timestamp out, the rest parsed (Flume's SimpleDateFormat fails there).
 * The body is the message after the header (with the kept fields before it), or the whole frame when
 * it is invalid or its header does not parse. Never throws.
 */
export function parseSyslog(frame: Buffer, options: ParseOptions): FlumeEvent {
  const multiport = options.multiport === true;
  const pri = priorityOf(frame);
  if (pri === undefined || pri > MAX_PRIORITY) return invalid(frame, multiport);
  const headers: Record<string, string> = { Facility: String(Math.floor(pri / 8)), Severity: String(pri % 8) };
  let body = frame;
  const text = frame.toString('latin1');
  const m5424 = RFC5424.exec(text);
  const m = m5424 ?? RFC3164.exec(text);
  if (!m && multiport) return invalid(frame, multiport);
  if (m) {
    const [head, priority, version, stamp, host] = m as unknown as [string, string, string | undefined, string | undefined, string | undefined];
    headers[multiport ? 'Priority' : 'priority'] = priority;
    if (version) headers[multiport ? 'Version' : 'version'] = version;
    if (stamp !== undefined) {
      const ms = m5424 ? parse5424(stamp) : parse3164(stamp, options.now);
      if (ms === undefined) return invalid(frame, multiport);
      // A month name Java does not know: Flume parses the rest and leaves the timestamp out.
      if (ms !== null) headers['timestamp'] = String(ms);
    } else if (multiport && m5424) headers['timestamp'] = String(options.now);
    // Flume's multiport parser takes the nil host name `-` as the name.
    if (host) headers['host'] = host;
    else if (multiport) headers['host'] = '-';
    const keep = options.keepFields;
    if (keep !== 'all') {
      body = frame.subarray(head.length);
      if (keep !== 'none' && keep.length > 0) {
        // Flume prepends in this order: <priority>version timestamp hostname body.
        let prefix = '';
        if (keep.includes('priority')) prefix += `<${priority}>`;
        if (keep.includes('version') && version) prefix += `${version} `;
        if (keep.includes('timestamp')) prefix += `${stamp ?? '-'} `;
        if (keep.includes('hostname')) prefix += `${host ?? '-'} `;
        body = Buffer.concat([Buffer.from(prefix, 'latin1'), body]);
      }
    }
  }
  if (options.incomplete) headers[SYSLOG_STATUS] = 'Incomplete';
  return { headers, body };
}

/** Flume's shape for what it cannot read: the whole frame as body (multiport: no Facility/Severity either). */
function invalid(frame: Buffer, multiport: boolean): FlumeEvent {
  return { headers: multiport ? { [SYSLOG_STATUS]: 'Invalid' } : { Facility: '0', Severity: '0', [SYSLOG_STATUS]: 'Invalid' }, body: frame };
}

/** The `<PRI>` value, or undefined when the frame does not start with 1–3 digits in angle brackets. */
function priorityOf(frame: Buffer): number | undefined {
  if (frame[0] !== 0x3c) return undefined;
  let pri = 0;
  for (let i = 1; i < frame.length && i <= 4; i++) {
    const b = frame[i]!;
    if (b === 0x3e) return i === 1 ? undefined : pri;
    if (b < 0x30 || b > 0x39) return undefined;
    pri = pri * 10 + (b - 0x30);
  }
  return undefined;
}

/** Days in a month (1–12) of a proleptic Gregorian year. */
function daysIn(year: number, month: number): number {
  return month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function validTime(h: number, mi: number, s: number): boolean {
  // RFC 5424 §6.2.3: no leap seconds.
  return h <= 23 && mi <= 59 && s <= 59;
}

/** Epoch ms of a local or UTC date-time; years below 100 stay themselves (Date would read them as 19xx). */
function epoch(utc: boolean, y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  const t = new Date(0);
  if (utc) {
    t.setUTCFullYear(y, mo - 1, d);
    t.setUTCHours(h, mi, s, ms);
  } else {
    t.setFullYear(y, mo - 1, d);
    t.setHours(h, mi, s, ms);
  }
  return t.getTime();
}

/** Epoch ms of an RFC 5424 stamp, or undefined when that date, time or offset does not exist. */
function parse5424(stamp: string): number | undefined {
  const m = STAMP_5424.exec(stamp);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || !validTime(h, mi, s)) return undefined;
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  if (m[8] === undefined) return epoch(false, y, mo, d, h, mi, s, ms);
  const utc = epoch(true, y, mo, d, h, mi, s, ms);
  if (m[8] === 'Z') return utc;
  const [oh, om] = [Number(m[10]), Number(m[11])];
  if (oh > 23 || om > 59) return undefined;
  const offset = (oh * 60 + om) * 60_000;
  return m[9] === '+' ? utc - offset : utc + offset;
}

/**
 * `MMM d HH:mm:ss` in local time, in the year that puts it within 11 months before to 1 month after
 * now (Flume's window); undefined when no such date or time exists in that year, null when the month
 * is not an English month name.
 */
function parse3164(stamp: string, now: number): number | null | undefined {
  const m = /^([A-Z][a-z][a-z])\s{1,2}(\d{1,2})\s(\d{2}):(\d{2}):(\d{2})$/.exec(stamp);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1]!);
  if (month < 0) return null;
  const [day, h, mi, s] = [m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number];
  if (day < 1 || day > 31 || !validTime(h, mi, s)) return undefined;
  const at = (year: number, monthShift = 0): number => epoch(false, year, month + 1 + monthShift, day, h, mi, s, 0);
  let year = new Date(now).getUTCFullYear();
  const t = at(year);
  if (t > now && at(year, -1) > now) year--;
  else if (t < now && at(year, 11) < now) year++;
  return day <= daysIn(year, month + 1) ? at(year) : undefined;
}

export interface Frame {
  bytes: Buffer;
  /** Cut at the size limit. */
  incomplete: boolean;
}

/**
 * RFC 6587 framing for syslog over TCP, decided per message: a frame starting with a digit 1–9
 * followed by digits and a space is octet-counted (`MSG-LEN SP MSG`), anything else runs to the next
 * `\n` (empty lines are skipped, as in Flume). At most `maxSize` bytes of a message are kept: a
 * newline-framed message is cut there and its rest becomes the next message (Flume's behaviour); an
 * octet-counted one keeps its head and skips the rest. Memory per connection is bounded by `maxSize`.
 */
export class SyslogFramer {
  private parts: Buffer[] = [];
  private size = 0;
  private mode: 'start' | 'digits' | 'line' | 'octets' = 'start';
  private digits = '';
  private remaining = 0;
  private counted = 0;

  constructor(private readonly maxSize: number) {}

  /**
   * Appends the frames completed by `chunk` to `out`, stopping once `out` holds `limit` frames;
   * returns how many bytes of `chunk` it consumed (the rest is for a later call).
   */
  push(chunk: Buffer, out: Frame[], limit = Infinity): number {
    let i = 0;
    while (i < chunk.length && out.length < limit) {
      switch (this.mode) {
        case 'start': {
          const b = chunk[i]!;
          // An empty line is no message (Flume skips it too).
          if (b === 0x0a) i++;
          else if (b >= 0x31 && b <= 0x39) {
            this.mode = 'digits';
            this.digits = '';
          } else this.mode = 'line';
          break;
        }
        case 'digits': {
          const b = chunk[i]!;
          if (b >= 0x30 && b <= 0x39 && this.digits.length < 9) {
            this.digits += String.fromCharCode(b);
            i++;
          } else if (b === 0x20) {
            i++;
            this.remaining = Number(this.digits);
            this.counted = this.remaining;
            this.mode = 'octets';
          } else {
            // Not a length: the digits open a newline-framed message.
            this.mode = 'line';
            this.append(Buffer.from(this.digits, 'latin1'), out);
          }
          break;
        }
        case 'line': {
          const nl = chunk.indexOf(0x0a, i);
          const end = nl < 0 ? chunk.length : nl;
          const take = Math.min(end - i, this.maxSize - this.size);
          this.parts.push(chunk.subarray(i, i + take));
          this.size += take;
          i += take;
          if (this.size >= this.maxSize) {
            this.emit(out, true);
            this.mode = 'start';
          } else if (nl >= 0) {
            i = nl + 1;
            this.emit(out, false);
            this.mode = 'start';
          }
          break;
        }
        case 'octets': {
          const n = Math.min(this.remaining, chunk.length - i);
          const keep = Math.min(n, this.maxSize - this.size);
          if (keep > 0) {
            this.parts.push(chunk.subarray(i, i + keep));
            this.size += keep;
          }
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.emit(out, this.counted > this.maxSize);
            this.mode = 'start';
          }
          break;
        }
      }
    }
    return i;
  }

  /** A newline-framed message is cut at maxSize here too (the digits of a non-length). */
  private append(bytes: Buffer, out: Frame[]): void {
    this.parts.push(bytes);
    this.size += bytes.length;
    if (this.size >= this.maxSize) {
      this.emit(out, true);
      this.mode = 'start';
    }
  }

  private emit(out: Frame[], incomplete: boolean): void {
    // Copied: frames must not pin the connection's read buffers.
    const bytes = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    out.push({ bytes, incomplete });
  }
}
