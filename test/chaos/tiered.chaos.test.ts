/**
 * The tiered deployment under faults, short form (issue #16): 3 edges → 2 collectors → 3 Kafka brokers
 * → 1 consumer (file_roll, and HDFS over Hadoop's native protocols), each in its own network namespace,
 * through one fault of each kind (bench/chaos/scenario.ts).
 * Needs root, java and ip/tc/nft; fails without them. The long form is `npm run chaos`.
 */
import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, formatReport, runChaos, type ChaosReport } from '../../bench/chaos/scenario.js';

/** Per agent, well above what one uses (~100–150 MB) and far below a leak over the run. */
const RSS_CEILING_MB = 400;

describe('tiered deployment under faults', () => {
  let report: ChaosReport;

  it('delivers every line at least once to file_roll and to HDFS through one fault of each kind, each recovered', async () => {
    // The budget leaves ~40 s of the test's 240 s for teardown (agents, 3 JVMs, namespaces, mounts).
    report = await runChaos({ rate: 100, holdMs: 4000, recoveryTimeoutMs: 30_000, drainTimeoutMs: 30_000, budgetMs: 190_000, log: (l) => console.log(l) });
    console.log(formatReport(report));
    expect(report.faults.map((f) => f.fault)).toEqual(FAULT_KINDS);
    expect(report.lostSample).toEqual([]);
    expect(report.lost).toBe(0);
    expect(report.delivered).toBe(report.written);
    expect(report.foreign).toBe(0);
    // HDFS, read back after the run: every line there too, none mangled, and its files closed by the graceful stop.
    expect(report.hdfs?.lostSample).toEqual([]);
    expect(report.hdfs?.lost).toBe(0);
    expect(report.hdfs?.delivered).toBe(report.written);
    expect(report.hdfs?.foreign).toBe(0);
    expect(report.hdfs?.inUse).toBe(0);
    expect(report.faults.filter((f) => f.recoveryMs === null)).toEqual([]);
    expect(report.faults.find((f) => f.fault === 'fill-disk')?.detail).toMatch(/puts refused/);
    for (const [agent, mb] of Object.entries(report.peakRssMB)) expect({ agent, mb: mb < RSS_CEILING_MB && mb > 0 }).toEqual({ agent, mb: true });
  }, 240_000);
});
