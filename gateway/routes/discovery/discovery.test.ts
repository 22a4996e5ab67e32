/** GET /api/v1/videos/trending and /{id}/recommendations (issue 14): ranked read models, only public published videos, trending as the fallback. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainEvent } from '../../../domain/events.ts';
import { KeyValueStoreError } from '../../../projections/stores/key-value-store.port.ts';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

describe('trending', () => {
  let t: TestGateway;
  const v: Record<string, string> = {};
  let session = 0;
  /** `n` counted views (view rule v1) of video `id`, piped straight onto the log; by `viewerId` when given. */
  const view = async (id: string, n: number, viewerId: string | null = null) => {
    const events: DomainEvent[] = Array.from({ length: n }, () => ({
      type: 'VideoViewed' as const,
      data: { videoId: id, sessionId: `s${++session}`, viewerId, watchedSeconds: 12, positionSeconds: 12, videoDurationSeconds: 60, viewedAt: Date.now(), sessionStartedAt: null },
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
    // Two viewers watched top, second and the private video; one also watched unwatched... once.
    for (const viewer of ['w1', 'w2']) for (const id of [v.top, v.second, v.private]) await view(id, 1, viewer);
  });
  after(() => t.close());

  test('given views, trending lists the public published videos by decayed counted views; private and unlisted never appear', async () => {
    const res = await t.inject({ method: 'GET', url: '/api/v1/videos/trending' });
    assert.equal(res.statusCode, 200);
    const videos = res.json().videos as { title: string; trending_score: number; views: number }[];
    assert.deepEqual(videos.map((x) => x.title), ['top', 'second']);
    // top: 5 anonymous views and the 2 viewers' (below); each weighs 2^(-age/6 h), ages of ms here.
    assert.ok(videos[0].trending_score > 6.9 && videos[0].trending_score <= 7, `score ${videos[0].trending_score}`);
    assert.equal(videos[0].views, 7);
  });

  test('limit bounds the list; a limit out of 1..50 is 400', async () => {
    assert.deepEqual((await t.inject({ method: 'GET', url: '/api/v1/videos/trending?limit=1' })).json().videos.map((x: { title: string }) => x.title), ['top']);
    for (const limit of ['0', '51', 'x']) assert.equal((await t.inject({ method: 'GET', url: `/api/v1/videos/trending?limit=${limit}` })).statusCode, 400, limit);
  });

  const upNext = (id: string) => t.inject({ method: 'GET', url: `/api/v1/videos/${id}/recommendations` });

  test('given co-watched videos, up next lists them from the recommendations read model, never a private one nor the video itself', async () => {
    const res = await upNext(v.top);
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().source, 'recommendations');
    assert.deepEqual(res.json().videos.map((x: { title: string; reason: string }) => `${x.title}:${x.reason}`), ['second:co-watch']);
    assert.equal((await upNext('vid_nope')).statusCode, 404);
    assert.equal((await upNext(v.private)).statusCode, 404, 'a video the caller may not see has no up next');
  });

  test('when the recommendations read model hangs or fails, trending answers within the timeout, never a 5xx', async () => {
    const queries = t.world.readModels.recommendations;
    const real = queries.upNext;
    try {
      for (const broken of [() => new Promise<never>(() => {}), () => Promise.reject(new Error('redis down'))]) {
        queries.upNext = broken;
        const res = await upNext(v.second);
        assert.equal(res.statusCode, 200);
        assert.equal(res.json().source, 'trending');
        assert.deepEqual(res.json().videos.map((x: { title: string }) => x.title), ['top'], 'trending without the video itself');
      }
    } finally {
      queries.upNext = real;
    }
  });

  test('when the read models cannot be reached at all (Redis down), up next answers the trending list last read, for any id, never a 5xx', async () => {
    const detail = t.world.readModels['video-detail'];
    const real = { getVideo: detail.getVideo, trending: detail.trending };
    // The list is read in the background by discovery requests: wait until one has filled it.
    for (let i = 0; i < 100 && !(await upNext(v.unwatched)).json().videos.some((x: { title: string }) => x.title === 'top'); i++) {
      await t.inject({ method: 'GET', url: '/api/v1/videos/trending' });
    }
    const down = () => Promise.reject(new KeyValueStoreError('STORE_IO', 'connect ECONNREFUSED 127.0.0.1:6379'));
    try {
      detail.getVideo = down;
      detail.trending = down;
      for (const id of [v.second, v.private, 'vid_nope']) {
        const res = await upNext(id);
        assert.equal(res.statusCode, 200, `${id}: ${res.body}`);
        assert.equal(res.json().source, 'trending');
        const titles = res.json().videos.map((x: { title: string }) => x.title);
        assert.ok(titles.includes('top') && !titles.includes('private') && !titles.includes('unlisted'), titles.join());
      }
      assert.equal((await t.inject({ method: 'GET', url: `/api/v1/videos/${v.second}` })).statusCode, 503, 'the detail itself is unavailable (the test is not vacuous)');
    } finally {
      Object.assign(detail, real);
    }
  });
});
