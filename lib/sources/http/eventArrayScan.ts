/**
 * The JSON handler's guard: reads a request body as it arrives and builds nothing, so that a body
 * too large in events or fields, or one that cannot be an array of event objects, is refused before
 * it is parsed.
 */
import type { Charset } from './handlers.js';

/** Deeper nesting is refused (Gson's default limit). */
const MAX_DEPTH = 255;

export interface Refusal {
  status: 400 | 413 | 503;
  message: string;
}

/**
 * Reads a JSONHandler body as it arrives and builds nothing: counts the events (values of the
 * top-level array) and the fields inside them (every value nested in an event), and spots what can
 * certainly not be an array of event objects. Everything else about the syntax is left to JSON.parse
 * once the body is complete and known to be within bounds. Works on code units, so UTF-16/32 bodies
 * are scanned as they are (all JSON structure is ASCII; other units only matter inside strings).
 */
export class EventArrayScan {
  private events = 0;
  private fields = 0;
  private depth = 0;
  /** 1 where the container at that depth is an object. */
  private readonly objects = new Uint8Array(MAX_DEPTH + 1);
  private expect: 'value' | 'key' | 'none' = 'value';
  private inString = false;
  private escaped = false;
  private ended = false;
  private readonly width: number;
  private littleEndian = false;
  private first = true;
  private readonly pending: number[] = [];

  constructor(
    charset: Charset,
    private readonly maxEvents: number,
    private readonly maxFields: number,
  ) {
    this.width = charset === 'UTF-8' ? 1 : charset === 'UTF-16' ? 2 : 4;
  }

  feed(chunk: Buffer): Refusal | undefined {
    if (this.width === 1) {
      for (let i = 0; i < chunk.length; i++) {
        const refusal = this.unit(chunk[i]!);
        if (refusal) return refusal;
      }
      return undefined;
    }
    const p = this.pending;
    for (let i = 0; i < chunk.length; i++) {
      p.push(chunk[i]!);
      if (p.length < this.width) continue;
      if (this.first) {
        this.first = false;
        // A byte-order mark says the order and is no character; without one, big-endian (Java's default).
        const bom = this.width === 2 ? (p[0]! << 8) | p[1]! : ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
        if (bom === 0xfeff || (this.width === 2 ? bom === 0xfffe : bom === 0xfffe0000)) {
          this.littleEndian = bom !== 0xfeff;
          p.length = 0;
          continue;
        }
      }
      let unit = 0;
      if (this.littleEndian) for (let j = this.width - 1; j >= 0; j--) unit = unit * 256 + p[j]!;
      else for (let j = 0; j < this.width; j++) unit = unit * 256 + p[j]!;
      p.length = 0;
      const refusal = this.unit(unit);
      if (refusal) return refusal;
    }
    return undefined;
  }

  private unit(c: number): Refusal | undefined {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c === 0x5c) this.escaped = true;
      else if (c === 0x22) this.inString = false;
      return undefined;
    }
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) return undefined;
    if (this.ended) return bad('content after the array of events.');
    switch (c) {
      case 0x2c: // ,
        if (this.depth === 0) return bad('unexpected ",".');
        this.expect = this.objects[this.depth] ? 'key' : 'value';
        return undefined;
      case 0x3a: // :
        if (!this.objects[this.depth]) return bad('unexpected ":".');
        this.expect = 'value';
        return undefined;
      case 0x5d: // ]
      case 0x7d: // }
        if (this.depth === 0 || this.objects[this.depth] !== (c === 0x7d ? 1 : 0)) return bad(`unexpected "${String.fromCharCode(c)}".`);
        this.depth--;
        this.expect = 'none';
        if (this.depth === 0) this.ended = true;
        return undefined;
    }
    if (this.expect === 'key') {
      if (c !== 0x22) return bad('expected a member name.');
      this.expect = 'none';
      this.inString = true;
      return undefined;
    }
    if (this.expect === 'value') {
      this.expect = 'none';
      // `null` (n) is left to the parse: Flume answers a null list or event 500, not 400.
      if (this.depth === 0) {
        if (c !== 0x5b && c !== 0x6e) return bad('expected an array of events.');
      } else if (this.depth === 1) {
        if (++this.events > this.maxEvents) return { status: 503, message: `The request has more than ${this.maxEvents} events (maxEventsPerRequest).` };
        if (c !== 0x7b && c !== 0x6e) return { status: 400, message: `Event ${this.events - 1} is not an object.` };
      } else if (++this.fields > this.maxFields) {
        return { status: 413, message: `The request's events have more than ${this.maxFields} fields (maxFieldsPerRequest).` };
      }
    } else if (c === 0x22 || c === 0x5b || c === 0x7b) {
      return bad(`unexpected "${String.fromCharCode(c)}".`);
    }
    if (c === 0x22) this.inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (this.depth === MAX_DEPTH) return bad(`nested deeper than ${MAX_DEPTH} levels.`);
      this.objects[++this.depth] = c === 0x7b ? 1 : 0;
      this.expect = c === 0x7b ? 'key' : 'value';
    }
    // Anything else continues a number or literal; JSON.parse judges it.
    return undefined;
  }
}

function bad(what: string): Refusal {
  return { status: 400, message: `Request has invalid JSON Syntax: ${what}` };
}
