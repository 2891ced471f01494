/**
 * Flume's DefaultJMSMessageConverter over AMQP 1.0: what ActiveMQ sends an AMQP receiver for a stored
 * JMS message, turned into the event Flume's JMS source makes of the same message.
 *
 * - Body: a TextMessage arrives as an amqp-value string → its bytes in the converter's charset; a
 *   BytesMessage (or ObjectMessage) as data sections → those bytes; a Map, Stream or plain message
 *   (an amqp-value map or list, or no body) → an empty body, as Flume.
 * - Headers: each message property (`application_properties`) as Java's `toString` writes it
 *   (`getStringProperty`): `true`, `42`, `2.5`, `1.0E10`; the JMSX properties the ActiveMQ client lists
 *   (`JMSXDeliveryCount` when redelivered, `JMSXGroupID`, `JMSXGroupSeq`, `JMSXUserID`) from the
 *   AMQP header and properties sections. JMS header fields (JMSMessageID, JMSType, …) are not copied.
 */
import type { FlumeEvent } from '../../core/event.js';

/** The charsets `converter.charset` takes (Java's names), as Node encodes them. */
export const JMS_CHARSETS = ['UTF-8', 'ISO-8859-1', 'US-ASCII', 'UTF-16BE', 'UTF-16LE', 'UTF-16'] as const;
export type JmsCharset = (typeof JMS_CHARSETS)[number];

/** The fields of a received AMQP message this converter reads (rhea's decoded form). */
export interface AmqpMessage {
  body?: unknown;
  application_properties?: Record<string, unknown>;
  delivery_count?: number;
  group_id?: string;
  group_sequence?: number;
  user_id?: Buffer | string;
}

const EMPTY = Buffer.alloc(0);

/** A string in one of `JMS_CHARSETS`, as Java's `String.getBytes(charset)` writes it. */
export function encodeText(text: string, charset: JmsCharset): Buffer {
  switch (charset) {
    case 'UTF-8':
      return Buffer.from(text, 'utf8');
    case 'ISO-8859-1':
    case 'US-ASCII': {
      // Java writes '?' for what the charset cannot hold (Node would keep the low byte).
      const limit = charset === 'US-ASCII' ? 0x7f : 0xff;
      return Buffer.from(Array.from(text, (c) => (c.codePointAt(0)! <= limit ? c.codePointAt(0)! : 0x3f)));
    }
    case 'UTF-16LE':
      return Buffer.from(text, 'utf16le');
    case 'UTF-16BE':
    case 'UTF-16': {
      // Java's "UTF-16" encoder writes a big-endian byte-order mark first.
      const le = Buffer.from(text, 'utf16le');
      const be = Buffer.alloc(le.length);
      for (let i = 0; i + 1 < le.length; i += 2) {
        be[i] = le[i + 1]!;
        be[i + 1] = le[i]!;
      }
      return charset === 'UTF-16' ? Buffer.concat([Buffer.from([0xfe, 0xff]), be]) : be;
    }
  }
}

/** A property value as Java's `toString` writes it; undefined for what JMS has no property type for. */
export function javaString(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return String(value);
    case 'number':
      return Number.isInteger(value) && Math.abs(value) < 2 ** 53 ? String(value) : javaDouble(value);
    default:
      // A 64-bit integer rhea could not make a safe number of: 8 big-endian bytes.
      if (Buffer.isBuffer(value) && value.length === 8) return value.readBigInt64BE(0).toString();
      return undefined;
  }
}

/** Java's Double.toString for a non-integral (or huge) number: plain between 10^-3 and 10^7, else d.dddE±n. */
function javaDouble(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
  const abs = Math.abs(n);
  if (abs >= 1e-3 && abs < 1e7) {
    const s = String(n);
    return s.includes('.') ? s : `${s}.0`;
  }
  const [mantissa, exponent] = n.toExponential().split('e') as [string, string];
  return `${mantissa.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}

function bodyBytes(body: unknown, charset: JmsCharset): Buffer {
  if (typeof body === 'string') return encodeText(body, charset);
  if (Buffer.isBuffer(body)) return body;
  // A data section (rhea's Section): one Buffer, or several for a message split into sections.
  if (typeof body === 'object' && body !== null && (body as { typecode?: number }).typecode === 0x75) {
    const content = (body as { content: unknown }).content;
    if (Buffer.isBuffer(content)) return content;
    if (Array.isArray(content) && content.every((c) => Buffer.isBuffer(c))) return Buffer.concat(content);
  }
  return EMPTY;
}

/** The event Flume's DefaultJMSMessageConverter makes of the message. */
export function toFlumeEvent(message: AmqpMessage, charset: JmsCharset): FlumeEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.application_properties ?? {})) {
    const text = javaString(value);
    if (text !== undefined) headers[name] = text;
  }
  if (message.delivery_count !== undefined && message.delivery_count > 0) headers['JMSXDeliveryCount'] = String(message.delivery_count + 1);
  if (message.group_id !== undefined) {
    headers['JMSXGroupID'] = message.group_id;
    headers['JMSXGroupSeq'] = String(message.group_sequence ?? 0);
  }
  if (message.user_id !== undefined) headers['JMSXUserID'] = Buffer.isBuffer(message.user_id) ? message.user_id.toString('utf8') : String(message.user_id);
  return { headers, body: bodyBytes(message.body, charset) };
}
