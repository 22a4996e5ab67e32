import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedEventLog } from '../../platform/log/embedded/embedded-event-log.adapter.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { appendEvents, createScriptedLog, within } from '../../projections/testing/projection-test-kit.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { createAppliedTracker, runProjection } from './projection.runtime.ts';
import type { ProjectionNode } from './topology.port.ts';

/** A ProjectionNode on the views topic that stores nothing; `overrides` add what a test watches. */
const probeNode = (name: string, overrides: Partial<ProjectionNode>): ProjectionNode => ({
  kind: 'projection', name, inputs: [TOPICS.views], guarantee: 'effectively-once', output: 'nothing', queries: {},
  loadCheckpoint: async () => new Map(), apply: async () => {}, close: async () => {},
  ...overrides,
});

describe('applied tracker (waitFor)', () => {
  test('resolves once every position is applied; ignores topics it does not consume', async () => {
    const t = createAppliedTracker(['a', 'b']);
    const p = t.waitFor([{ topic: 'a', partition: 0, offset: 4 }, { topic: 'b', partition: 1, offset: 0 }, { topic: 'other', partition: 0, offset: 99 }], 5_000);
    t.advance(new Map([['a:0', 5]]));
    t.advance(new Map([['b:1', 1]]));
    assert.equal(await p, true);
    assert.equal(await t.waitFor([{ topic: 'a', partition: 0, offset: 4 }], 0), true);
  });

  test('false on timeout or stop, never a throw; positions never move back', async () => {
    const t = createAppliedTracker(['a']);
    t.advance(new Map([['a:0', 5]]));
    t.advance(new Map([['a:0', 2]]));
    assert.equal(await t.waitFor([{ topic: 'a', partition: 0, offset: 4 }], 0), true);
    assert.equal(await t.waitFor([{ topic: 'a', partition: 0, offset: 5 }], 10), false);
    const pending = t.waitFor([{ topic: 'a', partition: 0, offset: 9 }], 60_000);
    t.stop();
    assert.equal(await pending, false);
  });
});

describe('runProjection: assignment', () => {
  test('given a node with in-memory state, when its partitions are assigned, then onAssigned hears of them before their checkpoint is read and any batch is applied', async () => {
    const codec = await sharedAvroTestCodec();
    const log = await createScriptedLog(2);
    await appendEvents(log, codec, [{
      type: 'VideoViewed', data: { videoId: 'v1', sessionId: 's1', viewerId: null, watchedSeconds: 30, positionSeconds: 30, videoDurationSeconds: 60, viewedAt: 0 },
    }]);
    const calls: string[] = [];
    const node = probeNode('assignment-probe', {
      loadCheckpoint: async () => { calls.push('checkpoint'); return new Map(); },
      onAssigned: (partitions) => { calls.push(`assigned ${partitions.map((p) => `${p.topic}:${p.partition}`).sort().join(',')}`); },
      apply: async (batch) => { calls.push(`apply ${batch.topic}:${batch.partition}`); },
    });
    const h = await runProjection(node, { log, codec });
    try {
      await within(h.caughtUp(), 10_000, 'caught up');
    } finally {
      await h.stop();
    }
    const assigned = calls.findIndex((c) => c.startsWith('assigned'));
    assert.equal(calls[assigned], `assigned ${TOPICS.views}:0,${TOPICS.views}:1`);
    assert.equal(calls[assigned + 1], 'checkpoint', 'the checkpoint is read after onAssigned');
    const applied = calls.findIndex((c) => c.startsWith('apply'));
    assert.ok(applied > assigned, calls.join(' | '));
  });
});

describe('runProjection: partitionsConcurrently', () => {
  /**
   * Runs `fn` on an embedded log (which honours the subscription's concurrency) whose views topic
   * has 2 partitions and 3 records in each. Records are not events: each is applied as
   * undecodable, which is enough to see when `apply` runs.
   */
  async function withTwoPartitions<T>(fn: (log: Awaited<ReturnType<typeof createEmbeddedEventLog>>) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), 'sw-projection-concurrency-'));
    try {
      const log = await createEmbeddedEventLog({ dataDir: dir, fsync: false });
      try {
        await log.createTopic({ name: TOPICS.views, partitions: 2 });
        await log.append(TOPICS.views, Array.from({ length: 6 }, (_, i) => ({ key: null, value: Buffer.from('not avro'), partition: i % 2 })));
        return await fn(log);
      } finally {
        await log.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Runs a node over withTwoPartitions' records, one record per batch. @returns what `apply` saw */
  function runTwoPartitions(concurrently: number | undefined, gate: boolean) {
    return withTwoPartitions(async (log) => {
      const seen = { maxActive: 0, maxActivePerPartition: 0, order: new Map<number, number[]>() };
      const active = new Map<number, number>();
      let release!: () => void;
      const bothStarted = new Promise<void>((r) => { release = r; });
      const node = probeNode('concurrency-probe', {
        maxBatchSize: 1, partitionsConcurrently: concurrently,
        async apply(batch) {
          active.set(batch.partition, (active.get(batch.partition) ?? 0) + 1);
          const total = [...active.values()].reduce((a, b) => a + b, 0);
          seen.maxActive = Math.max(seen.maxActive, total);
          seen.maxActivePerPartition = Math.max(seen.maxActivePerPartition, active.get(batch.partition)!);
          if (total === 2) release();
          // With the gate, a batch waits until both partitions are in flight: only concurrency gets there.
          if (gate) await bothStarted;
          seen.order.set(batch.partition, [...(seen.order.get(batch.partition) ?? []), ...batch.records.map((r) => r.record.offset)]);
          active.set(batch.partition, active.get(batch.partition)! - 1);
        },
      });
      const h = await runProjection(node, { log, codec: await sharedAvroTestCodec() });
      try {
        await within(h.caughtUp(), 30_000, 'both partitions in flight at once, then caught up');
      } finally {
        release(); // a failed run must not leave a batch waiting: stop waits for it
        await h.stop();
      }
      return seen;
    });
  }

  test('given partitionsConcurrently 2, when both partitions have batches, then one batch of each is applied at once, and each partition\'s in order, one at a time', async () => {
    const seen = await runTwoPartitions(2, true);
    assert.equal(seen.maxActive, 2);
    assert.equal(seen.maxActivePerPartition, 1);
    assert.deepEqual([seen.order.get(0), seen.order.get(1)], [[0, 1, 2], [0, 1, 2]]);
  });

  test('given no partitionsConcurrently, then apply is never called while another call runs', async () => {
    const seen = await runTwoPartitions(undefined, false);
    assert.equal(seen.maxActive, 1);
    assert.deepEqual([seen.order.get(0), seen.order.get(1)], [[0, 1, 2], [0, 1, 2]]);
  });

  test('given partitionsConcurrently 2 and a batch of partition 0 that keeps failing, when partition 1 keeps applying, then failures() still counts partition 0\'s failures in a row, until its batch succeeds', async () => {
    await withTwoPartitions(async (log) => {
      let poisoned = true;
      let failed = 0;
      let appliedAfterThirdFailure = false;
      const node = probeNode('failure-probe', {
        maxBatchSize: 1, partitionsConcurrently: 2,
        async apply(batch) {
          if (batch.partition === 0 && poisoned) {
            failed++;
            throw new Error('poison batch');
          }
          if (batch.partition === 1 && failed >= 3) appliedAfterThirdFailure = true;
        },
      });
      const h = await runProjection(node, { log, codec: await sharedAvroTestCodec() });
      try {
        // Partition 1 gets a record now and then: its batches succeed while partition 0's fail.
        const deadline = Date.now() + 30_000;
        while (!(failed >= 3 && appliedAfterThirdFailure)) {
          assert.ok(Date.now() < deadline, `partition 0 failed ${failed} times; partition 1 applied after the third: ${appliedAfterThirdFailure}`);
          await log.append(TOPICS.views, [{ key: null, value: Buffer.from('not avro'), partition: 1 }]);
          await new Promise((r) => setTimeout(r, 50));
        }
        const during = h.failures();
        assert.ok(during.consecutive >= 3, `consecutive failures ${during.consecutive} after partition 0 failed ${failed} times`);
        assert.equal(during.lastError, 'poison batch');
        poisoned = false;
        await within(h.caughtUp(), 30_000, 'partition 0 applied once the poison is gone');
        assert.deepEqual(h.failures(), { consecutive: 0 });
      } finally {
        poisoned = false;
        await h.stop();
      }
    });
  });
});
