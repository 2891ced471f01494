/**
 * `npm run chaos`: the tiered deployment under faults (bench/chaos/scenario.ts), long form. Prints the
 * report and, last, one JSON line (bench/jsonLine.ts's shape: one result per agent, the totals and
 * the faults beside). Needs root, java, ip/tc/nft. Knobs (environment):
 *
 *   RXFLUME_CHAOS_RATE      lines per second per edge (default 300)
 *   RXFLUME_CHAOS_HOLD_S    seconds each fault lasts (default 20)
 *   RXFLUME_CHAOS_CONSUMER_STOP_S  seconds the consumer stays stopped (default 60, issue #16's minute)
 *   RXFLUME_CHAOS_HDFS      the consumer's HDFS sink transport: native (default), webhdfs, or none
 *   RXFLUME_CHAOS_ROUNDS    rounds over the 8 fault kinds (7 without HDFS; default 2)
 *   RXFLUME_CHAOS_RECOVERY_S  longest wait for a fault's backlog (default 120)
 *   RXFLUME_CHAOS_PRODUCER_RETRIES  the collectors' kafka.producer.retries (default 0; 3, the sink's
 *                           default, lets kafkajs lose records when the leader broker dies)
 *
 * Exits 1 when a line was lost (at file_roll or in HDFS) or a fault did not recover.
 */
import { runChaos, formatReport } from './scenario.js';

const num = (name: string, fallback: number) => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: expected a positive number, received ${v}`);
  return n;
};

function hdfsTransport(value: string): 'native' | 'webhdfs' | false {
  if (value === 'none') return false;
  if (value === 'native' || value === 'webhdfs') return value;
  throw new Error(`RXFLUME_CHAOS_HDFS: expected native, webhdfs or none, received ${value}`);
}

const options = {
  rate: num('RXFLUME_CHAOS_RATE', 300),
  holdMs: num('RXFLUME_CHAOS_HOLD_S', 20) * 1000,
  consumerStopMs: num('RXFLUME_CHAOS_CONSUMER_STOP_S', 60) * 1000,
  hdfs: hdfsTransport(process.env['RXFLUME_CHAOS_HDFS'] ?? 'native'),
  rounds: Math.round(num('RXFLUME_CHAOS_ROUNDS', 2)),
  recoveryTimeoutMs: num('RXFLUME_CHAOS_RECOVERY_S', 120) * 1000,
  ...(process.env['RXFLUME_CHAOS_PRODUCER_RETRIES'] ? { producerRetries: Math.round(num('RXFLUME_CHAOS_PRODUCER_RETRIES', 0)) } : {}),
};
const report = await runChaos({ ...options, log: (l) => console.log(l) });
console.log(formatReport(report));
const failed = report.lost > 0 || (report.hdfs?.lost ?? 0) > 0 || report.faults.some((f) => f.recoveryMs === null);
console.log(
  JSON.stringify({
    bench: 'chaos',
    ...options,
    written: report.written,
    delivered: report.delivered,
    lost: report.lost,
    duplicated: report.duplicated,
    hdfs: report.hdfs,
    faults: report.faults,
    results: Object.entries(report.peakRssMB).map(([agent, peakRssMB]) => ({ case: `agent ${agent}`, batch: null, eventsPerSec: report.eventsPerSec, peakRssMB, server: 'rxflume' })),
  }),
);
if (failed) process.exitCode = 1;
