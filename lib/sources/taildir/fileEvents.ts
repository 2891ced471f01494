import type { FlumeEvent } from '../../core/event.js';
import type { ComponentCounters } from '../../core/metrics.js';
import type { LineSink } from './lineScanner.js';
import type { TailFile } from './tailFile.js';

/** Flume's header key for `byteOffsetHeader`. */
export const BYTE_OFFSET_HEADER = 'byteoffset';

export interface FileEventsOptions {
  batchSize: number;
  readBufferBytes: number;
  fileHeader: boolean;
  fileHeaderKey: string;
  byteOffsetHeader: boolean;
}

/** Makes each line an event. Every event gets its own headers object: interceptors may change it in place. */
class EventCollector implements LineSink {
  constructor(
    private readonly events: FlumeEvent[],
    private readonly fixed: Readonly<Record<string, string>> | undefined,
    private readonly offsets: boolean,
  ) {}

  line(body: Buffer, offset: number): void {
    if (this.fixed === undefined && !this.offsets) {
      this.events.push({ headers: {}, body });
      return;
    }
    const headers: Record<string, string> = this.fixed ? { ...this.fixed } : {};
    if (this.offsets) headers[BYTE_OFFSET_HEADER] = String(offset);
    this.events.push({ headers, body });
  }
}

/**
 * The lines of a tailed file as events, a batch at a time: its group's headers, the path with
 * `fileHeader`, the byte offset with `byteOffsetHeader`; long lines counted in `LongLineCount`, read
 * errors in `EventReadFail` (the file is then marked failed until the next scan). A file found
 * shorter than what was read is reported to `truncated` once the lines of the old content are out.
 */
export class FileEvents {
  constructor(
    private readonly opts: FileEventsOptions,
    private readonly metrics: ComponentCounters,
    private readonly truncated: (file: TailFile) => void,
    private readonly now: () => number,
  ) {}

  /** Reads lines of `file` into `events` up to a batch: from the buffer, then from disk until its end. */
  async fill(file: TailFile, events: FlumeEvent[], closed: () => boolean): Promise<void> {
    const max = this.opts.batchSize;
    try {
      for (;;) {
        this.collect(file, events);
        if (events.length >= max || file.fd === undefined || closed()) return;
        if (!file.unread) {
          await file.refresh();
          if (file.size < file.scanner.readOffset) {
            if (events.length > 0) return; // send what the old content gave first
            this.truncated(file);
            continue;
          }
          if (!file.unread) return;
        }
        const n = await file.read(Math.max(this.opts.readBufferBytes, file.scanner.held));
        if (n === 0) {
          file.size = file.scanner.readOffset;
          return;
        }
        file.lastActivity = this.now();
      }
    } catch {
      this.metrics.inc('EventReadFail');
      file.failed = true;
    }
  }

  /** Takes the lines already in `file`'s buffer into `events`, up to a batch. */
  collect(file: TailFile, events: FlumeEvent[]): void {
    const limit = this.opts.batchSize - events.length;
    const long = file.scanner.longLines;
    const n = file.scanner.take(limit, this.sinkFor(file, events));
    file.buffered = n === limit;
    if (file.scanner.longLines !== long) this.metrics.inc('LongLineCount', file.scanner.longLines - long);
  }

  /** The partial last line of a file being closed, as events (none when it ended with a newline). */
  flush(file: TailFile): FlumeEvent[] {
    const events: FlumeEvent[] = [];
    const long = file.scanner.longLines;
    file.scanner.flush(this.sinkFor(file, events));
    if (file.scanner.longLines !== long) this.metrics.inc('LongLineCount', file.scanner.longLines - long);
    return events;
  }

  private sinkFor(file: TailFile, events: FlumeEvent[]): LineSink {
    const group = file.group.headers;
    const fixed = this.opts.fileHeader ? { ...group, [this.opts.fileHeaderKey]: file.path } : group;
    return new EventCollector(events, Object.keys(fixed).length > 0 ? fixed : undefined, this.opts.byteOffsetHeader);
  }
}
