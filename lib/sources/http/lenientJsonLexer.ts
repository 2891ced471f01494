/**
 * The lexer of Gson 2.9's lenient JSON syntax, as Flume's JSONHandler reads a body: characters in,
 * tokens out, one streaming pass over text that arrives in pieces. What the tokens mean (containers,
 * events, bounds) is the reader's: see eventArrayScan.ts.
 */

export interface Refusal {
  status: 400 | 413 | 500 | 503;
  message: string;
}

/** Gson's keywords, read in any case where a value is. */
export type Keyword = 'true' | 'false' | 'null';

/** What the lexer tells the reader that drives it. */
export interface LexerEvents {
  /**
   * A character between tokens that is neither whitespace nor in a comment: a bracket, a separator
   * (`,` `;` `:` `=`), or the first character of a value or name, which the reader starts with
   * `start` if it wants one there.
   */
  token(c: number): void;
  /** A quoted string ended: its text if kept, else ''. */
  string(text: string): void;
  /** An unquoted literal ended: its text if kept (else ''), and the keyword it spells, if any. */
  literal(text: string, keyword: Keyword | undefined): void;
}

// Lexer modes.
const TOKEN = 0; // between tokens
const STRING = 1; // inside a quoted string or name
const ESCAPE = 2; // after a backslash in a string
const UNICODE = 3; // reading the 4 hex digits of \u
const RUN = 4; // an unquoted literal: name, number, keyword or string
const SLASH = 5; // a '/' between tokens: a comment, or an error
const BLOCK = 6; // inside /* */
const BLOCK_STAR = 7; // a '*' inside /* */
const LINE = 8; // inside a // or # comment
const PREFIX = 9; // matching the non-execute prefix )]}'\n
const ARROW = 10; // after '=': an optional '>'
const TAIL = 11; // after the document's value: whitespace only (Gson checks it strictly)
const FAILED = 12;

const LITERAL_BREAK = new Uint8Array(128);
for (const c of '/\\;#={}[]:, \t\f\r\n') LITERAL_BREAK[c.charCodeAt(0)] = 1;
/** Gson's isLiteral: anything but these ends an unquoted literal. */
export const isLiteral = (c: number): boolean => c >= 128 || LITERAL_BREAK[c] === 0;
const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
/** Gson's keywords, matched in any case: bit 1 << i of `maybe` is KEYWORDS[i]. */
const KEYWORDS = ['true', 'false', 'null'];
const PREFIX_TEXT = ")]}'\n";
const ESCAPES: Record<string, string> = { t: '\t', b: '\b', n: '\n', r: '\r', f: '\f', '\n': '\n', "'": "'", '"': '"', '\\': '\\', '/': '/' };

/**
 * Splits text into Gson's lenient tokens: strings in `'` or `"` (raw control characters allowed, `\'`
 * an escape), unquoted literals (ended by whitespace or `/ \ ; # = { } [ ] : ,`), `=>` read as `=`,
 * `//`, `/* *\/` and `#` comments, the non-execute prefix `)]}'` and a newline before the first token,
 * and a leading BOM. After `endDocument` only whitespace may follow. Errors are Flume's answers: 400
 * where Gson throws a syntax error, 500 for a `\u` escape that is not hex (Gson's
 * NumberFormatException); the first refusal is final and the lexer reads nothing after it.
 */
export class LenientJsonLexer {
  private mode = TOKEN;
  private failure: Refusal | undefined;
  private first = true;
  private begun = false;
  private prefixAt = 0;
  // The token being read: whether its text is kept, its text so far.
  private quote = 0;
  private keep = false;
  private text = '';
  private segment = 0;
  private hex = '';
  private runLength = 0;
  /** A string or literal started at the character being read. */
  private fresh = false;
  /** Whether the literal so far may still be true, false or null (any case). */
  private maybe = 0;

  constructor(private readonly reader: LexerEvents) {}

  /** The first refusal, final. */
  get refusal(): Refusal | undefined {
    return this.failure;
  }

  /** Runs the next piece of text through the lexer. */
  chars(piece: string): void {
    this.segment = 0;
    for (let i = 0; i < piece.length; i++) {
      if (this.mode === STRING) {
        // The body of a string, quickly: up to its quote or a backslash.
        const q = this.quote;
        let d = piece.charCodeAt(i);
        while (d !== q && d !== 0x5c && ++i < piece.length) d = piece.charCodeAt(i);
        if (i === piece.length) break;
      }
      const c = piece.charCodeAt(i);
      if (this.first) {
        this.first = false;
        // Gson skips a byte-order mark that starts the text.
        if (c === 0xfeff) continue;
      }
      switch (this.mode) {
        case STRING:
          if (c === this.quote) {
            if (this.keep) this.text += piece.slice(this.segment, i);
            this.mode = TOKEN;
            this.reader.string(this.text);
          } else if (c === 0x5c) {
            if (this.keep) this.text += piece.slice(this.segment, i);
            this.mode = ESCAPE;
          }
          break;
        case ESCAPE:
          if (c === 0x75) {
            this.mode = UNICODE;
            this.hex = '';
          } else {
            const ch = ESCAPES[piece[i]!];
            if (ch === undefined) return void this.syntax('invalid escape sequence.');
            if (this.keep) this.text += ch;
            this.segment = i + 1;
            this.mode = STRING;
          }
          break;
        case UNICODE:
          this.hex += piece[i];
          if (this.hex.length === 4) {
            // Gson parses the four characters itself and throws a NumberFormatException (not a syntax error) on a non-hex one.
            if (!/^[0-9a-fA-F]{4}$/.test(this.hex)) return void this.refuse(500, `\\u${this.hex} (an escape that is not hexadecimal)`);
            if (this.keep) this.text += String.fromCharCode(parseInt(this.hex, 16));
            this.segment = i + 1;
            this.mode = STRING;
          }
          break;
        case RUN:
          if (isLiteral(c)) {
            const k = c | 0x20;
            const at = this.runLength++;
            if (this.maybe) for (let w = 0; w < 3; w++) if (k !== KEYWORDS[w]!.charCodeAt(at)) this.maybe &= ~(1 << w);
            break;
          }
          if (this.keep) this.text += piece.slice(this.segment, i);
          this.endRun();
          if (this.failure) return;
          this.token(c);
          break;
        case SLASH:
          if (c === 0x2a) this.mode = BLOCK;
          else if (c === 0x2f) this.mode = LINE;
          else return void this.syntax('unexpected "/".');
          break;
        case BLOCK:
          if (c === 0x2a) this.mode = BLOCK_STAR;
          break;
        case BLOCK_STAR:
          if (c === 0x2f) this.mode = TOKEN;
          else if (c !== 0x2a) this.mode = BLOCK;
          break;
        case LINE:
          if (c === 0x0a || c === 0x0d) this.mode = TOKEN;
          break;
        case PREFIX:
          if (c !== PREFIX_TEXT.charCodeAt(this.prefixAt)) return void this.syntax('expected an array of events.');
          if (++this.prefixAt === PREFIX_TEXT.length) this.mode = TOKEN;
          break;
        case ARROW:
          this.mode = TOKEN;
          if (c !== 0x3e) this.token(c);
          break;
        case TAIL:
          if (!isSpace(c)) return void this.syntax('content after the array of events.');
          break;
        case TOKEN:
          this.token(c);
          break;
        default:
          return;
      }
      if (this.failure) return;
      // A token started at i: a string's text starts after its quote, a literal's at i.
      if (this.fresh) {
        this.fresh = false;
        if (this.mode === STRING) this.segment = i + 1;
        else {
          this.segment = i;
          this.runLength = 1;
          const k = c | 0x20;
          this.maybe = 0;
          for (let w = 0; w < 3; w++) if (k === KEYWORDS[w]!.charCodeAt(0)) this.maybe |= 1 << w;
        }
      }
    }
    if (this.keep && (this.mode === STRING || this.mode === RUN)) this.text += piece.slice(this.segment);
  }

  /**
   * Called by the reader from `token(c)`: starts a string (c its quote) or an unquoted literal (c its
   * first character), its text kept or not; false if c starts neither.
   */
  start(keep: boolean, c: number): boolean {
    this.keep = keep;
    this.text = '';
    this.fresh = true;
    if (c === 0x22 || c === 0x27) {
      this.mode = STRING;
      this.quote = c;
      return true;
    }
    if (!isLiteral(c)) {
      this.fresh = false;
      return false;
    }
    this.mode = RUN;
    this.runLength = 0;
    return true;
  }

  /** The document's value ended: only whitespace may follow. */
  endDocument(): void {
    this.mode = TAIL;
  }

  /**
   * The text ended: a literal being read ends with it; an unterminated string, escape, comment or
   * prefix is refused. True if the document's value had ended.
   */
  end(): boolean {
    switch (this.mode) {
      case RUN:
        this.endRun();
        break;
      case STRING:
        this.syntax('unterminated string.');
        break;
      case ESCAPE:
      case UNICODE:
        this.syntax('unterminated escape sequence.');
        break;
      case BLOCK:
      case BLOCK_STAR:
        this.syntax('unterminated comment.');
        break;
      case SLASH:
        this.syntax('unexpected "/".');
        break;
      case PREFIX:
        this.syntax('expected an array of events.');
        break;
    }
    return this.mode === TAIL;
  }

  syntax(what: string): Refusal {
    return this.refuse(400, `Request has invalid JSON Syntax: ${what}`);
  }

  /** Refuses the body: the first refusal stays, and the lexer reads nothing more. */
  refuse(status: Refusal['status'], message: string): Refusal {
    this.mode = FAILED;
    this.failure ??= { status, message };
    return this.failure;
  }

  /** A character between tokens. */
  private token(c: number): void {
    if (isSpace(c)) return;
    if (c === 0x2f) return void (this.mode = SLASH);
    if (c === 0x23) return void (this.mode = LINE);
    if (!this.begun) {
      this.begun = true;
      if (c === 0x29) {
        this.mode = PREFIX;
        this.prefixAt = 1;
        return;
      }
    }
    this.reader.token(c);
    // '=>' reads as '=' (Gson takes either between a name and its value; the reader refuses '=' elsewhere).
    if (c === 0x3d && this.mode === TOKEN) this.mode = ARROW;
  }

  /** An unquoted literal ended: a keyword, or its text. */
  private endRun(): void {
    this.mode = TOKEN;
    const n = this.runLength;
    this.runLength = 0;
    const bits = this.maybe & (n === 4 ? 5 : n === 5 ? 2 : 0);
    this.reader.literal(this.text, bits === 1 ? 'true' : bits === 2 ? 'false' : bits === 4 ? 'null' : undefined);
  }
}
