import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainEvent } from '../../domain/events.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { runProjection } from '../../processors/runtime/projection.runtime.ts';
import type { SearchQueries } from '../read-model.port.ts';
import { appendEvents, createScriptedLog, duplicatingLog, within } from '../testing/projection-test-kit.ts';
import { createFileSnapshotStore, type SnapshotStore } from './search-snapshot-store.ts';
import { createSearchProjection } from './search.projection.ts';
import { testSearchReadModel, type SearchEngineUnderTest } from './search.contract.ts';
import { testSearchFilters } from './search-filters.contract.ts';

const codec = await sharedAvroTestCodec();
const root = await mkdtemp(join(tmpdir(), 'sw-search-'));
after(() => rm(root, { recursive: true, force: true }));
const secret = 'test-secret';
const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);

function video(videoId: string, title: string, description = '', tags: string[] = [], publish = true): DomainEvent[] {
  const events: DomainEvent[] = [
    { type: 'UploadStarted', data: { videoId, ownerId: 'o1', uploadId: `up-${videoId}`, objectKey: `raw/${videoId}`, filename: 'a.mp4', sizeBytes: 1, contentType: 'video/mp4', title, description, tags, partSizeBytes: 1, startedAt: T0 } },
  ];
  if (publish) events.push({ type: 'VideoPublished', data: { videoId, masterPlaylistKey: `hls/${videoId}/master.m3u8`, thumbnailKey: `t/${videoId}.jpg`, durationSeconds: 30, publishedAt: T0 + 1 } });
  return events;
}

async function run(log: EventLog, snapshots: SnapshotStore, flushIntervalMs?: number) {
  const p = createSearchProjection({ snapshots, cursorSecret: secret, flushIntervalMs, now: () => T0 + 1_000_000 });
  const h = await runProjection(p, { log, codec });
  await within(h.caughtUp(), 60_000, 'caughtUp');
  return { p, h, async close() { await h.stop(); await p.close(); } };
}

const ids = async (s: SearchQueries, q: string) => (await s.search(q, 100)).videos.map((v) => v.videoId);

function memorySnapshots(initial?: string) {
  let text = initial;
  let saves = 0;
  return { load: async () => text, save: async (t: string) => { text = t; saves++; }, get text() { return text; }, get saves() { return saves; } };
}

// The behaviour every search engine shares (also run against Typesense in typesense-search.adapter.test.ts).
/** The MiniSearch engine under the shared contracts: each store is an in-memory snapshot. */
const miniSearchEngine = async () => {
  const snapshots = new Map<string, ReturnType<typeof memorySnapshots>>();
  return {
    async open(store: string, opts: Parameters<SearchEngineUnderTest['open']>[1]) {
      if (!snapshots.has(store)) snapshots.set(store, memorySnapshots());
      return createSearchProjection({ snapshots: snapshots.get(store)!, ...opts });
    },
    async teardown() { snapshots.clear(); },
  };
};
testSearchReadModel('MiniSearch', miniSearchEngine);
testSearchFilters('MiniSearch', miniSearchEngine);

// MiniSearch's own persistence: one snapshot (index + checkpoint) written after batches, debounced.
describe('search projection (MiniSearch snapshots)', () => {
  test('restart from the snapshot file; redelivery is a no-op', async () => {
    const path = join(root, 'restart', 'video-search.json');
    const log = await createScriptedLog();
    await appendEvents(log, codec, [...video('v1', 'Dinosaur documentary'), ...video('v2', 'Dinosaur museum')]);
    let r = await run(duplicatingLog(log), createFileSnapshotStore({ path }));
    assert.deepEqual((await ids(r.p.queries, 'dinosaur')).sort(), ['v1', 'v2']);
    await r.close();
    await appendEvents(log, codec, [...video('v3', 'Dinosaur bones'), { type: 'VideoDeleted', data: { videoId: 'v1', deletedBy: 'o1', deletedAt: T0 + 9 } }]);
    r = await run(log, createFileSnapshotStore({ path }));
    try {
      assert.deepEqual((await ids(r.p.queries, 'dinosaur')).sort(), ['v2', 'v3']);
    } finally {
      await r.close();
    }
  });

  test('a crash after an older snapshot loses nothing: replay from its checkpoint', async () => {
    const log = await createScriptedLog();
    await appendEvents(log, codec, video('v1', 'Dinosaur documentary'));
    const snaps = memorySnapshots();
    const r = await run(log, snaps, 3_600_000);
    // The first batch is flushed right away; later ones wait for the (long) interval.
    for (let i = 0; i < 200 && snaps.saves === 0; i++) await new Promise((res) => setTimeout(res, 10));
    assert.equal(snaps.saves, 1);
    const pos = await appendEvents(log, codec, video('v2', 'Dinosaur museum'));
    assert.equal(await r.h.waitFor(pos, 5_000), true);
    const stale = snaps.text; // what a kill -9 now would leave on disk
    await r.close();
    const again = await run(log, memorySnapshots(stale));
    try {
      assert.deepEqual((await ids(again.p.queries, 'dinosaur')).sort(), ['v1', 'v2']);
    } finally {
      await again.close();
    }
  });
});
