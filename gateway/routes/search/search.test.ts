/** Search: query validation, mapping of hits, cursor pagination and cursor errors. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

describe('GET /api/v1/search/videos', () => {
  let t: TestGateway;
  const ids: string[] = [];
  before(async () => {
    t = await createTestGateway();
    const alice = await t.signUp('alice');
    for (const title of ['Cats in space', 'More cats', 'Cat nap']) ids.push(await t.uploadVideo(alice.token, { publish: true, title, tags: ['cats'] }));
    await t.uploadVideo(alice.token, { title: 'Cats unpublished' });
  });
  after(() => t.close());

  test('maps hits to the public shape and only returns ready videos (per the search port)', async () => {
    const res = await t.inject({ method: 'GET', url: '/api/v1/search/videos?q=cat' });
    assert.equal(res.statusCode, 200);
    const { videos, next_cursor } = res.json();
    assert.deepEqual(videos.map((v: { id: string }) => v.id).sort(), [...ids].sort());
    const hit = videos.find((v: { id: string }) => v.id === ids[0]);
    assert.deepEqual(hit, {
      id: ids[0], title: 'Cats in space', description: '', tags: ['cats'],
      thumbnail_url: t.world.objectStore.publicUrl(`hls/${ids[0]}/thumb.jpg`), duration_seconds: 10,
    });
    assert.equal(next_cursor, null);
  });

  test('page_size and next_cursor page through all hits', async () => {
    const first = await t.inject({ method: 'GET', url: '/api/v1/search/videos?q=cat&page_size=2' });
    assert.equal(first.json().videos.length, 2);
    const cursor = first.json().next_cursor;
    assert.equal(typeof cursor, 'string');
    const second = await t.inject({ method: 'GET', url: `/api/v1/search/videos?q=cat&page_size=2&cursor=${encodeURIComponent(cursor)}` });
    assert.equal(second.json().videos.length, 1);
    assert.equal(second.json().next_cursor, null);
    const all = [...first.json().videos, ...second.json().videos].map((v: { id: string }) => v.id);
    assert.equal(new Set(all).size, 3);
  });

  test('bad cursor → 400 INVALID_CURSOR; bad page_size, missing q or unknown params → 400 VALIDATION_ERROR', async () => {
    const bad = await t.inject({ method: 'GET', url: '/api/v1/search/videos?q=cat&cursor=not-a-cursor!' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'INVALID_CURSOR');
    for (const qs of ['q=cat&page_size=0', 'q=cat&page_size=51', 'q=cat&page_size=ten', 'page_size=5', 'q=', 'q=cat&sort=new']) {
      const res = await t.inject({ method: 'GET', url: `/api/v1/search/videos?${qs}` });
      assert.equal(res.statusCode, 400, qs);
      assert.equal(res.json().code, 'VALIDATION_ERROR', qs);
    }
  });
});
