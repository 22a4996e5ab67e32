/**
 * `POST /api/v1/videos/{id}/playback-events` (issue 15) on a real gateway in standalone wiring:
 * given a published video and a playback session, when the player reports its quality-of-
 * experience events, then they are on the playback topic and in the owner's analytics; a bad
 * session, a bad report or an unknown kind is a 400 with nothing written.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TOPICS } from '../../../schemas/topics.ts';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

describe('playback events', () => {
  let t: TestGateway;
  let owner: { id: string; token: string };
  let videoId: string;
  let clock = Date.now();
  before(async () => {
    t = await createTestGateway({}, { now: () => clock });
    owner = await t.signUp('creator');
    videoId = await t.uploadVideo(owner.token, { publish: true });
  });
  after(() => t.close());

  const post = (session_id: string, events: unknown[], id = videoId) =>
    t.inject({ method: 'POST', url: `/api/v1/videos/${id}/playback-events`, payload: { session_id, events } });
  const onTopic = async () => (await t.world.events()).filter((e) => e.position.topic === TOPICS.playback).length;

  test('given two sessions, when their players report starts, a switch, a stall and an error, then the owner sees startup time, rebuffer ratio, renditions and errors', async () => {
    const a = await t.startPlayback(videoId);
    const b = await t.startPlayback(videoId);
    clock += 10_000;
    const first = await post(a, [
      { type: 'start', position_seconds: 0, startup_time_ms: 250, rendition_height: 360 },
      { type: 'rendition_switch', position_seconds: 2, rendition_height: 240 },
      { type: 'rebuffer_start', position_seconds: 3 },
      { type: 'rebuffer_end', position_seconds: 3, rebuffer_ms: 1000 },
    ]);
    assert.equal(first.statusCode, 202, first.body);
    assert.deepEqual(first.json(), { accepted: 4 });
    assert.equal((await post(b, [{ type: 'start', position_seconds: 0, startup_time_ms: 750 }, { type: 'error', position_seconds: 1, error_code: 'MEDIA_ERR_DECODE' }])).statusCode, 202);
    assert.equal((await t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/views`, payload: { session_id: a, watched_seconds: 9, position_seconds: 9 } })).statusCode, 202);
    await t.world.settle();
    const res = await t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}/analytics`, token: owner.token });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.deepEqual(body.startup_time_ms, { p50: 250, p95: 750, samples: 2 }, 'nearest rank of [250, 750]: the 1st and the 2nd');
    assert.deepEqual([body.rebuffer_count, body.rebuffer_seconds, body.rebuffer_ratio], [1, 1, 1 / (9 + 1)]);
    assert.deepEqual(body.renditions_watched, [{ height: 240, sessions: 1 }, { height: 360, sessions: 1 }]);
    assert.deepEqual(body.playback_errors, { count: 1, by_code: [{ code: 'MEDIA_ERR_DECODE', errors: 1, sessions: 1 }] });
  });

  test('a forged session, a malformed report, an unknown kind or too many events → 400 and nothing on the topic', async () => {
    const session = await t.startPlayback(videoId);
    const before = await onTopic();
    const cases: [string, unknown[], string][] = [
      ['forged', [{ type: 'end', position_seconds: 1 }], 'INVALID_PLAYBACK_SESSION'],
      [session, [{ type: 'end', position_seconds: 1 }, { type: 'start', position_seconds: 0 }], 'INVALID_PLAYBACK_EVENT'],
      [session, [{ type: 'rebuffer_end', position_seconds: 1 }], 'INVALID_PLAYBACK_EVENT'],
      [session, [{ type: 'seek', position_seconds: 1 }], 'VALIDATION_ERROR'],
      [session, [{ type: 'error', position_seconds: 1, error_code: 'two words' }], 'VALIDATION_ERROR'],
      [session, [], 'VALIDATION_ERROR'],
      [session, Array.from({ length: 21 }, () => ({ type: 'rebuffer_start', position_seconds: 1 })), 'VALIDATION_ERROR'],
    ];
    for (const [id, events, code] of cases) {
      const res = await post(id, events);
      assert.equal(res.statusCode, 400, `${code}: ${res.body}`);
      assert.equal(res.json().code, code, res.body);
    }
    const other = await t.uploadVideo(owner.token, { publish: true });
    assert.equal((await post(session, [{ type: 'end', position_seconds: 1 }], other)).json().code, 'INVALID_PLAYBACK_SESSION', 'a session is bound to its video');
    assert.equal(await onTopic(), before);
  });
});
