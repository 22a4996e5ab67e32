/** The key-value projection's batch given events whose reads it knows up front (`readsOf`): one round trip per batch, each read its own copy, a bad event skipped. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainEvent } from '../../domain/events.ts';
import { historyUpTo } from '../../domain/video/video.fixtures.ts';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import { driveReadModel, inMemoryStores } from '../testing/projection-test-kit.ts';
import { createInMemoryKeyValueStore } from './in-memory-key-value-store.adapter.ts';
import { createKeyValueProjection, type KeyValueBatch } from './key-value-projection.ts';
import type { KeyValueStore } from './key-value-store.port.ts';

/** `store` counting its point reads (get, getMany, getManyJson: one round trip each on Redis). */
function countingReads(store: KeyValueStore): { store: KeyValueStore; reads: () => number } {
  let reads = 0;
  return {
    reads: () => reads,
    store: {
      ...store,
      get: (k) => { reads++; return store.get(k); },
      getMany: (ks) => { reads++; return store.getMany(ks); },
      getManyJson: (ks) => { reads++; return store.getManyJson(ks); },
    },
  };
}

const heartbeat = (videoId: string, sessionId: string): DomainEvent => ({
  type: 'VideoViewed',
  data: { videoId, sessionId, viewerId: null, watchedSeconds: 12, positionSeconds: 12, videoDurationSeconds: 60, viewedAt: Date.UTC(2026, 11, 3, 12), sessionStartedAt: null },
});

/** A batch of `events` on one partition, as the runtime hands it over. */
const batchOf = (events: (DomainEvent | undefined)[]) => ({
  topic: 't', partition: 0, checkpoint: new Map([['t:0', events.length]]),
  records: events.map((event, offset) => ({ record: { topic: 't', partition: 0, offset } as unknown as LogRecord, event })),
});

describe('key-value projection batch reads', () => {
  test('given 50 heartbeats of 50 sessions in one batch, when video-detail applies it, then it reads the store in a few round trips, not one per session, and counts 50 views', async () => {
    let counted: ReturnType<typeof countingReads> | undefined;
    const { apply, queries } = await driveReadModel('video-detail', {
      stores: { ...inMemoryStores(), keyValue: async () => (counted = countingReads(createInMemoryKeyValueStore())).store },
    });
    await apply(historyUpTo('v', 'ready'));
    const before = counted!.reads();
    await apply(Array.from({ length: 50 }, (_, i) => heartbeat('v', `s${i}`)));
    const reads = counted!.reads() - before;
    assert.ok(reads < 10, `one read per session would be 50 or more; read ${reads} times`);
    assert.equal((await queries.getVideo('v'))?.views, 50);
  });

  test('given a key read twice in a batch, then the store is read once, and a value changed by the caller without a put reads as stored', async () => {
    const { store, reads } = countingReads(createInMemoryKeyValueStore());
    await store.commit([{ op: 'put', key: 'k', value: { n: 1 } }], new Map());
    const seen: number[] = [];
    const node = createKeyValueProjection({
      name: 'test', layoutVersion: 1, inputs: ['t'], store, queries: {},
      async applyEvent(tx: KeyValueBatch) {
        const v = (await tx.get<{ n: number }>('k'))!;
        seen.push(v.n);
        v.n = 99; // changed, never put back
      },
    });
    const before = reads();
    await node.apply(batchOf([heartbeat('v', 'a'), heartbeat('v', 'b')]));
    assert.deepEqual(seen, [1, 1], 'the second get is a fresh copy of the stored value');
    assert.equal(reads() - before, 2, 'the layout key, then k once');
    await node.close();
  });

  test('given readsOf listing keys, then they are read in one round trip before the events apply, the batch\'s own puts and deletes win over them, and an event whose readsOf throws is skipped by applyEvent alone, the batch still commits', async () => {
    const { store, reads } = countingReads(createInMemoryKeyValueStore());
    await store.commit([{ op: 'put', key: 'a', value: 1 }, { op: 'put', key: 'b', value: 2 }], new Map());
    const got: (number | undefined)[] = [];
    const node = createKeyValueProjection({
      name: 'test', layoutVersion: 1, inputs: ['t'], store, queries: {},
      readsOf(e) {
        if (e.type !== 'VideoViewed') return [];
        if (e.data.sessionId === 'bad') throw new Error('malformed');
        return [e.data.sessionId];
      },
      async applyEvent(tx, e) {
        if (e.type !== 'VideoViewed') return;
        if (e.data.sessionId === 'bad') throw new Error('malformed');
        if (e.data.sessionId === 'drop-b') { tx.del('b'); got.push(await tx.get<number>('b')); return; }
        got.push(await tx.get<number>(e.data.sessionId));
        tx.put(e.data.sessionId, 10);
      },
    });
    const before = reads();
    await node.apply(batchOf([heartbeat('v', 'a'), heartbeat('v', 'bad'), heartbeat('v', 'b'), heartbeat('v', 'c'), heartbeat('v', 'a'), heartbeat('v', 'drop-b')]));
    assert.deepEqual(got, [1, 2, undefined, 10, undefined], 'stored values, a missing key, the batch\'s own write, then its own delete over what was read ahead');
    assert.equal(reads() - before, 2, 'the layout key, then a, b, c and drop-b at once');
    assert.deepEqual(await store.getMany(['a', 'b', 'c']), [10, undefined, 10]);
    assert.deepEqual(await store.checkpoint(), new Map([['t:0', 6]]));
    await node.close();
  });
});
