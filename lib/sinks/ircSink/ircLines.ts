/**
 * What an IRC sink batch becomes on the wire: the PRIVMSG texts, cut and cleaned as IRC needs.
 */
import type { Batch } from '../../core/batch.js';
import { javaRegex } from '../../text/javaRegex.js';


/** What IRC allows of a message's text: no NUL, and a line break would end the command (the rest would run as raw commands). */
const clean = (text: string): string => text.replace(/\0/g, '').replace(/\r\n|\r|\n/g, ' ');

/** Java's String.split pieces (empty ones too; the caller drops them). */
function javaSplit(text: string, regex: RegExp): string[] {
  const out: string[] = [];
  let last = 0;
  regex.lastIndex = 0;
  for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
    if (m[0].length === 0) {
      if (m.index >= text.length) break;
      regex.lastIndex = m.index + (text.codePointAt(m.index)! > 0xffff ? 2 : 1);
      if (m.index === 0) continue; // Java: no leading empty piece from a zero-width match
    }
    out.push(text.slice(last, m.index));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

/** `text` in pieces of at most `max` UTF-8 bytes, cut between code points. */
function chunks(text: string, max: number): string[] {
  if (Buffer.byteLength(text) <= max) return [text];
  const out: string[] = [];
  let piece = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > max) {
      out.push(piece);
      piece = '';
      bytes = 0;
    }
    piece += ch;
    bytes += n;
  }
  if (piece) out.push(piece);
  return out;
}

/**
 * The texts a batch becomes: per event, its body (UTF-8) or its splitchars pieces, line breaks made
 * spaces, empty ones dropped (a server answers an empty PRIVMSG with an error), long ones cut to what
 * the server relays whole.
 */
export function ircTexts(batch: Pick<Batch, 'events'>, opts: { splitlines: boolean; splitchars: string }, maxBytes: number): string[] {
  const split = opts.splitlines ? javaRegex(opts.splitchars, { global: true }).regex : undefined;
  const out: string[] = [];
  for (const event of batch.events) {
    const body = event.body.toString('utf8');
    for (const piece of split ? javaSplit(body, split) : [body]) {
      const text = clean(piece);
      if (text.length > 0) out.push(...chunks(text, maxBytes));
    }
  }
  return out;
}

/**
 * The longest text of one PRIVMSG: a line is at most 512 bytes with its CRLF, and others receive it
 * with the sender's `:nick!~user@host ` prefix in front (host up to 63 bytes).
 */
export function maxTextBytes(nick: string, user: string, channel: string): number {
  return 510 - Buffer.byteLength(`PRIVMSG ${channel} :`) - Buffer.byteLength(`:${nick}!~${user}@ `) - 63;
}
