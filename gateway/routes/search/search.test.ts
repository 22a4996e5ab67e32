/** Search: query validation, mapping of hits, cursor pagination and cursor errors. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

describe('GET /api/v1/search/videos', () => {
  let t: TestGateway;
  const ids: string[] = [];
  let aliceId = '';
  let bobVideo = '';
  before(async () => {
    t = await createTestGateway();
    const alice = await t.signUp('alice');
    aliceId = alice.id;
    for (const title of ['Cats in space', 'More cats', 'Cat nap']) ids.push(await t.uploadVideo(alice.token, { publish: true, title, tags: ['cats'] }));
    await t.uploadVideo(alice.token, { title: 'Cats unpublished' });
    const bob = await t.signUp('bob');
    bobVideo = await t.uploadVideo(bob.token, { publish: true, title: 'Dog meets cat', tags: ['Dogs', 'cats'] });
  });
  after(() => t.close());

  test('maps hits to the public shape and only returns ready videos (per the search port)', async () => {
    const res = await t.inject({ method: 'GET', url: '/api/v1/search/videos?q=cat' });
    assert.equal(res.statusCode, 200);
    const { videos, next_cursor } = res.json();
    assert.deepEqual(videos.map((v: { id: string }) => v.id).sort(), [...ids, bobVideo].sort());
    const hit = videos.find((v: { id: string }) => v.id === ids[0]);
    const detail = (await t.inject({ method: 'GET', url: `/api/v1/videos/${ids[0]}` })).json();
    assert.deepEqual(hit, {
      id: ids[0], owner_id: aliceId, title: 'Cats in space', description: '', tags: ['cats'],
      thumbnail_url: t.world.objectStore.publicUrl(`hls/${ids[0]}/thumb.jpg`), duration_seconds: 10, published_at: detail.published_at, views: 0,
    });
    assert.match(hit.published_at, /^\d{4}-\d\d-\d\dT/);
    assert.equal(next_cursor, null);
  });

  test('page_size and next_cursor page through all hits', async () => {
    const first = await t.inject({ method: 'GET', url: '/api/v1/search/videos?q=cat&page_size=2' });
    assert.equal(first.json().videos.length, 2);
    const cursor = first.json().next_cursor;
    assert.equal(typeof cursor, 'string');
    const second = await t.inject({ method: 'GET', url: `/api/v1/search/videos?q=cat&page_size=2&cursor=${encodeURIComponent(cursor)}` });
    assert.equal(second.json().videos.length, 2);
    assert.equal(second.json().next_cursor, null);
    const all = [...first.json().videos, ...second.json().videos].map((v: { id: string }) => v.id);
    assert.equal(new Set(all).size, 4);
  });

  test('bad cursor → 400 INVALID_CURSOR; bad page_size, missing q or unknown params → 400 VALIDATION_ERROR', async () => {
    const bad = await t.inject({ method: 'GET', url: '/api/v1/search/videos?q=cat&cursor=not-a-cursor!' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'INVALID_CURSOR');
    for (const qs of ['q=cat&page_size=0', 'q=cat&page_size=51', 'q=cat&page_size=ten', 'page_size=5', 'q=', 'q=cat&sort=new', 'q=cat&sort=popular',
      'q=cat&published_after=yesterday', 'q=cat&published_before=2016-12-31T23:59:60Z', 'q=cat&min_duration_seconds=-1', `q=cat&${Array.from({ length: 11 }, (_, i) => `tag=t${i}`).join('&')}`,
      'q=cat&facets=owners', `q=cat&tag=${'x'.repeat(51)}`]) {
      const res = await t.inject({ method: 'GET', url: `/api/v1/search/videos?${qs}` });
      assert.equal(res.statusCode, 400, qs);
      assert.equal(res.json().code, 'VALIDATION_ERROR', qs);
    }
  });

  test('filters (tag, channel, dates, duration), sort=date and tag facets; a cursor keeps its filters (issue 14)', async () => {
    const search = async (qs: string) => {
      const res = await t.inject({ method: 'GET', url: `/api/v1/search/videos?q=cat&${qs}` });
      assert.equal(res.statusCode, 200, `${qs}: ${res.body}`);
      return res.json() as { videos: Array<{ id: string; published_at: string }>; next_cursor: string | null; facets?: { tags: Array<{ value: string; count: number }> } };
    };
    const idsOf = async (qs: string) => (await search(qs)).videos.map((v) => v.id).sort();
    assert.deepEqual(await idsOf('tag=dogs'), [bobVideo], 'one tag, any case');
    assert.deepEqual(await idsOf('tag=CATS&tag=dogs'), [bobVideo], 'repeated: every tag');
    assert.deepEqual(await idsOf(`channel=${aliceId}`), [...ids].sort());
    assert.deepEqual(await idsOf('max_duration_seconds=9'), [], 'every test clip lasts 10 s');
    assert.deepEqual(await idsOf('min_duration_seconds=10&max_duration_seconds=10').then((x) => x.length), 4);
    const dated = (await search('sort=date')).videos;
    assert.deepEqual(dated.map((v) => v.published_at), dated.map((v) => v.published_at).sort().reverse(), 'newest first');
    assert.equal(dated[0]!.id, bobVideo, 'published last');
    assert.deepEqual(await idsOf(`published_after=${encodeURIComponent(dated[0]!.published_at)}`), [bobVideo], 'inclusive bound');
    assert.deepEqual(await idsOf(`published_before=${encodeURIComponent(new Date(Date.parse(dated[0]!.published_at) - 1).toISOString())}`), [...ids].sort());
    assert.deepEqual((await search('sort=views')).videos.length, 4, 'sort=views (the feed itself: search-filters.contract.ts)');
    const faceted = await search('facets=tags&page_size=1');
    assert.deepEqual(faceted.facets, { tags: [{ value: 'cats', count: 4 }, { value: 'dogs', count: 1 }] });
    const other = await t.inject({ method: 'GET', url: `/api/v1/search/videos?q=cat&page_size=1&tag=dogs&cursor=${encodeURIComponent(faceted.next_cursor!)}` });
    assert.equal(other.statusCode, 400);
    assert.equal(other.json().code, 'INVALID_CURSOR', 'a cursor does not continue other filters');
  });
});
