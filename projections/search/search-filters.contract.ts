/**
 * The search read model's contract for filters, sort and facets (issue 14: "duration ranges,
 * upload date, tags, channel; sort=relevance|date; the opaque cursor binds the query, the filters
 * and the sort; facet counts for tags"), run against every engine beside search.contract.ts:
 * MiniSearch (search.projection.test.ts) and a real Typesense server (typesense-search.adapter.test.ts).
 *
 * Given one set of videos of known durations, dates, tags and owners (some of them hidden), when a
 * search is filtered, sorted or faceted, then exactly the expected videos come back, pages of any
 * size concatenate to one big page, and a cursor is refused under other filters or another sort.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DomainEvent } from '../../domain/events.ts';
import { runProjection } from '../../processors/runtime/projection.runtime.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { InvalidCursorError } from '../read-model.port.ts';
import { appendEvents, createScriptedLog, within } from '../testing/projection-test-kit.ts';
import { CONTRACT_T0, videoEvents, type SearchEngineUnderTest } from './search.contract.ts';
import type { SearchOptions, SearchQueries } from './search.port.ts';

const SECRET = 'contract-filters-secret';
const DAY = 86_400_000;

/**
 * Every video mentions "garden", so the query `garden` matches them all and only the filters
 * decide. Durations in seconds, published `day` days after CONTRACT_T0.
 */
const VIDEOS = [
  { id: 'g1', owner: 'alice', seconds: 45, day: 1, tags: ['Roses', 'spring'] },
  { id: 'g2', owner: 'alice', seconds: 300, day: 2, tags: ['roses'] },
  { id: 'g3', owner: 'bob', seconds: 1200, day: 3, tags: ['Spring', 'tools'] },
  { id: 'g4', owner: 'bob', seconds: 2400, day: 4, tags: ['tools', 'roses', 'spring'] },
  { id: 'g5', owner: 'carol', seconds: 90, day: 5, tags: [] },
  { id: 'g6', owner: 'carol', seconds: 600, day: 6, tags: ['ROSES', 'winter'] },
] as const;
/** Never in any result or facet, whatever the filter: unlisted, private, not ready. */
const HIDDEN: DomainEvent[] = [
  ...videoEvents('h1', 'Secret garden', { ownerId: 'alice', tags: ['roses'], visibility: 'unlisted' }),
  ...videoEvents('h2', 'Private garden', { ownerId: 'bob', tags: ['roses'], visibility: 'private' }),
  ...videoEvents('h3', 'Garden in processing', { ownerId: 'alice', tags: ['roses'], publish: false }),
];
const at = (day: number) => CONTRACT_T0 + day * DAY;
const NOW = at(30);

/** Runs the filters contract against `engine` (one describe block named after it). */
export function testSearchFilters(engineName: string, setup: () => Promise<SearchEngineUnderTest>, opts: { skip?: string | false } = {}): void {
  describe(`search filters, sort and facets contract: ${engineName}`, { skip: opts.skip }, () => {
    let engine: SearchEngineUnderTest;
    let q: SearchQueries;
    let close = async () => {};
    before(async () => {
      engine = await setup();
      const codec = await sharedAvroTestCodec();
      const log = await createScriptedLog();
      await appendEvents(log, codec, [
        ...VIDEOS.flatMap((v) => videoEvents(v.id, `Garden ${v.id}`, { ownerId: v.owner, durationSeconds: v.seconds, publishedAt: at(v.day), tags: [...v.tags], description: 'a garden clip' })),
        ...HIDDEN,
      ]);
      const p = await engine.open('filters', { cursorSecret: SECRET, now: () => NOW });
      const h = await runProjection(p, { log, codec });
      close = async () => { await h.stop(); await p.close(); };
      await within(h.caughtUp(), 60_000, 'caughtUp');
      q = p.queries;
    });
    after(async () => {
      await close();
      await engine?.teardown();
    });

    const ids = async (options: SearchOptions, text = 'garden') => (await q.search(text, 100, undefined, options)).videos.map((v) => v.videoId);
    const sorted = async (options: SearchOptions) => (await ids(options)).sort();
    /** Every page of `size` for `options`, concatenated, and how many pages it took. */
    async function paged(options: SearchOptions, size: number): Promise<{ ids: string[]; pages: number }> {
      const out: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await q.search('garden', size, cursor, options);
        out.push(...page.videos.map((v) => v.videoId));
        cursor = page.nextCursor ?? undefined;
        pages++;
      } while (cursor && pages < 20);
      return { ids: out, pages };
    }

    test('no filter: every listed video, never a hidden one', async () => {
      assert.deepEqual(await sorted({}), ['g1', 'g2', 'g3', 'g4', 'g5', 'g6']);
    });

    test('duration bounds are inclusive seconds; both together make a range', async () => {
      assert.deepEqual(await sorted({ filters: { maxDurationSeconds: 240 } }), ['g1', 'g5'], 'short: under 4 min');
      assert.deepEqual(await sorted({ filters: { minDurationSeconds: 1200 } }), ['g3', 'g4'], 'long: 20 min and more');
      assert.deepEqual(await sorted({ filters: { minDurationSeconds: 300, maxDurationSeconds: 1200 } }), ['g2', 'g3', 'g6'], 'both bounds inclusive');
      assert.deepEqual(await sorted({ filters: { minDurationSeconds: 5000 } }), []);
    });

    test('upload date bounds are inclusive instants', async () => {
      assert.deepEqual(await sorted({ filters: { publishedAfter: at(4) } }), ['g4', 'g5', 'g6']);
      assert.deepEqual(await sorted({ filters: { publishedBefore: at(2) } }), ['g1', 'g2']);
      assert.deepEqual(await sorted({ filters: { publishedAfter: at(2) + 1, publishedBefore: at(5) - 1 } }), ['g3', 'g4']);
    });

    test('tags: every named tag, whatever its case; channel: one owner; filters combine with AND', async () => {
      assert.deepEqual(await sorted({ filters: { tags: ['roses'] } }), ['g1', 'g2', 'g4', 'g6'], 'Roses, roses and ROSES are one tag; hidden roses stay hidden');
      assert.deepEqual(await sorted({ filters: { tags: ['SPRING', 'roses'] } }), ['g1', 'g4'], 'both tags');
      assert.deepEqual(await sorted({ filters: { tags: ['gardening'] } }), []);
      assert.deepEqual(await sorted({ filters: { channel: 'bob' } }), ['g3', 'g4'], "bob's private h2 is not listed");
      assert.deepEqual(await sorted({ filters: { channel: 'alice', tags: ['roses'], maxDurationSeconds: 100 } }), ['g1']);
      assert.deepEqual(await sorted({ filters: { channel: 'nobody' } }), []);
      assert.deepEqual(await ids({ filters: { channel: 'alice' } }, 'zebra'), [], 'the text must still match');
    });

    test('sort=date: newest first; paging through any page size gives the same order', async () => {
      assert.deepEqual(await ids({ sort: 'date' }), ['g6', 'g5', 'g4', 'g3', 'g2', 'g1']);
      assert.deepEqual(await ids({ sort: 'date', filters: { tags: ['roses'] } }), ['g6', 'g4', 'g2', 'g1']);
      for (const size of [1, 2, 4]) {
        const r = await paged({ sort: 'date', filters: { tags: ['roses'] } }, size);
        assert.deepEqual(r.ids, ['g6', 'g4', 'g2', 'g1'], `pages of ${size}`);
        assert.equal(r.pages, Math.ceil(4 / size));
      }
    });

    test('sort=relevance pages with filters concatenate to the big page', async () => {
      const big = await ids({ filters: { minDurationSeconds: 60 } });
      assert.deepEqual([...big].sort(), ['g2', 'g3', 'g4', 'g5', 'g6']);
      assert.deepEqual((await paged({ filters: { minDurationSeconds: 60 } }, 2)).ids, big);
    });

    test('a cursor is bound to the filters and the sort; equal filters written differently keep it', async () => {
      const first = await q.search('garden', 1, undefined, { sort: 'date', filters: { tags: ['roses', 'spring'] } });
      assert.ok(first.nextCursor);
      const same = await q.search('garden', 1, first.nextCursor, { sort: 'date', filters: { tags: ['Spring', 'ROSES', 'roses'] } });
      assert.deepEqual(same.videos.map((v) => v.videoId), ['g1'], 'tag order, case and repeats do not change the filter');
      for (const other of [
        { sort: 'relevance', filters: { tags: ['roses', 'spring'] } },
        { sort: 'date', filters: { tags: ['roses'] } },
        { sort: 'date', filters: { tags: ['roses', 'spring'], channel: 'bob' } },
        { sort: 'date' },
      ] satisfies SearchOptions[]) {
        await assert.rejects(q.search('garden', 1, first.nextCursor!, other), InvalidCursorError, JSON.stringify(other));
      }
      const plain = await q.search('garden', 1);
      await assert.rejects(q.search('garden', 1, plain.nextCursor!, { sort: 'date' }), InvalidCursorError, 'a relevance cursor under sort=date');
      assert.equal((await q.search('garden', 1, plain.nextCursor!, {})).videos.length, 1, 'no options = relevance, no filters');
    });

    test('tag facets count the whole filtered result set, most frequent first, then by tag; only on the first page', async () => {
      const first = await q.search('garden', 1, undefined, { facets: true });
      assert.deepEqual(first.facets, { tags: [
        { value: 'roses', count: 4 }, { value: 'spring', count: 3 }, { value: 'tools', count: 2 }, { value: 'winter', count: 1 },
      ] }, 'over all 6 results, not the page of 1; hidden videos count for nothing');
      const filtered = await q.search('garden', 10, undefined, { facets: true, filters: { channel: 'bob' } });
      assert.deepEqual(filtered.facets, { tags: [{ value: 'spring', count: 2 }, { value: 'tools', count: 2 }, { value: 'roses', count: 1 }] });
      const next = await q.search('garden', 1, first.nextCursor!, { facets: true });
      assert.equal(next.facets, undefined, 'a later page has no facets');
      assert.equal((await q.search('garden', 10)).facets, undefined, 'not asked: none');
      assert.deepEqual((await q.search('zebra', 10, undefined, { facets: true })).facets, { tags: [] });
    });
  });

  describe(`search sort=views, fed from video detail's counts in batches: ${engineName}`, { skip: opts.skip }, () => {
    let engine: SearchEngineUnderTest;
    before(async () => { engine = await setup(); });
    after(async () => { await engine?.teardown(); });

    /** A heartbeat of `videoId`: the feed only notes which video it names. */
    const viewed = (videoId: string, n: number): DomainEvent => ({
      type: 'VideoViewed',
      data: { videoId, sessionId: `s${n}`, viewerId: null, watchedSeconds: 12, positionSeconds: 12, videoDurationSeconds: 30, viewedAt: at(7) + n, sessionStartedAt: at(7) },
    });

    test('given counts in video detail, when their videos are viewed, then sort=views orders by them; a later count re-orders', async () => {
      const codec = await sharedAvroTestCodec();
      const log = await createScriptedLog();
      const counts = new Map([['g1', 5], ['g2', 50], ['g3', 7], ['h1', 1000]]);
      const reads: string[][] = [];
      const viewCounts = async (videoIds: string[]) => {
        reads.push([...videoIds]);
        return new Map(videoIds.filter((id) => counts.has(id)).map((id) => [id, counts.get(id)!]));
      };
      await appendEvents(log, codec, [
        ...VIDEOS.slice(0, 4).flatMap((v) => videoEvents(v.id, `Garden ${v.id}`, { ownerId: v.owner, publishedAt: at(v.day) })),
        ...HIDDEN.slice(0, 2),
        viewed('g1', 1), viewed('g2', 2), viewed('g3', 3), viewed('h1', 4), viewed('g2', 5),
      ]);
      const p = await engine.open('views', { cursorSecret: SECRET, now: () => NOW, viewCounts, viewsFeedIntervalMs: 20 });
      const h = await runProjection(p, { log, codec });
      try {
        await within(h.caughtUp(), 60_000, 'caughtUp');
        const byViews = async () => (await p.queries.search('garden', 10, undefined, { sort: 'views' })).videos.map((v) => [v.videoId, v.views]);
        const settled = async (expected: unknown[]) => {
          for (let tries = 0; tries < 600 && JSON.stringify(await byViews()) !== JSON.stringify(expected); tries++) await new Promise((r) => setTimeout(r, 50));
          assert.deepEqual(await byViews(), expected);
        };
        await settled([['g2', 50], ['g3', 7], ['g1', 5], ['g4', 0]]);
        assert.ok(reads.flat().every((id) => id !== 'x'), 'only known videos are read');
        const pageOne = await p.queries.search('garden', 2, undefined, { sort: 'views' });
        const pageTwo = await p.queries.search('garden', 2, pageOne.nextCursor!, { sort: 'views' });
        assert.deepEqual([...pageOne.videos, ...pageTwo.videos].map((v) => v.videoId), ['g2', 'g3', 'g1', 'g4'], 'pages follow the counts');
        counts.set('g4', 80);
        await appendEvents(log, codec, [viewed('g4', 6)]);
        await settled([['g4', 80], ['g2', 50], ['g3', 7], ['g1', 5]]);
        assert.deepEqual((await p.queries.search('garden', 10, undefined, { sort: 'views', filters: { channel: 'alice' } })).videos.map((v) => v.videoId), ['g2', 'g1']);
      } finally {
        await h.stop();
        await p.close();
      }

      // Counts are not in the checkpoint: a restart reads every known video's again, views or not.
      counts.set('g1', 99);
      const again = await engine.open('views', { cursorSecret: SECRET, now: () => NOW, viewCounts, viewsFeedIntervalMs: 20 });
      const h2 = await runProjection(again, { log, codec });
      try {
        await within(h2.caughtUp(), 60_000, 'caughtUp after the restart');
        const order = async () => (await again.queries.search('garden', 10, undefined, { sort: 'views' })).videos.map((v) => [v.videoId, v.views]);
        const expected = [['g1', 99], ['g4', 80], ['g2', 50], ['g3', 7]];
        for (let tries = 0; tries < 600 && JSON.stringify(await order()) !== JSON.stringify(expected); tries++) await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(await order(), expected, 'g1 was not viewed after the restart, yet its count is the current one');
      } finally {
        await h2.stop();
        await again.close();
      }
    });
  });
}
