import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { appendEvents, createScriptedLog, within } from '../../projections/testing/projection-test-kit.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { createAppliedTracker, runProjection } from './projection.runtime.ts';
import type { ProjectionNode } from './topology.port.ts';

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
    const node: ProjectionNode = {
      kind: 'projection', name: 'assignment-probe', inputs: [TOPICS.views], guarantee: 'effectively-once', output: 'nothing', queries: {},
      loadCheckpoint: async () => { calls.push('checkpoint'); return new Map(); },
      onAssigned: (partitions) => { calls.push(`assigned ${partitions.map((p) => `${p.topic}:${p.partition}`).sort().join(',')}`); },
      apply: async (batch) => { calls.push(`apply ${batch.topic}:${batch.partition}`); },
      close: async () => {},
    };
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
