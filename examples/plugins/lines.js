/**
 * An example HTTP handler for the http source, written as Flume users write an `HTTPSourceHandler`:
 * a text body of one event per line, the query parameters the headers of each (the first value of a
 * repeated one). A configuration names it where Flume takes a class:
 *
 *   a1.sources.r1.handler = ./plugins/lines.js
 *   a1.sources.r1.handler.maxLines = 1000
 *
 *   curl --data-binary @app.log 'http://127.0.0.1:8080/?source=app'
 *
 * The properties below `handler` are its options, validated by its schema (errors at their lines).
 * It answers 400 for a body that is not UTF-8 and 413 past `maxLines`; the source answers 200 once
 * the channel stored every line, as it does for the built-in handlers.
 */
import { z } from 'zod';
import { defineHttpHandler } from 'rxflume';

export const linesHandler = defineHttpHandler({
  name: 'lines',
  schema: z.strictObject({
    maxLines: z.number().int().min(1).default(1000).describe('Most lines (events) one request may carry; more is answered 413.'),
    keepEmpty: z.boolean().default(false).describe('Make an event of an empty line too.'),
  }),
  create(options) {
    const utf8 = new TextDecoder('utf-8', { fatal: true });
    return {
      // Called when a request's headers arrived; without `feed`, `end` gets the whole body.
      read(request) {
        // The first value of a repeated parameter, as Flume's BLOBHandler takes it.
        const headers = {};
        for (const [name, value] of new URL(request.url ?? '/', 'http://x').searchParams) headers[name] ??= value;
        return {
          end(body) {
            let text;
            try {
              text = utf8.decode(body);
            } catch {
              return { status: 400, message: 'the body is not UTF-8 text' };
            }
            const lines = text.split(/\r?\n/);
            if (lines.at(-1) === '') lines.pop();
            const kept = options.keepEmpty ? lines : lines.filter((l) => l !== '');
            if (kept.length > options.maxLines) return { status: 413, message: `${kept.length} lines, more than maxLines (${options.maxLines})` };
            return kept.map((l) => ({ headers: { ...headers }, body: Buffer.from(l, 'utf8') }));
          },
        };
      },
    };
  },
});
