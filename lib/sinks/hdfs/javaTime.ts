/**
 * The Java date handling Flume's HDFS sink path escapes rely on, for one zone at a time: Java's
 * `TimeZone.getTimeZone` IDs, the `SimpleDateFormat` fields its escapes use (English names, as a JVM
 * in an English locale prints them) and `TimestampRoundDownUtil`'s rounding in that zone.
 */

/** A time zone as Java resolves an ID: its offset from UTC at an instant. */
export interface Zone {
  readonly id: string;
  /** Milliseconds to add to UTC to get the zone's local time at `ms`. */
  offsetAt(ms: number): number;
}

/** Java's legacy three-letter IDs (`ZoneId.SHORT_IDS`, as `TimeZone.getTimeZone` maps them). */
const SHORT_IDS: Readonly<Record<string, string>> = {
  ACT: 'Australia/Darwin',
  AET: 'Australia/Sydney',
  AGT: 'America/Argentina/Buenos_Aires',
  ART: 'Africa/Cairo',
  AST: 'America/Anchorage',
  BET: 'America/Sao_Paulo',
  BST: 'Asia/Dhaka',
  CAT: 'Africa/Harare',
  CNT: 'America/St_Johns',
  CST: 'America/Chicago',
  CTT: 'Asia/Shanghai',
  EAT: 'Africa/Addis_Ababa',
  ECT: 'Europe/Paris',
  IET: 'America/Indiana/Indianapolis',
  IST: 'Asia/Kolkata',
  JST: 'Asia/Tokyo',
  MIT: 'Pacific/Apia',
  NET: 'Asia/Yerevan',
  NST: 'Pacific/Auckland',
  PLT: 'Asia/Karachi',
  PNT: 'America/Phoenix',
  PRT: 'America/Puerto_Rico',
  PST: 'America/Los_Angeles',
  SST: 'Pacific/Guadalcanal',
  VST: 'Asia/Ho_Chi_Minh',
};
/** Fixed offsets among Java's short IDs (no daylight saving), in minutes. */
const FIXED_SHORT_IDS: Readonly<Record<string, number>> = { EST: -300, MST: -420, HST: -600 };

const fixed = (id: string, minutes: number): Zone => ({ id, offsetAt: () => minutes * 60_000 });

const SLOT = 15 * 60_000;

/** An IANA zone through Intl; offsets cached per 15-minute slot (zone transitions fall on that grid). */
function ianaZone(id: string): Zone {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: id,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
    era: 'short',
  });
  const cache = new Map<number, number>();
  const compute = (ms: number): number => {
    const parts: Record<string, string> = {};
    for (const p of format.formatToParts(new Date(ms))) parts[p.type] = p.value;
    let year = Number(parts['year']);
    if (parts['era'] === 'BC' || parts['era'] === 'B') year = 1 - year;
    const d = new Date(0);
    d.setUTCFullYear(year, Number(parts['month']) - 1, Number(parts['day']));
    d.setUTCHours(Number(parts['hour']), Number(parts['minute']), Number(parts['second']), 0);
    return d.getTime() - Math.floor(ms / 1000) * 1000;
  };
  return {
    id: format.resolvedOptions().timeZone,
    offsetAt(ms: number): number {
      const slot = Math.floor(ms / SLOT);
      let offset = cache.get(slot);
      if (offset === undefined) {
        offset = compute(slot * SLOT);
        if (cache.size > 4096) cache.clear();
        cache.set(slot, offset);
      }
      return offset;
    },
  };
}

/**
 * The process's own zone (Flume: the JVM's default, from TZ or the system), resolved when first used:
 * Intl's first call loads ICU's data (+12 MB RSS measured), which a path without time escapes never needs.
 */
export function localZone(): Zone {
  let zone: Zone | undefined;
  const resolved = () => (zone ??= ianaZone(Intl.DateTimeFormat().resolvedOptions().timeZone));
  return {
    get id() {
      return resolved().id;
    },
    offsetAt: (ms) => resolved().offsetAt(ms),
  };
}

/**
 * The zone of a Java time zone ID: an IANA name (`Europe/Paris`), `UTC`/`GMT`, a custom `GMT+h`,
 * `GMT-hh:mm` or `GMT+hhmm`, or one of Java's legacy three-letter IDs (`PST`, `EST`, …). Java turns an
 * unknown ID into GMT silently; this throws a RangeError naming the accepted forms instead.
 */
export function resolveZone(id: string): Zone {
  const trimmed = id.trim();
  if (/^(UTC|GMT|UT|Z)$/i.test(trimmed)) return fixed(trimmed.toUpperCase(), 0);
  const custom = /^GMT([+-])(\d{1,2})(?::?(\d{2}))?$/.exec(trimmed);
  if (custom) {
    const hours = Number(custom[2]);
    const minutes = Number(custom[3] ?? 0);
    if (hours <= 23 && minutes <= 59) return fixed(trimmed, (custom[1] === '-' ? -1 : 1) * (hours * 60 + minutes));
  }
  const fixedShort = FIXED_SHORT_IDS[trimmed];
  if (fixedShort !== undefined) return fixed(trimmed, fixedShort);
  try {
    return ianaZone(SHORT_IDS[trimmed] ?? trimmed);
  } catch {
    throw new RangeError(`${JSON.stringify(id)} is not a time zone: use an IANA name (Europe/Paris), UTC, GMT+hh:mm or a Java short ID (PST)`);
  }
}

/** Calendar fields of an instant in a zone. */
export interface LocalTime {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday */
  weekday: number;
  dayOfYear: number;
  /** Minutes east of UTC. */
  offsetMinutes: number;
}

export function localTime(ms: number, zone: Zone): LocalTime {
  const offset = zone.offsetAt(ms);
  const d = new Date(ms + offset);
  const year = d.getUTCFullYear();
  const startOfYear = new Date(0);
  startOfYear.setUTCFullYear(year, 0, 1);
  return {
    year,
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    weekday: d.getUTCDay(),
    dayOfYear: Math.floor((d.getTime() - startOfYear.getTime()) / 86_400_000) + 1,
    offsetMinutes: Math.round(offset / 60_000),
  };
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const hour12 = (h: number): number => (h % 12 === 0 ? 12 : h % 12);

/** `SimpleDateFormat` of one of the patterns Flume's escapes use, in English. */
export type JavaPattern = 'EEE' | 'EEEE' | 'MMM' | 'MMMM' | 'EEE MMM d HH:mm:ss yyyy' | 'dd' | 'd' | 'MM/dd/yy' | 'HH' | 'hh' | 'DDD' | 'H' | 'h' | 'MM' | 'mm' | 'M' | 'a' | 'ss' | 'yy' | 'yyyy' | 'ZZZ';

export function formatJava(pattern: JavaPattern, t: LocalTime): string {
  switch (pattern) {
    case 'EEE':
      return DAYS[t.weekday]!.slice(0, 3);
    case 'EEEE':
      return DAYS[t.weekday]!;
    case 'MMM':
      return MONTHS[t.month - 1]!.slice(0, 3);
    case 'MMMM':
      return MONTHS[t.month - 1]!;
    case 'EEE MMM d HH:mm:ss yyyy':
      return `${DAYS[t.weekday]!.slice(0, 3)} ${MONTHS[t.month - 1]!.slice(0, 3)} ${t.day} ${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)} ${yyyy(t.year)}`;
    case 'dd':
      return pad(t.day, 2);
    case 'd':
      return String(t.day);
    case 'MM/dd/yy':
      return `${pad(t.month, 2)}/${pad(t.day, 2)}/${yy(t.year)}`;
    case 'HH':
      return pad(t.hour, 2);
    case 'hh':
      return pad(hour12(t.hour), 2);
    case 'DDD':
      return pad(t.dayOfYear, 3);
    case 'H':
      return String(t.hour);
    case 'h':
      return String(hour12(t.hour));
    case 'MM':
      return pad(t.month, 2);
    case 'mm':
      return pad(t.minute, 2);
    case 'M':
      return String(t.month);
    case 'a':
      return t.hour < 12 ? 'AM' : 'PM';
    case 'ss':
      return pad(t.second, 2);
    case 'yy':
      return yy(t.year);
    case 'yyyy':
      return yyyy(t.year);
    case 'ZZZ': {
      const m = Math.abs(t.offsetMinutes);
      return `${t.offsetMinutes < 0 ? '-' : '+'}${pad(Math.floor(m / 60), 2)}${pad(m % 60, 2)}`;
    }
  }
}

// Java prints the year of era: 1 BC is year 1.
const yearOfEra = (year: number): number => (year <= 0 ? 1 - year : year);
const yy = (year: number): string => pad(yearOfEra(year) % 100, 2);
const yyyy = (year: number): string => pad(yearOfEra(year), 4);

export type RoundUnit = 'second' | 'minute' | 'hour';

/**
 * `TimestampRoundDownUtil`: in `zone`, the unit's field becomes field − (field mod `value`) and the
 * smaller fields 0 (11:54:34 by 10 minutes → 11:50:00). Java requires a timestamp > 0: RangeError otherwise.
 */
export function roundDown(ms: number, unit: RoundUnit, value: number, zone: Zone): number {
  if (!(ms > 0)) throw new RangeError(`rounding needs a timestamp > 0, received ${ms}`);
  const step = value > 0 ? value : 1;
  const offset = zone.offsetAt(ms);
  const local = new Date(ms + offset);
  local.setUTCMilliseconds(0);
  if (unit === 'second') local.setUTCSeconds(local.getUTCSeconds() - (local.getUTCSeconds() % step));
  else if (unit === 'minute') local.setUTCMinutes(local.getUTCMinutes() - (local.getUTCMinutes() % step), 0);
  else local.setUTCHours(local.getUTCHours() - (local.getUTCHours() % step), 0, 0);
  // Back to UTC with the offset in force at the rounded local time (Java's Calendar does the same).
  const guess = local.getTime() - offset;
  return local.getTime() - zone.offsetAt(guess);
}
