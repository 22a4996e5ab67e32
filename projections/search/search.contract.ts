/**
 * The search read model's contract: what every engine behind SearchQueries must do, run against
 * MiniSearch (search.projection.test.ts) and a real Typesense server
 * (typesense-search.adapter.test.ts). Extracted from the MiniSearch projection's tests.
 *
 * Ranking differs between engines (MiniSearch's BM25+ with fuzzy/prefix weights vs Typesense's
 * text match buckets), so the suite asserts result SETS, membership and the top hit of queries
 * with one obvious answer, never a full ordering; the only ordering it asserts is that paging
 * through cursors yields exactly the order of one big page of the same engine.
 *
 *   testSearchReadModel('MiniSearch', async () => ({ open: (store, opts) => …, teardown: async () => {} }));
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DomainEvent } from '../../domain/events.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { runProjection } from '../../processors/runtime/projection.runtime.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { InvalidCursorError } from '../read-model.port.ts';
import { appendEvents, createScriptedLog, duplicatingLog, within } from '../testing/projection-test-kit.ts';
import type { SearchQueries, ViewCountSource } from './search.port.ts';

/** Clock of the search cursors in the suite (after every publishedAt below). */
export const CONTRACT_T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const NOW = CONTRACT_T0 + 1_000_000;

export interface SearchEngineUnderTest {
  /**
   * Opens a search projection node on storage `store` (not running yet). Opening the same `store`
   * again is a restart: it must see what the previous node stored (documents and checkpoint).
   * Distinct names are independent read models.
   */
  open(store: string, opts: { cursorSecret: string; now?: () => number; viewCounts?: ViewCountSource; viewsFeedIntervalMs?: number }): Promise<ProjectionNode<SearchQueries>>;
  /** Releases what the engine holds (servers are stopped by the caller's own `after`). */
  teardown(): Promise<void>;
}

const SECRET = 'contract-search-secret';

/**
 * The events of one video: UploadStarted (with `visibility` when given), then VideoPublished unless
 * `publish` is false. Defaults: owner `o1`, 30 s, published at CONTRACT_T0 + 1.
 */
export function videoEvents(videoId: string, title: string, opts: {
  description?: string; tags?: string[]; publish?: boolean; visibility?: 'public' | 'unlisted' | 'private'; ownerId?: string; durationSeconds?: number; publishedAt?: number;
} = {}): DomainEvent[] {
  const events: DomainEvent[] = [{
    type: 'UploadStarted',
    data: {
      videoId, ownerId: opts.ownerId ?? 'o1', uploadId: `up-${videoId}`, objectKey: `raw/${videoId}`, filename: 'a.mp4', sizeBytes: 1, contentType: 'video/mp4',
      title, description: opts.description ?? '', tags: opts.tags ?? [], partSizeBytes: 1, startedAt: CONTRACT_T0,
      ...(opts.visibility && { visibility: opts.visibility }),
    },
  }];
  if (opts.publish !== false) {
    events.push({ type: 'VideoPublished', data: { videoId, masterPlaylistKey: `hls/${videoId}/master.m3u8`, thumbnailKey: `t/${videoId}.jpg`, durationSeconds: opts.durationSeconds ?? 30, publishedAt: opts.publishedAt ?? CONTRACT_T0 + 1 } });
  }
  return events;
}

/** Runs the shared search contract against `engine` (one describe block named after it). */
export function testSearchReadModel(engineName: string, setup: () => Promise<SearchEngineUnderTest>, opts: { skip?: string | false } = {}): void {
  describe(`search read model contract: ${engineName}`, { skip: opts.skip }, () => {
    let engine: SearchEngineUnderTest;
    let stores = 0;
    const codecP = sharedAvroTestCodec();
    before(async () => { engine = await setup(); });
    after(async () => { await engine?.teardown(); });

    const freshStore = () => `s${++stores}`;
    async function run(log: EventLog, store: string, secret = SECRET) {
      const codec = await codecP;
      const p = await engine.open(store, { cursorSecret: secret, now: () => NOW });
      const h = await runProjection(p, { log, codec });
      try {
        await within(h.caughtUp(), 60_000, 'caughtUp');
      } catch (err) {
        await h.stop();
        await p.close();
        throw err;
      }
      return { p, h, q: p.queries, async close() { await h.stop(); await p.close(); } };
    }
    const ids = async (s: SearchQueries, q: string) => (await s.search(q, 100)).videos.map((v) => v.videoId);
    const sortedIds = async (s: SearchQueries, q: string) => (await ids(s, q)).sort();
    async function withLog(events: DomainEvent[]) {
      const log = await createScriptedLog();
      await appendEvents(log, await codecP, events);
      return log;
    }

    test('typo tolerance, prefix matching, tags; only published videos; the hit carries the video fields', async () => {
      const log = await withLog([
        ...videoEvents('v1', 'Dinosaur documentary', { description: 'Giant reptiles of the past' }),
        ...videoEvents('v2', 'Cooking pasta', { description: 'Fresh noodles at home', tags: ['italian', 'kitchen'] }),
        ...videoEvents('v3', 'Dinosaur toys review', { description: 'Plastic figures', publish: false }),
      ]);
      const r = await run(log, freshStore());
      try {
        assert.deepEqual(await ids(r.q, 'dinosuar'), ['v1'], 'a transposition typo still finds "Dinosaur"; the unpublished v3 does not show');
        assert.deepEqual(await ids(r.q, 'dinosaur'), ['v1']);
        assert.deepEqual(await ids(r.q, 'italian'), ['v2'], 'tags are searchable');
        assert.deepEqual(await ids(r.q, 'noodl'), ['v2'], 'prefix match in the description');
        assert.deepEqual(await ids(r.q, 'DINOSAUR'), ['v1'], 'case does not matter');
        const hit = (await r.q.search('dinosaur', 10)).videos[0];
        assert.deepEqual(hit, {
          videoId: 'v1', title: 'Dinosaur documentary', description: 'Giant reptiles of the past', tags: [], ownerId: 'o1',
          thumbnailKey: 't/v1.jpg', durationSeconds: 30, publishedAt: CONTRACT_T0 + 1, views: 0,
        });
        for (const q of ['', '   ', '*', '?!']) assert.deepEqual(await ids(r.q, q), [], `query ${JSON.stringify(q)} has no terms`);
        assert.deepEqual(await ids(r.q, 'zebra'), []);
      } finally {
        await r.close();
      }
    });

    test('a query of several terms finds the videos that match any of them (MiniSearch\'s OR; found by the cluster-mode e2e suite)', async () => {
      const log = await withLog([
        ...videoEvents('v1', 'Dinosaur documentary'),
        ...videoEvents('v2', 'Rotated', { description: 'a phone clip' }),
        ...videoEvents('v3', 'Cooking pasta'),
      ]);
      const r = await run(log, freshStore());
      try {
        assert.deepEqual(await sortedIds(r.q, 'dinosaur rotated'), ['v1', 'v2'], 'each video matches one of the two terms');
        assert.deepEqual(await sortedIds(r.q, 'rotated dinosaur'), ['v1', 'v2'], 'term order does not matter');
        const p1 = await r.q.search('dinosaur rotated', 1);
        assert.equal(p1.videos.length, 1);
        assert.ok(p1.nextCursor, 'the second video is on a next page');
        const p2 = await r.q.search('dinosaur rotated', 1, p1.nextCursor!);
        assert.deepEqual([p1.videos[0]!.videoId, ...p2.videos.map((v) => v.videoId)].sort(), ['v1', 'v2']);
        assert.equal(p2.nextCursor, null);
      } finally {
        await r.close();
      }
    });

    test('metadata updates re-index, deletion removes, a later publish adds', async () => {
      const log = await withLog([
        ...videoEvents('v1', 'Dinosaur documentary'),
        ...videoEvents('v2', 'Cooking pasta', { description: 'Fresh noodles at home' }),
        ...videoEvents('v3', 'Dinosaur toys review', { publish: false }),
      ]);
      const r = await run(log, freshStore());
      try {
        const pos = await appendEvents(log, await codecP, [
          { type: 'VideoMetadataUpdated', data: { videoId: 'v1', title: 'Volcano documentary', updatedBy: 'o1', updatedAt: CONTRACT_T0 + 5 } },
          { type: 'VideoDeleted', data: { videoId: 'v2', deletedBy: 'o1', deletedAt: CONTRACT_T0 + 6 } },
          { type: 'VideoPublished', data: { videoId: 'v3', masterPlaylistKey: 'm', thumbnailKey: 't', durationSeconds: 3, publishedAt: CONTRACT_T0 + 7 } },
        ]);
        assert.equal(await r.h.waitFor(pos, 10_000), true);
        assert.deepEqual(await ids(r.q, 'volcano'), ['v1']);
        assert.deepEqual(await ids(r.q, 'dinosaur'), ['v3'], 'v1 is no longer a dinosaur; v3 is published now');
        assert.deepEqual(await ids(r.q, 'noodles'), [], 'deleted');
        assert.deepEqual(await ids(r.q, 'pasta'), [], 'deleted');
        const v3 = (await r.q.search('dinosaur', 10)).videos[0];
        assert.equal(v3.durationSeconds, 3);
        assert.equal(v3.publishedAt, CONTRACT_T0 + 7);
      } finally {
        await r.close();
      }
    });

    test('unlisted and private videos never appear; a visibility change adds or removes them (issue 8)', async () => {
      const log = await withLog([
        ...videoEvents('p1', 'Volcano public', { visibility: 'public' }),
        ...videoEvents('u1', 'Volcano unlisted', { visibility: 'unlisted' }),
        ...videoEvents('s1', 'Volcano private', { visibility: 'private' }),
      ]);
      const r = await run(log, freshStore());
      try {
        assert.deepEqual(await ids(r.q, 'volcano'), ['p1']);
        assert.deepEqual(await ids(r.q, 'unlisted'), []);
        assert.deepEqual(await ids(r.q, 'private'), []);
        const pos = await appendEvents(log, await codecP, [
          { type: 'VideoMetadataUpdated', data: { videoId: 'p1', visibility: 'private', updatedBy: 'o1', updatedAt: CONTRACT_T0 + 5 } },
          { type: 'VideoMetadataUpdated', data: { videoId: 'u1', visibility: 'public', updatedBy: 'o1', updatedAt: CONTRACT_T0 + 5 } },
        ]);
        assert.equal(await r.h.waitFor(pos, 10_000), true);
        assert.deepEqual(await ids(r.q, 'volcano'), ['u1']);
        // Made public again: found with the metadata it had (and any edit made while it was hidden).
        const pos2 = await appendEvents(log, await codecP, [
          { type: 'VideoMetadataUpdated', data: { videoId: 'p1', title: 'Volcano eruption', updatedBy: 'o1', updatedAt: CONTRACT_T0 + 6 } },
          { type: 'VideoMetadataUpdated', data: { videoId: 'p1', visibility: 'public', updatedBy: 'o1', updatedAt: CONTRACT_T0 + 7 } },
        ]);
        assert.equal(await r.h.waitFor(pos2, 10_000), true);
        assert.deepEqual(await sortedIds(r.q, 'volcano'), ['p1', 'u1']);
        assert.deepEqual(await ids(r.q, 'eruption'), ['p1']);
      } finally {
        await r.close();
      }
    });

    test('cursor paging: every result once, in the order of one big page; page size clamped to 1..100', async () => {
      const events: DomainEvent[] = [];
      for (let i = 0; i < 8; i++) events.push(...videoEvents(`o${i}`, i % 2 ? 'Ocean life' : 'Deep ocean ocean', { description: `clip ${i} ${'ocean '.repeat(i)}` }));
      events.push(...videoEvents('x', 'Mountains'));
      const r = await run(await withLog(events), freshStore());
      try {
        const all = await ids(r.q, 'ocean');
        assert.deepEqual([...all].sort(), ['o0', 'o1', 'o2', 'o3', 'o4', 'o5', 'o6', 'o7']);
        const paged: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await r.q.search('ocean', 3, cursor);
          assert.ok(page.videos.length <= 3);
          paged.push(...page.videos.map((v) => v.videoId));
          cursor = page.nextCursor ?? undefined;
          pages++;
        } while (cursor && pages < 10);
        assert.equal(pages, 3);
        assert.deepEqual(paged, all, 'pages concatenate to the big page');
        assert.equal((await r.q.search('ocean', 0)).videos.length, 1, 'page size 0 → 1');
        assert.equal((await r.q.search('ocean', 2.7)).videos.length, 2);
        const big = await r.q.search('ocean', 1000);
        assert.equal(big.videos.length, 8);
        assert.equal(big.nextCursor, null, 'last page has no cursor');
      } finally {
        await r.close();
      }
    });

    test('a tampered, foreign or other-query cursor raises InvalidCursorError; case and spacing do not change the query', async () => {
      const events: DomainEvent[] = [];
      for (let i = 0; i < 5; i++) events.push(...videoEvents(`o${i}`, 'Ocean life'));
      events.push(...videoEvents('x', 'Mountains'));
      const log = await withLog(events);
      const r = await run(log, freshStore());
      let c: string;
      try {
        const first = await r.q.search('ocean', 2);
        c = first.nextCursor!;
        assert.ok(c, 'a first page of a longer result set has a cursor');
        await assert.rejects(r.q.search('mountains', 2, c), InvalidCursorError);
        const [body, sig] = c.split('.');
        const payload = JSON.parse(Buffer.from(body, 'base64url').toString());
        const forged = `${Buffer.from(JSON.stringify({ ...payload, offset: 0 })).toString('base64url')}.${sig}`;
        await assert.rejects(r.q.search('ocean', 2, forged), InvalidCursorError);
        for (const bad of ['garbage', '', '.', 'a.b.c', `${body}.`]) await assert.rejects(r.q.search('ocean', 2, bad), InvalidCursorError, `cursor ${JSON.stringify(bad)}`);
        const second = await r.q.search('  OCEAN ', 2, c);
        assert.equal(second.videos.length, 2);
        assert.deepEqual(new Set([...first.videos, ...second.videos].map((v) => v.videoId)).size, 4, 'the second page continues the first');
      } finally {
        await r.close();
      }
      // Another deployment (another secret) refuses this one's cursors.
      const other = await run(log, freshStore(), 'another-secret');
      try {
        await assert.rejects(other.q.search('ocean', 2, c), InvalidCursorError);
      } finally {
        await other.close();
      }
    });

    test('a result set is frozen by its first page: a removal before the cursor skips nothing, a later publish is not on later pages', async () => {
      const events: DomainEvent[] = [];
      for (let i = 0; i < 6; i++) events.push(...videoEvents(`c${i}`, 'Canyon walk'));
      const log = await withLog(events);
      let clock = NOW;
      const codec = await codecP;
      const p = await engine.open(freshStore(), { cursorSecret: SECRET, now: () => clock });
      const h = await runProjection(p, { log, codec });
      try {
        await within(h.caughtUp(), 60_000, 'caughtUp');
        const first = await p.queries.search('canyon', 2);
        assert.equal(first.videos.length, 2);
        const shown = first.videos.map((v) => v.videoId);
        // One of the shown videos is deleted and a new one is published after the first page.
        const pos = await appendEvents(log, codec, [
          { type: 'VideoDeleted', data: { videoId: shown[0], deletedBy: 'o1', deletedAt: NOW + 1 } },
          videoEvents('late', 'Canyon sunset')[0],
          { type: 'VideoPublished', data: { videoId: 'late', masterPlaylistKey: 'm', thumbnailKey: 't', durationSeconds: 3, publishedAt: NOW + 10 } },
        ]);
        assert.equal(await h.waitFor(pos, 10_000), true);
        clock = NOW + 20;
        const rest: string[] = [];
        let cursor = first.nextCursor ?? undefined;
        for (let i = 0; cursor && i < 10; i++) {
          const page = await p.queries.search('canyon', 2, cursor);
          rest.push(...page.videos.map((v) => v.videoId));
          cursor = page.nextCursor ?? undefined;
        }
        const expected = ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'].filter((id) => !shown.includes(id));
        assert.deepEqual([...rest].sort(), expected, 'every other video once; not the late one');
        assert.ok((await sortedIds(p.queries, 'canyon')).includes('late'), 'a new search finds the late video');
      } finally {
        await h.stop();
        await p.close();
      }
    });

    test('a removed anchor after earlier removals: the cursor offset counts what is still shown, so the fallback skips nothing', async () => {
      const ids8 = Array.from({ length: 8 }, (_, i) => `r${i}`);
      const log = await withLog(ids8.flatMap((id) => videoEvents(id, 'Ridge trail')));
      const codec = await codecP;
      const p = await engine.open(freshStore(), { cursorSecret: SECRET, now: () => NOW });
      const h = await runProjection(p, { log, codec });
      const remove = async (videoId: string) => {
        const pos = await appendEvents(log, codec, [{ type: 'VideoDeleted', data: { videoId, deletedBy: 'o1', deletedAt: NOW + 1 } }]);
        assert.equal(await h.waitFor(pos, 10_000), true);
      };
      try {
        await within(h.caughtUp(), 60_000, 'caughtUp');
        const first = await p.queries.search('ridge', 2);
        const seen = first.videos.map((v) => v.videoId);
        await remove(seen[0]!); // shown, then removed: the next pages start one result earlier
        const second = await p.queries.search('ridge', 2, first.nextCursor!);
        seen.push(...second.videos.map((v) => v.videoId));
        await remove(seen[seen.length - 1]!); // the next page's anchor: the offset decides
        let cursor = second.nextCursor ?? undefined;
        for (let i = 0; cursor && i < 10; i++) {
          const page = await p.queries.search('ridge', 2, cursor);
          seen.push(...page.videos.map((v) => v.videoId));
          cursor = page.nextCursor ?? undefined;
        }
        assert.deepEqual([...seen].sort(), ids8, 'every video shown once (the two removed after they were shown)');
      } finally {
        await h.stop();
        await p.close();
      }
    });

    test('hostile query text is just text: filter syntax, quotes, backticks, 200 characters', async () => {
      const r = await run(await withLog([...videoEvents('v1', 'Dinosaur documentary'), ...videoEvents('v2', 'Secret', { visibility: 'private' })]), freshStore());
      try {
        for (const q of ['title:=Secret', 'publishedAt:>0 && id:*', '"dinosaur', '`dinosaur`', 'dinosaur || 1=1', 'a'.repeat(200), `${'dinosaur '.repeat(22)}`.trim(), '\\u0000 %00 ${x}']) {
          const res = await r.q.search(q, 10);
          assert.ok(!res.videos.some((v) => v.videoId === 'v2'), `query ${JSON.stringify(q)} never finds the private video`);
        }
        assert.deepEqual(await ids(r.q, '"dinosaur'), ['v1']);
      } finally {
        await r.close();
      }
    });

    test('restart: the checkpoint is stored with the read model; the next run resumes from it', async () => {
      const store = freshStore();
      const log = await createScriptedLog();
      const codec = await codecP;
      const pos1 = await appendEvents(log, codec, [...videoEvents('v1', 'Dinosaur documentary'), ...videoEvents('v2', 'Dinosaur museum')]);
      let r = await run(log, store);
      assert.deepEqual(await sortedIds(r.q, 'dinosaur'), ['v1', 'v2']);
      await r.close();
      const reopened = await engine.open(store, { cursorSecret: SECRET, now: () => NOW });
      try {
        await reopened.ready?.();
        const cp = await reopened.loadCheckpoint();
        for (const p of pos1) {
          assert.ok((cp.get(`${p.topic}:${p.partition}`) ?? 0) > p.offset, `checkpoint covers ${p.topic}:${p.partition}@${p.offset}`);
        }
        assert.deepEqual(await sortedIds(reopened.queries, 'dinosaur'), ['v1', 'v2'], 'served from storage before consuming');
      } finally {
        await reopened.close();
      }
      await appendEvents(log, codec, [...videoEvents('v3', 'Dinosaur bones'), { type: 'VideoDeleted', data: { videoId: 'v1', deletedBy: 'o1', deletedAt: CONTRACT_T0 + 9 } }]);
      r = await run(log, store);
      try {
        assert.deepEqual(await sortedIds(r.q, 'dinosaur'), ['v2', 'v3']);
      } finally {
        await r.close();
      }
    });

    test('redelivery is a no-op: every batch delivered twice gives the same read model', async () => {
      const events: DomainEvent[] = [
        ...videoEvents('v1', 'Dinosaur documentary'), ...videoEvents('v2', 'Dinosaur museum'), ...videoEvents('v3', 'Dinosaur bones', { visibility: 'unlisted' }),
        { type: 'VideoMetadataUpdated', data: { videoId: 'v1', title: 'Dinosaur documentary, part two', updatedBy: 'o1', updatedAt: CONTRACT_T0 + 5 } },
        { type: 'VideoDeleted', data: { videoId: 'v2', deletedBy: 'o1', deletedAt: CONTRACT_T0 + 6 } },
      ];
      const r = await run(duplicatingLog(await withLog(events)), freshStore());
      try {
        assert.deepEqual(await ids(r.q, 'dinosaur'), ['v1']);
        assert.deepEqual(await ids(r.q, 'two'), ['v1']);
        const page = await r.q.search('dinosaur', 10);
        assert.equal(page.videos.length, 1, 'no duplicate hit');
        assert.equal(page.nextCursor, null);
      } finally {
        await r.close();
      }
    });
  });
}
