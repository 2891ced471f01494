import { describe, expect, it } from 'vitest';
import type { Batch } from '../../../lib/core/batch.js';
import { ComponentError } from '../../../lib/core/errors.js';
import { ComponentCounters } from '../../../lib/core/metrics.js';
import { startEngine, type ConsumerClient, type ConsumerHandlers, type EngineConfig, type InRecord, type TopicPartitionOffset } from '../../../lib/kafka/consumer.js';
import { bodies } from '../../support/batches.js';

/** A group member driven by the test: it records what the engine asks of it. */
function fakeClient(startOutcomes: Array<'ok' | Error> = []) {
  const state = {
    handlers: undefined as ConsumerHandlers | undefined,
    starts: 0,
    stops: 0,
    commits: [] as TopicPartitionOffset[][],
    paused: [] as string[][],
    resumed: [] as string[][],
  };
  const client: ConsumerClient = {
    start: async (h) => {
      state.starts++;
      const outcome = startOutcomes.shift() ?? 'ok';
      if (outcome !== 'ok') throw outcome;
      state.handlers = h;
    },
    commit: async (offsets) => void state.commits.push([...offsets]),
    pause: (topics) => void state.paused.push([...topics]),
    resume: (topics) => void state.resumed.push([...topics]),
    stop: async () => void state.stops++,
  };
  return { state, client };
}

const record = (offset: number, value = `v${offset}`): InRecord => ({ key: null, value: Buffer.from(value), offset: String(offset), timestamp: '0' });

function engine(client: ConsumerClient, overrides: Partial<EngineConfig> = {}) {
  const batches: Batch[] = [];
  const errors: unknown[] = [];
  const counters = new ComponentCounters('SOURCE', 'k');
  const counts = { emitted: 0, acked: 0, nacked: 0 };
  const e = startEngine(
    {
      name: 'k',
      batchSize: 2,
      batchDurationMs: 10,
      maxInFlight: 10,
      backoffStepMs: 5,
      backoffMaxMs: 20,
      failCode: 'FLUME_SOURCE_FAILED',
      what: 'topic t',
      client,
      toEvent: (_t, _p, r) => ({ headers: { offset: r.offset }, body: r.value ?? Buffer.alloc(0) }),
      emitted: (n) => (counts.emitted += n),
      acked: (n) => (counts.acked += n),
      nacked: (n) => (counts.nacked += n),
      counters,
      ...overrides,
    },
    { next: (b) => batches.push(b), error: (err) => errors.push(err) },
  );
  return { engine: e, batches, errors, counters, counts };
}

async function started(state: { handlers: ConsumerHandlers | undefined }): Promise<ConsumerHandlers> {
  await expect.poll(() => state.handlers).toBeDefined();
  return state.handlers!;
}

/** An engine over a fake client, started and assigned `assignment` (partition 0 of topic t unless told). */
async function assigned(overrides: Partial<EngineConfig> = {}, assignment: Record<string, number[]> = { t: [0] }) {
  const { state, client } = fakeClient();
  const run = engine(client, overrides);
  const h = await started(state);
  h.assigned(assignment);
  return { ...run, state, h };
}

describe('startEngine', () => {
  it('cuts batches of batchSize and commits past the last offset of each acked batch', async () => {
    const { engine: e, batches, state, h } = await assigned();
    h.records('t', 0, [record(5), record(6), record(7)]);
    expect(batches.map(bodies)).toEqual([['v5', 'v6']]);
    // The rest goes out once batchDurationMs passed.
    await expect.poll(() => batches.length).toBe(2);
    expect(bodies(batches[1]!)).toEqual(['v7']);
    batches[0]!.ack();
    await e.commitsSettled();
    expect(state.commits.flat()).toEqual([{ topic: 't', partition: 0, offset: '7' }]);
    batches[1]!.ack();
    await e.commitsSettled();
    expect(state.commits.flat().at(-1)).toEqual({ topic: 't', partition: 0, offset: '8' });
    await e.stop();
  });

  it('commits only the acked prefix of a partition: a later ack waits for the earlier batch', async () => {
    const { engine: e, batches, state, h } = await assigned();
    h.records('t', 0, [record(0), record(1), record(2), record(3)]);
    expect(batches).toHaveLength(2);
    batches[1]!.ack();
    await e.commitsSettled();
    expect(state.commits).toEqual([]);
    batches[0]!.ack();
    await e.commitsSettled();
    expect(state.commits.flat()).toEqual([{ topic: 't', partition: 0, offset: '4' }]);
    await e.stop();
  });

  it('holds a retriable nack and sends the same events again after back-off, committing nothing meanwhile', async () => {
    const { engine: e, batches, counts, state, h } = await assigned();
    h.records('t', 0, [record(0), record(1)]);
    batches[0]!.nack(new Error('channel full'));
    expect(counts.nacked).toBe(2);
    expect(e.held()).toBe(2);
    await expect.poll(() => batches.length).toBe(2);
    expect(bodies(batches[1]!)).toEqual(['v0', 'v1']);
    expect(state.commits).toEqual([]);
    batches[1]!.ack();
    await e.commitsSettled();
    expect(state.commits.flat()).toEqual([{ topic: 't', partition: 0, offset: '2' }]);
    expect(e.held()).toBe(0);
    await e.stop();
  });

  it('ends the stream on a non-retriable nack, and stops the client', async () => {
    const { batches, errors, state, h } = await assigned();
    h.records('t', 0, [record(0), record(1)]);
    const fatal = new ComponentError('FLUME_SINK_FAILED', 'no', { component: 'x', retriable: false });
    batches[0]!.nack(fatal);
    expect(errors).toEqual([fatal]);
    await expect.poll(() => state.stops).toBe(1);
  });

  it('a rebalance starts a new epoch: acks of batches cut before it commit nothing, records of partitions no longer ours are dropped', async () => {
    const { engine: e, batches, state, h } = await assigned({}, { t: [0, 1] });
    h.records('t', 0, [record(0), record(1)]);
    h.assigned({ t: [1] });
    batches[0]!.ack();
    await e.commitsSettled();
    expect(state.commits).toEqual([]);
    h.records('t', 0, [record(2), record(3)]);
    expect(batches).toHaveLength(1);
    h.records('t', 1, [record(0), record(1)]);
    expect(batches).toHaveLength(2);
    await e.stop();
  });

  it('fails with failCode, counting EventReadFail, when a record cannot be made an event', async () => {
    const { errors, counters, h } = await assigned({
      toEvent: () => {
        throw new Error('bad header');
      },
    });
    h.records('t', 0, [record(9)]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'FLUME_SOURCE_FAILED', retriable: false });
    expect((errors[0] as Error).message).toContain('t/0@9: bad header');
    expect(counters.get('EventReadFail')).toBe(1);
  });

  it('pauses fetching while a whole batch waits for a free slot, and resumes when one frees', async () => {
    const { engine: e, batches, state, h } = await assigned({ maxInFlight: 1 });
    expect(state.resumed).toEqual([['t']]); // a new epoch starts unpaused (kafkajs keeps pause state across a re-join)
    h.records('t', 0, [record(0), record(1), record(2), record(3)]);
    expect(batches).toHaveLength(1);
    expect(state.paused).toEqual([['t']]);
    batches[0]!.ack();
    expect(batches).toHaveLength(2);
    expect(state.resumed).toEqual([['t'], ['t']]);
    await e.stop();
  });

  it('fails at once on a topic that does not exist, and retries other start failures after back-off', async () => {
    const unknown = Object.assign(new Error('This server does not host this topic-partition'), { type: 'UNKNOWN_TOPIC_OR_PARTITION' });
    const a = fakeClient([unknown]);
    const first = engine(a.client);
    await expect.poll(() => first.errors.length).toBe(1);
    expect((first.errors[0] as Error).message).toContain('topic t does not exist');

    const b = fakeClient([new Error('ECONNREFUSED'), new Error('ECONNREFUSED'), 'ok']);
    const second = engine(b.client);
    await expect.poll(() => b.state.starts).toBe(3);
    expect(second.errors).toEqual([]);
    expect(second.counters.get('GenericProcessingFail')).toBe(2);
    await second.engine.stop();
  });

  it('counts fetches, and fetches that brought nothing', async () => {
    const { engine: e, counters, h } = await assigned();
    h.fetched(3); // records since start count as seen
    h.fetched(4);
    h.records('t', 0, [record(0)]);
    h.fetched(5);
    expect(counters.get('KafkaEventGetTimer')).toBe(12);
    expect(counters.get('KafkaEmptyCount')).toBe(1);
    await e.stop();
  });

  it('stop waits up to its grace for batches in flight, commits the acked ones, then stops the client', async () => {
    const { engine: e, batches, state, h } = await assigned();
    h.records('t', 0, [record(0), record(1)]);
    const stopping = e.stop(5000);
    await Promise.resolve();
    expect(state.stops).toBe(0);
    batches[0]!.ack();
    await stopping;
    expect(state.commits.flat()).toEqual([{ topic: 't', partition: 0, offset: '2' }]);
    expect(state.stops).toBe(1);
  });

  it('a failed commit is kept and tried again after back-off, and no more than maxInFlight acked batches wait on commits meanwhile', async () => {
    const { state, client } = fakeClient();
    let failing = true;
    client.commit = async (offsets) => {
      if (failing) throw new Error('coordinator away');
      state.commits.push([...offsets]);
    };
    const { engine: e, batches, counters } = engine(client, { maxInFlight: 1, batchSize: 1 });
    const h = await started(state);
    h.assigned({ t: [0] });
    h.records('t', 0, [record(0), record(1), record(2), record(3), record(4)]);
    // Acked batch after batch while every commit fails: once maxInFlight + 1 acked batches wait, nothing more goes out.
    for (let i = 0; i < 5 && batches[i]; i++) {
      batches[i]!.ack();
      await new Promise((r) => setTimeout(r, 1));
    }
    await new Promise((r) => setTimeout(r, 30));
    expect(batches.length).toBe(2);
    expect(counters.snapshot()['GenericProcessingFail']).toBeGreaterThan(0);
    // The coordinator returns: the kept offsets go out and the rest follows.
    failing = false;
    await expect.poll(() => state.commits.flat().at(-1)?.offset).toBe('2');
    for (let i = 2; i < 5; i++) {
      await expect.poll(() => batches.length).toBeGreaterThan(i);
      batches[i]!.ack();
    }
    await expect.poll(() => state.commits.flat().at(-1)?.offset).toBe('5');
    await e.stop();
  });

  for (const outcome of ['succeeds', 'fails'] as const) {
    it(`a commit in flight across a rebalance (${outcome} after it): the new epoch's acks are committed and emission goes on`, async () => {
      // A commit out when the group rebalances (the hold's heartbeat finds the rebalance while the engine
      // waits on that very commit) is retried by kafkajs and may land after the re-join.
      const { state, client } = fakeClient();
      let release!: (ok: boolean) => void;
      let first = true;
      client.commit = async (offsets) => {
        if (first) {
          first = false;
          if (!(await new Promise<boolean>((r) => (release = r)))) throw new Error('REBALANCE_IN_PROGRESS');
        }
        state.commits.push([...offsets]);
      };
      const { engine: e, batches } = engine(client, { maxInFlight: 1, batchSize: 1 });
      const h = await started(state);
      h.assigned({ t: [0] });
      h.records('t', 0, [record(0)]);
      batches[0]!.ack();
      h.assigned({ t: [0] }); // partition 0 again, from its committed offset
      h.records('t', 0, [record(0), record(1), record(2), record(3)]);
      batches[1]!.ack();
      batches[2]!.ack();
      expect(batches).toHaveLength(3); // maxInFlight + 1 acks wait on commits
      release(outcome === 'succeeds');
      await expect.poll(() => batches.length).toBe(4);
      expect(state.commits.flat().at(-1)).toEqual({ topic: 't', partition: 0, offset: '2' });
      batches[3]!.ack();
      await expect.poll(() => state.commits.flat().at(-1)?.offset).toBe('3');
      await e.stop();
    });
  }
});
