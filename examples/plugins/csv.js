/**
 * An example serializer for the file sinks (file_roll, hdfs), written as Flume users write an
 * `EventSerializer$Builder`: each event as one CSV line of chosen headers and then its body, and a
 * line of column names opening every file. A configuration names it where Flume takes a class:
 *
 *   a1.sinks.k1.sink.serializer = ./plugins/csv.js        (file_roll; hdfs: a1.sinks.k1.serializer)
 *   a1.sinks.k1.sink.serializer.columns = source host
 *
 * The properties below it are its options, validated by its schema (errors at their lines).
 */
import { z } from 'zod';
import { defineSerializer } from 'rxflume';

/** RFC 4180: a field holding the delimiter, a quote or a line break is quoted, its quotes doubled. */
const field = (text, delimiter) => (text.includes(delimiter) || /["\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

export const csvLine = defineSerializer({
  name: 'csvLine',
  schema: z.strictObject({
    columns: z
      .preprocess((v) => (typeof v === 'string' ? v.split(/[\s,]+/).filter(Boolean) : v), z.array(z.string().min(1)).min(1))
      .describe('Headers written before the body, in order (space- or comma-separated); a missing one is an empty field.'),
    delimiter: z.string().length(1).default(',').describe('Field delimiter, one character.'),
    header: z.boolean().default(true).describe('Open each file with a line of column names (then `body`).'),
  }),
  // Called once per file: what it returns writes that file.
  create(options) {
    const line = (fields) => `${fields.map((f) => field(f, options.delimiter)).join(options.delimiter)}\n`;
    return {
      header: options.header ? Buffer.from(line([...options.columns, 'body'])) : Buffer.alloc(0),
      serialize: (events) => Buffer.from(events.map((e) => line([...options.columns.map((c) => e.headers[c] ?? ''), e.body.toString('utf8')])).join('')),
    };
  },
});
