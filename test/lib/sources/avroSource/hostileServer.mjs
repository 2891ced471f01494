// Runs avroSource with default options (compressionType from argv[2]: none or deflate) → memory
// channel → an acking sink, in its own process (run from the tree buildForChild makes), so a parent
// can attack it and read this process's RSS. Prints {"port"} once listening; on each stdin line,
// prints {"maxRss", "rss", "events", "metrics"} (maxRss sampled every 20 ms).
import { avroSource } from '../../../../lib/sources/avroSource.js';
import { metricsOf } from '../../../../lib/core/metrics.js';
import { memoryChannel } from '../../../../operators/channels/memoryChannel.js';

let maxRss = process.memoryUsage.rss();
setInterval(() => (maxRss = Math.max(maxRss, process.memoryUsage.rss())), 20);

let events = 0;
const source = avroSource({
  bind: '127.0.0.1',
  port: 0,
  compressionType: process.argv[2] ?? 'none',
  onListening: (a) => console.log(JSON.stringify({ port: a.port })),
});
source.pipe(memoryChannel({ capacity: 100_000, transactionCapacity: 20_000 })).subscribe({
  next: (batch) => {
    events += batch.events.length;
    batch.ack();
  },
  error: (error) => {
    console.error('source failed', error);
    process.exit(1);
  },
});

process.stdin.on('data', () => {
  console.log(JSON.stringify({ maxRss, rss: process.memoryUsage.rss(), events, metrics: metricsOf(source).snapshot() }));
});
