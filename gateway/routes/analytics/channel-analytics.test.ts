/** `GET /api/v1/users/me/analytics` (issue 15 "per channel") on the real wiring (gateway/testing/test-gateway.ts: chDB analytics). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

describe('channel analytics', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let first: string;
  let second: string;
  let bobs: string;
  // The gateway's clock: a session that watched 10 s must be at least 10 s old (view rule v2).
  let clock = Date.now();
  /** A heartbeat of a fresh playback session of `videoId`, watched `seconds` s, by `token`'s user (anonymous without). */
  const watch = async (videoId: string, seconds: number, token?: string) => {
    const session_id = await t.startPlayback(videoId);
    clock += 60_000;
    const hb = await t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/views`, token, payload: { session_id, watched_seconds: seconds, position_seconds: seconds } });
    assert.equal(hb.statusCode, 202, hb.body);
  };

  before(async () => {
    t = await createTestGateway({}, { now: () => clock });
    alice = await t.signUp('alice');
    bob = await t.signUp('bob');
    first = await t.uploadVideo(alice.token, { publish: true, title: 'first' });
    second = await t.uploadVideo(alice.token, { publish: true, title: 'second' });
    bobs = await t.uploadVideo(bob.token, { publish: true, title: 'bobs' });
  });
  after(() => t.close());

  test('given views on two of alice\'s videos and on bob\'s, when alice asks for her channel, then she gets her videos\' rollup only, a viewer of both counted once', async () => {
    await watch(first, 10, bob.token);
    await watch(second, 10, bob.token);
    await watch(second, 10);
    await watch(second, 3); // a session, not a view
    await watch(bobs, 10, alice.token);
    await t.world.settle();
    const res = await t.inject({ method: 'GET', url: '/api/v1/users/me/analytics?interval=day&time_zone=europe/paris', token: alice.token });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.channel_id, alice.id);
    assert.equal(body.videos, 2);
    assert.deepEqual([body.views, body.sessions, body.unique_viewers], [3, 4, 2], 'bob once across both videos, and the anonymous view');
    assert.equal(body.watch_time_seconds, 33);
    assert.equal(body.average_view_duration_seconds, 11);
    assert.equal(body.views_over_time.time_zone, 'Europe/Paris');
    assert.equal(body.views_over_time.points.reduce((n: number, p: { views: number }) => n + p.views, 0), 3);
    assert.deepEqual(body.top_videos.map((v: { title: string; views: number }) => [v.title, v.views]), [['second', 2], ['first', 1]]);
    assert.equal(body.view_rule_version, 'v2');
    const perVideo = await Promise.all([first, second].map(async (id) => (await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/analytics`, token: alice.token })).json().views as number));
    assert.equal(perVideo[0]! + perVideo[1]!, body.views, 'the rollup agrees with the per-video figures');
  });

  test('given viewers subscribing to alice and one of them leaving, then her channel shows the subscribers gained and lost', async () => {
    const dave = await t.signUp('dave');
    const erin = await t.signUp('erin');
    for (const [token, method] of [[dave.token, 'PUT'], [erin.token, 'PUT'], [erin.token, 'DELETE']] as const) {
      const r = await t.inject({ method, url: `/api/v1/users/${alice.id}/subscription`, token });
      assert.ok(r.statusCode < 300, r.body);
    }
    await t.inject({ method: 'PUT', url: `/api/v1/users/${bob.id}/subscription`, token: dave.token });
    await t.world.settle();
    const body = (await t.inject({ method: 'GET', url: '/api/v1/users/me/analytics?interval=day', token: alice.token })).json();
    assert.deepEqual([body.subscribers_gained, body.subscribers_lost], [2, 1]);
    assert.equal(body.subscribers_over_time.points.reduce((n: number, p: { gained: number }) => n + p.gained, 0), 2);
    const kyiv = (await t.inject({ method: 'GET', url: '/api/v1/users/me/analytics?interval=day&time_zone=Europe/Kyiv', token: alice.token })).json();
    assert.deepEqual([kyiv.views_over_time.time_zone, kyiv.subscribers_over_time.time_zone], ['Europe/Kyiv', 'Europe/Kyiv'], 'the name asked for, not the link ICU resolves it to (Europe/Kiev)');
  });

  test('a channel without views gets zeros; anonymous → 401; an unknown time zone → 400', async () => {
    const carol = await t.signUp('carol');
    const empty = await t.inject({ method: 'GET', url: '/api/v1/users/me/analytics', token: carol.token });
    assert.equal(empty.statusCode, 200);
    assert.deepEqual([empty.json().videos, empty.json().views, empty.json().top_videos, empty.json().views_over_time.interval], [0, 0, [], 'hour']);
    assert.equal((await t.inject({ method: 'GET', url: '/api/v1/users/me/analytics' })).statusCode, 401);
    const bad = await t.inject({ method: 'GET', url: '/api/v1/users/me/analytics?time_zone=Mars%2FOlympus', token: alice.token });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'VALIDATION_ERROR');
  });
});
