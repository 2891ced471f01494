// Runs source → channel → recording sink in its own process, to be killed with SIGKILL or to meet
// disk faults (a full disk, a read-only file system, permissions taken away).
//
//   node faultChild.mjs <buildDir> <workDir> <run|drain> <runNumber> [optionsJson]
//
// The source numbers events from one past the highest number it ever saw acked, and appends each
// acked range to <work>/acked.log right after the ack ("from count" lines). The sink appends every
// event it receives to <work>/received.log ("number run" lines, `run` being the run that put it),
// one write per batch, then acks — at once or a few ms later. `drain` puts nothing: it delivers what
// the channel holds and exits 0 once the channel completed (as does `run` with CHILD_TOTAL_EVENTS),
// printing the channel's metrics. "ready" is printed once the channel stored its first put (or, in
// drain mode, at once). A channel that fails prints "failed <code> <message>" and exits 3.
//
// Environment:
//   CHILD_CHANNEL=file|spillable   the channel (fileChannel by default); optionsJson overrides its options
//   CHILD_TOTAL_EVENTS=n           the source ends after n events (once all its batches are acked)
//   CHILD_PAUSE_FILE=path          while this file exists the sink holds what it received, unacked
//   CHILD_STATS_MS=n               every n ms print "stats {heapUsed, external, rss, ...channel metrics}"
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [buildDir, work, mode, runText, optionsJson] = process.argv.slice(2);
const run = Number(runText);
const load = (rel) => import(pathToFileURL(path.join(buildDir, rel)).href);
const { pollSource } = await load('lib/core/pollSource.js');
const kind = process.env.CHILD_CHANNEL ?? 'file';

const ackedLog = path.join(work, 'acked.log');
const receivedLog = path.join(work, 'received.log');
const channelLog = path.join(work, 'channel.log');

let next = 0;
if (existsSync(ackedLog)) {
  for (const line of readFileSync(ackedLog, 'utf8').split('\n')) {
    const [from, count] = line.split(' ').map(Number);
    if (Number.isFinite(from) && Number.isFinite(count) && count > 0) next = Math.max(next, from + count);
  }
}

const BATCH = 50;
const retries = [];
let ready = mode === 'drain';
if (ready) console.log('ready');
const total = Number(process.env.CHILD_TOTAL_EVENTS ?? Infinity);
const poll = () => {
  if (mode === 'drain') return null;
  if (retries.length === 0 && next >= total) return null;
  const from = retries.length > 0 ? retries.shift() : (next += BATCH) - BATCH;
  const events = [];
  for (let i = 0; i < BATCH; i++) events.push({ headers: { run: String(run) }, body: Buffer.from(String(from + i)) });
  return {
    events,
    commit: () => {
      appendFileSync(ackedLog, `${from} ${BATCH}\n`);
      if (!ready) {
        ready = true;
        console.log('ready');
      }
    },
    rollback: () => retries.push(from),
  };
};

const common = {
  checkpointDir: path.join(work, 'checkpoint'),
  dataDirs: [path.join(work, 'data1'), path.join(work, 'data2')],
  transactionCapacity: 100,
  maxFileSize: 65536,
  checkpointIntervalMs: 50,
  keepAliveMs: 200,
  minimumRequiredSpace: 0,
  backoffSleepIncrementMs: 10,
  maxBackoffSleepMs: 50,
  logger: (level, message) => appendFileSync(channelLog, `${new Date().toISOString()} [${process.pid}] ${level} ${message}\n`),
};
const extra = optionsJson ? JSON.parse(optionsJson) : {};
let channel;
if (kind === 'spillable') {
  const { spillableMemoryChannel } = await load('operators/channels/spillableMemoryChannel.js');
  channel = spillableMemoryChannel({ ...common, memoryCapacity: 500, overflowCapacity: 5000, overflowTimeoutMs: 20, ...extra });
} else {
  const { fileChannel } = await load('operators/channels/fileChannel.js');
  channel = fileChannel({ ...common, capacity: 5000, ...extra });
}
const metrics = () => channel[Symbol.for('rxflume.metrics')].snapshot();

const pauseFile = process.env.CHILD_PAUSE_FILE;
const held = [];
if (pauseFile) {
  setInterval(() => {
    if (!existsSync(pauseFile)) for (const b of held.splice(0)) b.ack();
  }, 50);
}
const statsMs = Number(process.env.CHILD_STATS_MS ?? 0);
if (statsMs > 0) {
  setInterval(() => {
    const { heapUsed, external, rss } = process.memoryUsage();
    console.log(`stats ${JSON.stringify({ heapUsed, external, rss, ...metrics() })}`);
  }, statsMs);
}

let received = 0;
pollSource(poll, { maxInFlight: 3, backoffSleepIncrementMs: 10, maxBackoffSleepMs: 50 })
  .pipe(channel)
  .subscribe({
    next: (batch) => {
      appendFileSync(receivedLog, batch.events.map((e) => `${e.body.toString()} ${e.headers.run}\n`).join(''));
      received += batch.events.length;
      if (pauseFile && existsSync(pauseFile)) held.push(batch);
      else if (Math.random() < 0.5) batch.ack();
      else setTimeout(() => batch.ack(), Math.floor(Math.random() * 3));
    },
    error: (error) => {
      console.log(`failed ${error.code} ${error.message}`);
      process.exit(3);
    },
    complete: () => {
      console.log(`metrics ${JSON.stringify(metrics())}`);
      console.log(`drained ${received}`);
      process.exit(0);
    },
  });
