/** Likes (issue 14): through the real like decider and video-detail read model of the test gateway. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

describe('likes', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let videoId: string;
  before(async () => {
    t = await createTestGateway();
    alice = await t.signUp('alice');
    bob = await t.signUp('bob');
    videoId = await t.uploadVideo(alice.token, { publish: true });
  });
  after(() => t.close());

  const like = (method: 'PUT' | 'DELETE' | 'GET', token?: string, id = videoId) =>
    t.inject({ method, url: `/api/v1/videos/${id}/like`, ...(token && { token }) });
  const detail = async () => (await t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}` })).json();

  test('401 without a token, and nothing is sent', async () => {
    const sent = t.world.sent.length;
    for (const m of ['PUT', 'DELETE', 'GET'] as const) assert.equal((await like(m)).statusCode, 401, m);
    assert.equal(t.world.sent.length, sent);
  });

  test('given two users, when both like and one likes again, then the count is 2; unliking takes one back', async () => {
    assert.deepEqual((await like('GET', bob.token)).json(), { liked: false, like_count: 0 });
    assert.deepEqual((await like('PUT', bob.token)).json(), { liked: true, like_count: 1 });
    assert.deepEqual((await like('PUT', bob.token)).json(), { liked: true, like_count: 1 }, 'one like per user');
    assert.deepEqual((await like('PUT', alice.token)).json(), { liked: true, like_count: 2 });
    assert.equal((await detail()).like_count, 2, 'the detail carries the count');
    assert.deepEqual((await like('DELETE', bob.token)).json(), { liked: false, like_count: 1 });
    assert.deepEqual((await like('DELETE', bob.token)).json(), { liked: false, like_count: 1 }, 'unliking twice takes one like back');
    assert.deepEqual((await like('GET', alice.token)).json(), { liked: true, like_count: 1 });
    assert.equal((await detail()).like_count, 1);
  });

  test('an unknown or unpublished video: 404 and 409, no like counted', async () => {
    const missing = await like('PUT', bob.token, 'vid_nope');
    assert.equal(missing.statusCode, 404);
    const draft = await t.uploadVideo(alice.token);
    // Not ready: others cannot see it (404); its owner sees it but cannot like it yet (409).
    assert.equal((await like('PUT', bob.token, draft)).statusCode, 404);
    const own = await like('PUT', alice.token, draft);
    assert.equal(own.statusCode, 409);
    assert.equal(own.json().code, 'VIDEO_NOT_PUBLISHED');
  });
});
