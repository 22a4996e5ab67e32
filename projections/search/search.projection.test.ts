import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainEvent } from '../../domain/events.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { runProjection } from '../../processors/runtime/projection.runtime.ts';
import { InvalidCursorError, type SearchQueries } from '../read-model.port.ts';
import { appendEvents, createScriptedLog, duplicatingLog, within } from '../testing/projection-test-kit.ts';
import { createFileSnapshotStore, type SnapshotStore } from './search-snapshot-store.ts';
import { createSearchProjection } from './search.projection.ts';

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

describe('search projection', () => {
  test('unlisted and private videos never appear in results; a PATCH of visibility adds or removes them (issue 8)', async () => {
    const log = await createScriptedLog();
    const withVisibility = (events: DomainEvent[], visibility: 'public' | 'unlisted' | 'private') =>
      events.map((e) => (e.type === 'UploadStarted' ? { ...e, data: { ...e.data, visibility } } : e));
    await appendEvents(log, codec, [
      ...withVisibility(video('p1', 'Volcano public'), 'public'),
      ...withVisibility(video('u1', 'Volcano unlisted'), 'unlisted'),
      ...withVisibility(video('s1', 'Volcano private'), 'private'),
    ]);
    const r = await run(log, memorySnapshots());
    try {
      assert.deepEqual(await ids(r.p.queries, 'volcano'), ['p1']);
      const pos = await appendEvents(log, codec, [
        { type: 'VideoMetadataUpdated', data: { videoId: 'p1', visibility: 'private', updatedBy: 'o1', updatedAt: T0 + 5 } },
        { type: 'VideoMetadataUpdated', data: { videoId: 'u1', visibility: 'public', updatedBy: 'o1', updatedAt: T0 + 5 } },
      ]);
      assert.equal(await r.h.waitFor(pos, 5_000), true);
      assert.deepEqual(await ids(r.p.queries, 'volcano'), ['u1']);
    } finally {
      await r.close();
    }
  });

  test('typo-tolerant search over ready videos; updates and deletes', async () => {
    const log = await createScriptedLog();
    await appendEvents(log, codec, [
      ...video('v1', 'Dinosaur documentary', 'Giant reptiles of the past'),
      ...video('v2', 'Cooking pasta', 'Fresh noodles at home', ['italian', 'kitchen']),
      ...video('v3', 'Dinosaur toys review', 'Plastic figures', [], false), // never published
    ]);
    const r = await run(log, memorySnapshots());
    try {
      assert.deepEqual(await ids(r.p.queries, 'dinosuar'), ['v1']);
      assert.deepEqual(await ids(r.p.queries, 'italian'), ['v2'], 'tags are searchable');
      assert.deepEqual(await ids(r.p.queries, 'noodl'), ['v2'], 'prefix match in the description');
      const hit = (await r.p.queries.search('dinosaur', 10)).videos[0];
      assert.deepEqual(hit, { videoId: 'v1', title: 'Dinosaur documentary', description: 'Giant reptiles of the past', tags: [], ownerId: 'o1', thumbnailKey: 't/v1.jpg', durationSeconds: 30, publishedAt: T0 + 1 });
      assert.deepEqual(await ids(r.p.queries, '   '), []);

      const pos = await appendEvents(log, codec, [
        { type: 'VideoMetadataUpdated', data: { videoId: 'v1', title: 'Volcano documentary', updatedBy: 'o1', updatedAt: T0 + 5 } },
        { type: 'VideoDeleted', data: { videoId: 'v2', deletedBy: 'o1', deletedAt: T0 + 6 } },
        { type: 'VideoPublished', data: { videoId: 'v3', masterPlaylistKey: 'm', thumbnailKey: 't', durationSeconds: 3, publishedAt: T0 + 7 } },
      ]);
      assert.equal(await r.h.waitFor(pos, 5_000), true);
      assert.deepEqual(await ids(r.p.queries, 'volcano'), ['v1']);
      assert.deepEqual(await ids(r.p.queries, 'dinosaur'), ['v3']);
      assert.deepEqual(await ids(r.p.queries, 'noodles'), []);
    } finally {
      await r.close();
    }
  });

  test('cursor paging: every result once, same order as one big page; misuse raises InvalidCursorError', async () => {
    const log = await createScriptedLog();
    const events: DomainEvent[] = [];
    for (let i = 0; i < 8; i++) events.push(...video(`o${i}`, i % 2 ? 'Ocean life' : 'Deep ocean ocean', `clip ${i} ${'ocean '.repeat(i)}`));
    events.push(...video('x', 'Mountains'));
    await appendEvents(log, codec, events);
    const r = await run(log, memorySnapshots());
    try {
      const all = await ids(r.p.queries, 'ocean');
      assert.equal(all.length, 8);
      const paged: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await r.p.queries.search('ocean', 3, cursor);
        paged.push(...page.videos.map((v) => v.videoId));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor && pages < 10);
      assert.equal(pages, 3);
      assert.deepEqual(paged, all);

      const first = await r.p.queries.search('ocean', 3);
      const c = first.nextCursor!;
      await assert.rejects(r.p.queries.search('mountains', 3, c), InvalidCursorError);
      const [body, sig] = c.split('.');
      const payload = JSON.parse(Buffer.from(body, 'base64url').toString());
      const forged = `${Buffer.from(JSON.stringify({ ...payload, offset: 0 })).toString('base64url')}.${sig}`;
      await assert.rejects(r.p.queries.search('ocean', 3, forged), InvalidCursorError);
      await assert.rejects(r.p.queries.search('ocean', 3, 'garbage'), InvalidCursorError);
      const other = createSearchProjection({ snapshots: memorySnapshots(), cursorSecret: 'other-secret' });
      await assert.rejects(other.queries.search('ocean', 3, c), InvalidCursorError);
      await other.close();
      // Same query modulo case and spacing is the same query.
      assert.equal((await r.p.queries.search('  OCEAN ', 3, c)).videos.length, 3);
    } finally {
      await r.close();
    }
  });

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
