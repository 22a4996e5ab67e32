/** GET /api/v1/videos/trending (issue 14): ranked by counted views, only public published videos. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainEvent } from '../../../domain/events.ts';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

describe('trending', () => {
  let t: TestGateway;
  const v: Record<string, string> = {};
  let session = 0;
  /** `n` counted views (view rule v1) of video `id`, piped straight onto the log. */
  const view = async (id: string, n: number) => {
    const events: DomainEvent[] = Array.from({ length: n }, () => ({
      type: 'VideoViewed' as const,
      data: { videoId: id, sessionId: `s${++session}`, viewerId: null, watchedSeconds: 12, positionSeconds: 12, videoDurationSeconds: 60, viewedAt: Date.now(), sessionStartedAt: null },
    }));
    await t.world.driver.pipe(events);
    await t.world.settle();
  };
  before(async () => {
    t = await createTestGateway();
    const alice = await t.signUp('alice');
    for (const name of ['top', 'second', 'private', 'unlisted', 'unwatched']) v[name] = await t.uploadVideo(alice.token, { publish: true, title: name });
    for (const visibility of ['private', 'unlisted'] as const) {
      assert.equal((await t.inject({ method: 'PATCH', url: `/api/v1/videos/${v[visibility]}`, token: alice.token, payload: { visibility } })).statusCode, 200);
    }
    await view(v.top, 5);
    await view(v.second, 2);
    await view(v.private, 9);
    await view(v.unlisted, 7);
  });
  after(() => t.close());

  test('given views, trending lists the public published videos by decayed counted views; private and unlisted never appear', async () => {
    const res = await t.inject({ method: 'GET', url: '/api/v1/videos/trending' });
    assert.equal(res.statusCode, 200);
    const videos = res.json().videos as { title: string; trending_score: number; views: number }[];
    assert.deepEqual(videos.map((x) => x.title), ['top', 'second']);
    assert.ok(videos[0].trending_score > 4.9 && videos[0].trending_score <= 5, `score ${videos[0].trending_score}`);
    assert.equal(videos[0].views, 5);
  });

  test('limit bounds the list; a limit out of 1..50 is 400', async () => {
    assert.deepEqual((await t.inject({ method: 'GET', url: '/api/v1/videos/trending?limit=1' })).json().videos.map((x: { title: string }) => x.title), ['top']);
    for (const limit of ['0', '51', 'x']) assert.equal((await t.inject({ method: 'GET', url: `/api/v1/videos/trending?limit=${limit}` })).statusCode, 400, limit);
  });
});
