/**
 * The JSON handler's reader: Flume's JSONHandler parse (Gson 2.9's `fromJson(reader, List<JSONEvent>)`,
 * which reads in lenient mode) as one streaming pass over the request body as it arrives, so that a
 * body too large in events or fields, or one Flume would refuse, is answered before the rest is read.
 * Here: decoding the charset, what the tokens of lenientJsonLexer.ts are to Gson's type adapters (the
 * containers, the events built from them) and the bounds.
 */
import { StringDecoder } from 'node:string_decoder';
import type { FlumeEvent } from '../../core/event.js';
import { isLiteral, LenientJsonLexer, type Keyword, type Refusal } from './lenientJsonLexer.js';

export type { Refusal };

export type Charset = 'UTF-8' | 'UTF-16' | 'UTF-32';

// Where a container (or the document) is.
const D_VALUE = 0; // the document's value is next
const A_EMPTY = 1;
const A_VALUE = 2; // after an element: ',', ';' or ']' next
const A_COMMA = 3;
const O_EMPTY = 4;
const O_VALUE = 5; // after a member's value: ',', ';' or '}' next
const O_COMMA = 6; // a name next
const O_NAME = 7; // after a name: ':', '=' or '=>' next
const O_COLON = 8; // a member's value next

// What a container or a value is to Gson's type adapters.
const DOC = 0; // List<JSONEvent>
const LIST = 1; // the array of events
const EVENT = 2; // a JSONEvent: headers, body, anything else skipped
const HEADERS = 3; // the headers map, an object
const ENTRIES = 4; // the headers map as an array of [key, value] entries
const ENTRY = 5;
const SKIP = 6; // a value Gson skips
const STRING_VALUE = 7; // a String: body, header name or value
const NAME = 8; // a member name
const EXTRA = 9; // a third element of a headers entry

/** The container a value opens, by its slot: [on '[', on '{']; a slot missing here takes neither. */
const CONTAINERS: Partial<Record<number, [number | undefined, number | undefined]>> = {
  [DOC]: [LIST, undefined],
  [EVENT]: [undefined, EVENT],
  [HEADERS]: [ENTRIES, HEADERS],
  [ENTRY]: [ENTRY, undefined],
  [SKIP]: [SKIP, SKIP],
};

/**
 * Reads a JSONHandler body chunk by chunk, as Gson in lenient mode reads it into Flume's
 * `List<JSONEvent>`, and builds the events as it goes. The lenient syntax is LenientJsonLexer's; here,
 * `=` or `=>` for `:` and `;` for `,`, an empty array element (`[1,,2]`, `[1,]`) as null, and
 * whitespace only after the list's closing `]`. A body string or header value may be a number or
 * unquoted literal (its text) or a boolean (`true`/`false`, in any case); headers may also be an array
 * of `[key, value]` pairs; a second value for a header that is not null is refused, as Gson's map
 * does. Every answer is Flume's for the same body: 400 where Gson throws a syntax error, 500 where
 * Flume fails otherwise (no value, a null list or event, a `\u` escape that is not hex, a null header
 * name) — except malformed UTF-16/32 (see `decodeWide`).
 *
 * Bounds, whatever the body: events (values of the array) past `maxEvents` are refused with 503,
 * values inside events past `maxFields` with 413, both at once; memory is the events built so far.
 */
export class EventArrayScan {
  private events = 0;
  private fields = 0;
  private readonly lexer = new LenientJsonLexer({
    token: (c) => this.token(c),
    string: (text) => this.complete(this.target, text),
    literal: (text, keyword) => this.literal(text, keyword),
  });
  /** The containers open, innermost last: what each is (DOC, LIST, …) and where it is (D_VALUE, …). */
  private readonly roles: number[] = [DOC];
  private readonly ats: number[] = [D_VALUE];
  /** What the token being read is to the adapters. */
  private target = SKIP;
  // The event being built.
  /** The last member name read: an event's member, or a header's name in the headers object. */
  private name = '';
  private headers: Map<string, string | null> | null = null;
  private map: Map<string, string | null> | null = null;
  private body: string | null = null;
  private entryIndex = 0;
  /** The name of the [name, value] headers entry being read. */
  private entryKey: string | null = null;
  private nullEvent: number | undefined;
  private readonly built: FlumeEvent[] = [];
  // Decoding.
  private readonly utf8: StringDecoder | undefined;
  private rest: Buffer = Buffer.alloc(0);
  private littleEndian = false;
  private bomChecked = false;

  constructor(
    private readonly charset: Charset,
    private readonly maxEvents: number,
    private readonly maxFields: number,
  ) {
    if (charset === 'UTF-8') this.utf8 = new StringDecoder('utf8');
  }

  /** Reads the next part of the body: the refusal (then final), or undefined to read on. */
  feed(chunk: Buffer): Refusal | undefined {
    if (this.lexer.refusal) return this.lexer.refusal;
    if (this.utf8) this.lexer.chars(this.utf8.write(chunk));
    else this.decodeWide(chunk);
    return this.lexer.refusal;
  }

  /** The body ended: its events, or the refusal. */
  end(): FlumeEvent[] | Refusal {
    if (this.lexer.refusal) return this.lexer.refusal;
    if (this.utf8) this.lexer.chars(this.utf8.end());
    else if (this.rest.length) return this.refuse(400, `Request body is not valid ${this.charset}.`);
    if (this.lexer.refusal) return this.lexer.refusal;
    return this.atEnd() ?? this.built;
  }

  private atEnd(): Refusal | undefined {
    const ended = this.lexer.end();
    if (this.lexer.refusal) return this.lexer.refusal;
    if (ended) {
      if (this.nullEvent !== undefined) return this.refuse(500, `Event ${this.nullEvent} is null.`);
      return undefined;
    }
    // Gson reads an empty document (whitespace and comments only) as a null list.
    if (this.roles.length === 1 && this.ats[0] === D_VALUE) return this.refuse(500, 'The request body holds no JSON value (Flume: a null event list).');
    return this.syntax('end of input.');
  }

  /**
   * UTF-16 and UTF-32 in Java's byte order: a byte-order mark says the order and is no character;
   * without one, big-endian. Malformed input is not Java's (pinned in test/interop/http.test.ts): a
   * UTF-32 unit past U+10FFFF or a surrogate is refused (400), where Java reads U+FFFD or the char;
   * a raw unpaired UTF-16 surrogate is kept, where Java reads it and the unit after it as U+FFFD.
   */
  private decodeWide(chunk: Buffer): void {
    const width = this.charset === 'UTF-16' ? 2 : 4;
    let bytes = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    if (!this.bomChecked) {
      if (bytes.length < width) {
        this.rest = Buffer.from(bytes);
        return;
      }
      this.bomChecked = true;
      const bom = width === 2 ? bytes.readUInt16BE(0) : bytes.readUInt32BE(0);
      if (bom === 0xfeff || bom === (width === 2 ? 0xfffe : 0xfffe0000)) {
        this.littleEndian = bom !== 0xfeff;
        bytes = bytes.subarray(width);
      }
    }
    const whole = bytes.length - (bytes.length % width);
    this.rest = Buffer.from(bytes.subarray(whole));
    if (width === 2) {
      const units = bytes.subarray(0, whole);
      // Big-endian units are swapped in a copy: the chunk is the caller's.
      return this.lexer.chars(this.littleEndian ? units.toString('utf16le') : Buffer.from(units).swap16().toString('utf16le'));
    }
    const points: number[] = [];
    for (let i = 0; i < whole && !this.lexer.refusal; i += 4) {
      const cp = this.littleEndian ? bytes.readUInt32LE(i) : bytes.readUInt32BE(i);
      const bad = cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff);
      if (bad || points.length === 8192) {
        this.lexer.chars(String.fromCodePoint(...points));
        points.length = 0;
      }
      if (bad) return void this.refuse(400, 'Request body is not valid UTF-32.');
      points.push(cp);
    }
    if (!this.lexer.refusal) this.lexer.chars(String.fromCodePoint(...points));
  }

  /** A character between tokens, from the lexer. */
  private token(c: number): void {
    const top = this.roles.length - 1;
    const role = this.roles[top]!;
    const at = this.ats[top]!;
    switch (at) {
      case D_VALUE:
        return this.value(DOC, c);
      case A_EMPTY:
      case A_COMMA:
        if (c === 0x5d && at === A_EMPTY) return this.close();
        // In lenient mode a missing array element is a null; the ',' or ']' is read again.
        if (c === 0x2c || c === 0x3b || c === 0x5d) {
          if (!this.count(role)) return;
          this.complete(this.slotOf(role), null);
          if (this.lexer.refusal) return;
          return this.token(c);
        }
        return this.value(role, c);
      case A_VALUE:
        if (c === 0x5d) return this.close();
        if (c === 0x2c || c === 0x3b) return void (this.ats[top] = A_COMMA);
        return void this.syntax('unterminated array.');
      case O_EMPTY:
      case O_COMMA:
        if (c === 0x7d && at === O_EMPTY) return this.close();
        this.ats[top] = O_NAME;
        this.target = NAME;
        return this.lexer.start(role !== SKIP, c) ? undefined : void this.syntax('expected a name.');
      case O_NAME:
        if (c === 0x3a) return void (this.ats[top] = O_COLON);
        // '=', or '=>' (the lexer skips the '>').
        if (c === 0x3d) return void (this.ats[top] = O_COLON);
        return void this.syntax('expected ":".');
      case O_COLON:
        return this.value(role, c);
      case O_VALUE:
        if (c === 0x7d) return this.close();
        if (c === 0x2c || c === 0x3b) return void (this.ats[top] = O_COMMA);
        return void this.syntax('unterminated object.');
    }
  }

  /** What Gson's adapters make of the next value in a container of this role. */
  private slotOf(role: number): number {
    switch (role) {
      case DOC:
        return DOC;
      case LIST:
        return EVENT;
      case EVENT:
        return this.name === 'headers' ? HEADERS : this.name === 'body' ? STRING_VALUE : SKIP;
      case HEADERS:
        return STRING_VALUE;
      case ENTRIES:
        return ENTRY;
      case ENTRY:
        return this.entryIndex < 2 ? STRING_VALUE : EXTRA;
      default:
        return SKIP;
    }
  }

  /** Counts a value of a container: events of the list, fields inside events. */
  private count(role: number): boolean {
    if (role === DOC) return true;
    if (role === LIST) {
      if (++this.events > this.maxEvents) this.refuse(503, `The request has more than ${this.maxEvents} events (maxEventsPerRequest).`);
    } else if (++this.fields > this.maxFields) {
      this.refuse(413, `The request's events have more than ${this.maxFields} fields (maxFieldsPerRequest).`);
    }
    return !this.lexer.refusal;
  }

  /** The first character of a value in a container of this role. */
  private value(role: number, c: number): void {
    const slot = this.slotOf(role);
    const object = c === 0x7b;
    const string = c === 0x22 || c === 0x27;
    if (!(object || c === 0x5b || string || isLiteral(c))) return void this.syntax(`expected a value, not ${JSON.stringify(String.fromCharCode(c))}.`);
    if (!this.count(role)) return;
    if (slot === EXTRA) return void this.syntax('a headers entry has two elements.');
    if (string) {
      // Gson's adapters fail on the token's first character when it is not what they read.
      if (slot !== SKIP && slot !== STRING_VALUE) return void this.syntax(`${this.what(slot)} cannot be a string.`);
    } else if (object || c === 0x5b) {
      const opens = CONTAINERS[slot]?.[object ? 1 : 0];
      if (opens === undefined) return void this.syntax(`${this.what(slot)} cannot be ${object ? 'an object' : 'an array'}.`);
      this.roles.push(opens);
      this.ats.push(object ? O_EMPTY : A_EMPTY);
      if (opens === EVENT) {
        this.headers = null;
        this.body = null;
      } else if (opens === HEADERS || opens === ENTRIES) this.map = new Map();
      else if (opens === ENTRY) {
        this.entryIndex = 0;
        this.entryKey = null;
      }
      return;
    }
    this.target = slot;
    this.lexer.start(slot === STRING_VALUE, c);
  }

  /** An unquoted literal ended: a keyword (not in a name), or its text. */
  private literal(text: string, keyword: Keyword | undefined): void {
    const target = this.target;
    if (target === NAME) keyword = undefined;
    if (keyword === 'null') return this.complete(target, null);
    if (target === STRING_VALUE && keyword) return this.complete(target, keyword);
    if (target !== STRING_VALUE && target !== NAME && target !== SKIP) {
      return void this.syntax(`${this.what(target)} cannot be ${keyword ? 'a boolean' : 'a number or unquoted string'}.`);
    }
    this.complete(target, text);
  }

  private what(slot: number): string {
    return slot === DOC ? 'the request' : slot === EVENT ? 'an event' : slot === HEADERS ? 'headers' : slot === ENTRY ? 'a headers entry' : 'a string';
  }

  /** A value (or a name) of the innermost container is complete. */
  private complete(target: number, value: string | null): void {
    const top = this.roles.length - 1;
    const role = this.roles[top]!;
    if (target === NAME) {
      if (role !== SKIP) this.name = value!;
      return;
    }
    this.ats[top] = this.ats[top]! <= D_VALUE ? D_VALUE : this.ats[top]! <= A_COMMA ? A_VALUE : O_VALUE;
    switch (target) {
      case DOC:
        // `null`: Flume's list is null, and nothing after it is read.
        return void this.refuse(500, 'The request body is null (Flume: a null event list).');
      case EVENT:
        // Only a null reaches here: a string or other literal where an event is was refused when it started.
        this.nullEvent ??= this.events - 1;
        return;
      case HEADERS:
        // A null map.
        this.headers = null;
        return;
      case STRING_VALUE:
        if (role === EVENT) this.body = value;
        else if (role === HEADERS) this.put(this.name, value);
        else if (this.entryIndex++ === 0) this.entryKey = value;
        else this.put(this.entryKey, value);
        return;
      case ENTRY:
        // A null entry.
        return void this.syntax('a headers entry must be an array.');
      case EXTRA:
        return void this.syntax('a headers entry has two elements.');
    }
  }

  private put(key: string | null, value: string | null): void {
    if (key === null) return void this.refuse(500, 'key == null (a null header name)');
    const before = this.map!.get(key);
    // Gson's map refuses a second value for a name only when the first is not null.
    if (before !== undefined && before !== null) return void this.syntax(`duplicate key: ${key}`);
    this.map!.set(key, value);
  }

  /** The innermost container closes. */
  private close(): void {
    const role = this.roles.pop()!;
    this.ats.pop();
    if (role === ENTRY && this.entryIndex < 2) return void this.syntax('a headers entry has two elements.');
    if (role === LIST) return this.lexer.endDocument();
    const top = this.roles.length - 1;
    this.ats[top] = this.ats[top]! <= A_COMMA ? A_VALUE : O_VALUE;
    if (role === HEADERS || role === ENTRIES) this.headers = this.map;
    else if (role === EVENT) this.built.push({ headers: toRecord(this.headers), body: encode(this.body ?? '', this.charset) });
  }

  private syntax(what: string): Refusal {
    return this.lexer.syntax(what);
  }

  private refuse(status: Refusal['status'], message: string): Refusal {
    return this.lexer.refuse(status, message);
  }
}

/** A Gson map as an rxflume header record: a null value is dropped (an rxflume header is a string). */
function toRecord(map: Map<string, string | null> | null): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!map) return headers;
  for (const [key, value] of map) {
    if (value === null) continue;
    // defineProperty keeps `__proto__` an ordinary key.
    if (key === '__proto__') Object.defineProperty(headers, key, { value, enumerable: true, writable: true, configurable: true });
    else headers[key] = value;
  }
  return headers;
}

/** An unpaired surrogate: Java's encoders replace it ('?' in UTF-8, U+FFFD in UTF-16 and UTF-32). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Java's String.getBytes: UTF-16 writes a big-endian BOM then big-endian units; UTF-32 is big-endian. */
function encode(text: string, charset: Charset): Buffer {
  if (/[\ud800-\udfff]/.test(text)) text = text.replace(LONE_SURROGATE, charset === 'UTF-8' ? '?' : '\ufffd');
  if (charset === 'UTF-8') return Buffer.from(text, 'utf8');
  if (charset === 'UTF-16') {
    if (text === '') return Buffer.alloc(0);
    const units = Buffer.from(text, 'utf16le');
    units.swap16();
    return Buffer.concat([Buffer.from([0xfe, 0xff]), units]);
  }
  const points = Array.from(text, (ch) => ch.codePointAt(0)!);
  const out = Buffer.alloc(points.length * 4);
  points.forEach((cp, i) => out.writeUInt32BE(cp, i * 4));
  return out;
}
