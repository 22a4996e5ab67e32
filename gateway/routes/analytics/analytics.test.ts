/** Likes and comments over time and the engagement rate on GET /videos/{id}/analytics (issue 15), on the real wiring (gateway/testing/test-gateway.ts). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

describe('analytics: likes, comments and engagement rate (issue 15)', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let videoId: string;
  // The gateway's clock: sessions, heartbeats, likes and comments are stamped with it.
  let clock = Date.now();
  before(async () => {
    t = await createTestGateway({}, { now: () => clock });
    alice = await t.signUp('alice');
    bob = await t.signUp('bob');
    videoId = await t.uploadVideo(alice.token, { publish: true });
  });
  after(() => t.close());

  /** ISO 8601 UTC of the first instant of the UTC hour `ms` falls in, as the answer spells it. */
  const hourOf = (ms: number) => new Date(Math.floor(ms / 3_600_000) * 3_600_000).toISOString().replace('.000Z', 'Z');

  test('given two views, two likes (one taken back) and two comments (one deleted), then the series count every event and the rate is (1 + 1) ÷ 2', async () => {
    const sessions = [await t.startPlayback(videoId), await t.startPlayback(videoId)];
    clock += 60_000;
    for (const session_id of sessions) {
      const hb = await t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/views`, payload: { session_id, watched_seconds: 10, position_seconds: 10 } });
      assert.equal(hb.statusCode, 202);
    }
    const get = (query = '') => t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}/analytics${query}`, token: alice.token });
    await t.world.settle();
    const before = (await get()).json();
    assert.deepEqual([before.likes_over_time.points, before.comments_over_time.points, before.engagement_rate], [[], [], 0], 'views, no engagement yet');

    const when = clock;
    for (const token of [alice.token, bob.token]) assert.equal((await t.inject({ method: 'PUT', url: `/api/v1/videos/${videoId}/like`, token })).statusCode, 200);
    assert.equal((await t.inject({ method: 'DELETE', url: `/api/v1/videos/${videoId}/like`, token: bob.token })).statusCode, 200);
    const post = (body: string, token: string) => t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/comments`, token, payload: { body } });
    assert.equal((await post('first', alice.token)).statusCode, 201);
    const bobs = (await post('second', bob.token)).json().id as string;
    assert.equal((await t.inject({ method: 'DELETE', url: `/api/v1/videos/${videoId}/comments/${bobs}`, token: alice.token })).statusCode, 204);
    await t.world.settle();

    const res = await get('?time_zone=utc');
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.likes_over_time, { interval: 'hour', time_zone: 'UTC', points: [{ start: hourOf(when), likes: 2, unlikes: 1 }] });
    assert.deepEqual(body.comments_over_time, { interval: 'hour', time_zone: 'UTC', points: [{ start: hourOf(when), comments: 2, deleted: 1 }] });
    assert.equal(body.views, 2);
    assert.equal(body.engagement_rate, (1 + 1) / 2);
    const detail = (await t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}` })).json();
    assert.deepEqual([detail.like_count, detail.comment_count], [1, 1], 'the standing counts the rate uses are those the video page shows');
    const daily = (await get('?interval=day&time_zone=Australia/Adelaide')).json();
    assert.deepEqual([daily.likes_over_time.interval, daily.comments_over_time.time_zone], ['day', 'Australia/Adelaide']);
    assert.equal(new Date(daily.likes_over_time.points[0].start).getUTCMinutes(), 30, 'an Adelaide day starts at 13:30Z (UTC+10:30 in summer)');
  });

  test('given a zone asked for by a link name (Asia/Kolkata, which ICU resolves to Asia/Calcutta), then every series echoes the name asked for and buckets in that zone', async () => {
    const res = await t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}/analytics?interval=day&time_zone=Asia/Kolkata`, token: alice.token });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual([body.views_over_time, body.likes_over_time, body.comments_over_time].map((s) => s.time_zone), ['Asia/Kolkata', 'Asia/Kolkata', 'Asia/Kolkata']);
    const start = new Date(body.views_over_time.points[0].start);
    assert.deepEqual([start.getUTCHours(), start.getUTCMinutes()], [18, 30], 'a Kolkata day starts at 18:30Z (UTC+5:30)');
  });

  test('the OpenAPI document describes the new fields', async () => {
    const doc = (await t.inject({ method: 'GET', url: '/docs/json' })).json();
    const answer = doc.paths['/api/v1/videos/{id}/analytics'].get.responses['200'].content['application/json'].schema;
    assert.deepEqual(Object.keys(answer.properties.likes_over_time.properties.points.items.properties), ['start', 'likes', 'unlikes']);
    assert.deepEqual(Object.keys(answer.properties.comments_over_time.properties.points.items.properties), ['start', 'comments', 'deleted']);
    assert.match(answer.properties.engagement_rate.description, /÷ views/);
  });
});
