/** Channel listings (issue 14): a channel shows only public, published videos; "my videos" shows every upload. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

describe('channel listings', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  const v: Record<string, string> = {};
  before(async () => {
    t = await createTestGateway();
    alice = await t.signUp('alice');
    bob = await t.signUp('bob');
    for (const name of ['p1', 'p2', 'p3', 'unlisted', 'private', 'deleted']) v[name] = await t.uploadVideo(alice.token, { publish: true, title: name });
    v.draft = await t.uploadVideo(alice.token, { title: 'draft' });
    for (const visibility of ['unlisted', 'private'] as const) {
      assert.equal((await t.inject({ method: 'PATCH', url: `/api/v1/videos/${v[visibility]}`, token: alice.token, payload: { visibility } })).statusCode, 200);
    }
    assert.equal((await t.inject({ method: 'DELETE', url: `/api/v1/videos/${v.deleted}`, token: alice.token })).statusCode, 204);
    await t.signUp('carol');
  });
  after(() => t.close());

  const titles = (body: { videos: { title: string }[] }) => body.videos.map((x) => x.title);

  test('given public, unlisted, private, unpublished and deleted videos, a channel lists only the public published ones, newest first, to anyone', async () => {
    for (const token of [undefined, bob.token, alice.token]) {
      const res = await t.inject({ method: 'GET', url: `/api/v1/users/${alice.id}/videos`, ...(token && { token }) });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(titles(res.json()), ['p3', 'p2', 'p1']);
      assert.deepEqual(res.json().channel, { id: alice.id, username: 'alice', subscriber_count: 0 });
    }
  });

  test('pages follow the cursor without repeating or skipping; a forged cursor is 400 INVALID_CURSOR', async () => {
    const first = (await t.inject({ method: 'GET', url: `/api/v1/users/${alice.id}/videos?limit=2` })).json();
    assert.deepEqual(titles(first), ['p3', 'p2']);
    const second = (await t.inject({ method: 'GET', url: `/api/v1/users/${alice.id}/videos?limit=2&cursor=${first.next_cursor}` })).json();
    assert.deepEqual([titles(second), second.next_cursor], [['p1'], null]);
    const bad = await t.inject({ method: 'GET', url: `/api/v1/users/${alice.id}/videos?cursor=not-a-cursor` });
    assert.deepEqual([bad.statusCode, bad.json().code], [400, 'INVALID_CURSOR']);
  });

  test('my videos: every upload of the caller but the deleted one, whatever its status or visibility; nobody else\'s', async () => {
    const mine = await t.inject({ method: 'GET', url: '/api/v1/users/me/videos', token: alice.token });
    assert.deepEqual(titles(mine.json()), ['draft', 'private', 'unlisted', 'p3', 'p2', 'p1']);
    assert.notEqual(mine.json().videos[0].status, 'ready');
    assert.deepEqual(titles((await t.inject({ method: 'GET', url: '/api/v1/users/me/videos', token: bob.token })).json()), []);
    assert.equal((await t.inject({ method: 'GET', url: '/api/v1/users/me/videos' })).statusCode, 401);
  });

  test('an unknown user has no channel: 404 CHANNEL_NOT_FOUND', async () => {
    const res = await t.inject({ method: 'GET', url: '/api/v1/users/usr_nobody/videos' });
    assert.deepEqual([res.statusCode, res.json().code], [404, 'CHANNEL_NOT_FOUND']);
  });

  test('the subscriptions feed lists the public published videos of the channels the caller subscribes to, newest first; none before subscribing', async () => {
    const feed = async (token: string, query = '') => {
      const res = await t.inject({ method: 'GET', url: `/api/v1/users/me/feed${query}`, token });
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    };
    const carol = await t.signUp('carol2');
    assert.deepEqual(titles(await feed(carol.token)), []);
    const mine = await t.uploadVideo(carol.token, { publish: true, title: 'carol own' });
    assert.ok(mine);
    assert.equal((await t.inject({ method: 'PUT', url: `/api/v1/users/${alice.id}/subscription`, token: carol.token })).statusCode, 200);
    assert.deepEqual(titles(await feed(carol.token)), ['p3', 'p2', 'p1'], 'alice\'s public videos only, not carol\'s own');
    const page1 = await feed(carol.token, '?limit=2');
    assert.deepEqual(titles(await feed(carol.token, `?limit=2&cursor=${page1.next_cursor}`)), ['p1']);
    assert.equal((await t.inject({ method: 'DELETE', url: `/api/v1/users/${alice.id}/subscription`, token: carol.token })).statusCode, 200);
    assert.deepEqual(titles(await feed(carol.token)), []);
    assert.equal((await t.inject({ method: 'GET', url: '/api/v1/users/me/feed' })).statusCode, 401);
  });
});
