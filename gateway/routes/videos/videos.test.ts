/** Video detail, edit, delete, status, stream, views, analytics and watch history on the real wiring (gateway/testing/test-gateway.ts). */
import { processingFailureMessage } from '../../../domain/video/processing-failure.ts';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RecordMetadata } from '../../../platform/log/event-log.port.ts';
import type { ReadModelName } from '../../../projections/read-model.port.ts';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

describe('videos', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  let mallory: { id: string; token: string };
  before(async () => {
    t = await createTestGateway();
    alice = await t.signUp('alice');
    mallory = await t.signUp('mallory');
  });
  after(() => t.close());

  test('GET detail: snake_case fields, ISO timestamps, public thumbnail URL once ready', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true, title: 'Sunset', tags: ['sky'] });
    const res = await t.inject({ method: 'GET', url: `/api/v1/videos/${id}` });
    assert.equal(res.statusCode, 200);
    const v = res.json();
    assert.equal(v.id, id);
    assert.equal(v.owner_id, alice.id);
    assert.equal(v.title, 'Sunset');
    assert.deepEqual(v.tags, ['sky']);
    assert.equal(v.status, 'ready');
    assert.equal(v.duration_seconds, 10);
    assert.equal(v.thumbnail_url, t.world.objectStore.publicUrl(`hls/${id}/thumb.jpg`));
    assert.equal(new Date(v.created_at).toISOString(), v.created_at);
    assert.equal(new Date(v.published_at).toISOString(), v.published_at);
    assert.ok(!('ownerId' in v));
  });

  test('GET of an unknown video → 404 VIDEO_NOT_FOUND; a malformed id → 400', async () => {
    const res = await t.inject({ method: 'GET', url: '/api/v1/videos/vid_nope' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'VIDEO_NOT_FOUND');
    const bad = await t.inject({ method: 'GET', url: '/api/v1/videos/vid%20%3Cscript%3E' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'VALIDATION_ERROR');
  });

  test('PATCH by the owner → 200 with the edit; by another user → 403 NOT_OWNER (404 while they cannot see it) and no event', async () => {
    const hidden = await t.uploadVideo(alice.token);
    const unseen = await t.inject({ method: 'PATCH', url: `/api/v1/videos/${hidden}`, token: mallory.token, payload: { title: 'pwned' } });
    assert.equal(unseen.statusCode, 404);
    assert.equal(unseen.json().code, 'VIDEO_NOT_FOUND');
    const id = await t.uploadVideo(alice.token, { publish: true });
    const theirs = await t.inject({ method: 'PATCH', url: `/api/v1/videos/${id}`, token: mallory.token, payload: { title: 'pwned' } });
    assert.equal(theirs.statusCode, 403);
    assert.equal(theirs.json().code, 'NOT_OWNER');
    assert.equal((await t.world.events()).filter((x) => x.event.type === 'VideoMetadataUpdated').length, 0);

    const mine = await t.inject({ method: 'PATCH', url: `/api/v1/videos/${id}`, token: alice.token, payload: { title: 'Renamed', tags: ['a', 'b'] } });
    assert.equal(mine.statusCode, 200);
    assert.equal(mine.json().title, 'Renamed');
    assert.deepEqual(mine.json().tags, ['a', 'b']);
  });

  test('PATCH with no field, an unknown field, or without a token → 400/400/401', async () => {
    const id = await t.uploadVideo(alice.token);
    const empty = await t.inject({ method: 'PATCH', url: `/api/v1/videos/${id}`, token: alice.token, payload: {} });
    assert.equal(empty.statusCode, 400);
    const unknown = await t.inject({ method: 'PATCH', url: `/api/v1/videos/${id}`, token: alice.token, payload: { owner_id: mallory.id } });
    assert.equal(unknown.statusCode, 400);
    assert.equal(unknown.json().code, 'VALIDATION_ERROR');
    const anon = await t.inject({ method: 'PATCH', url: `/api/v1/videos/${id}`, payload: { title: 'x' } });
    assert.equal(anon.statusCode, 401);
  });

  test('DELETE: another user → 403; owner → 204, then the video is 404 everywhere', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true });
    const theirs = await t.inject({ method: 'DELETE', url: `/api/v1/videos/${id}`, token: mallory.token });
    assert.equal(theirs.statusCode, 403);
    const mine = await t.inject({ method: 'DELETE', url: `/api/v1/videos/${id}`, token: alice.token });
    assert.equal(mine.statusCode, 204);
    assert.equal(mine.body, '');
    for (const url of [`/api/v1/videos/${id}`, `/api/v1/videos/${id}/status`, `/api/v1/videos/${id}/stream`]) {
      assert.equal((await t.inject({ method: 'GET', url })).statusCode, 404, url);
    }
    const again = await t.inject({ method: 'DELETE', url: `/api/v1/videos/${id}`, token: alice.token });
    assert.equal(again.statusCode, 404);
  });

  test('status and stream follow processing: owner only until published (others 404), 409 VIDEO_NOT_READY to the owner', async () => {
    const id = await t.uploadVideo(alice.token);
    for (const token of [undefined, mallory.token]) {
      for (const url of [`/api/v1/videos/${id}`, `/api/v1/videos/${id}/status`, `/api/v1/videos/${id}/stream`, `/api/v1/videos/${id}/comments`]) {
        const res = await t.inject({ method: 'GET', url, ...(token && { token }) });
        assert.equal(res.statusCode, 404, `${token ? 'another user' : 'anonymous'}: ${url}`);
        assert.equal(res.json().code, 'VIDEO_NOT_FOUND');
      }
    }
    const status = await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/status`, token: alice.token });
    assert.deepEqual(status.json(), { status: 'uploaded', progress: 0, renditions: [], error: null, error_code: null });
    const early = await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/stream`, token: alice.token });
    assert.equal(early.statusCode, 409);
    assert.equal(early.json().code, 'VIDEO_NOT_READY');

    await t.world.publish(id);
    const ready = await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/status` });
    assert.equal(ready.json().status, 'ready');
    assert.deepEqual(ready.json().renditions, [{ name: '360p', width: 640, height: 360, bandwidth: 1_000_000, complete: true }]);
    const stream = await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/stream` });
    assert.equal(stream.statusCode, 200);
    assert.equal(stream.json().manifest_url, t.world.objectStore.publicUrl(`hls/${id}/master.m3u8`));
    assert.match(stream.json().session_id, /^ps1\./);
    assert.ok(Date.parse(stream.json().session_expires_at) > Date.now(), 'the session is valid from now on');
    const again = await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/stream` });
    assert.notEqual(again.json().session_id, stream.json().session_id, 'every call starts a new session');
  });

  test('issue 14: detail ETag → 304 on If-None-Match (a tag, W/, a list, *), a new tag after PATCH, none on a 404', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true, title: 'Tagged' });
    const url = `/api/v1/videos/${id}`;
    const get = (headers: Record<string, string> = {}, token?: string) => t.inject({ method: 'GET', url, headers, ...(token && { token }) });
    const first = await get();
    assert.equal(first.statusCode, 200);
    const tag = first.headers.etag as string;
    assert.match(tag, /^"[A-Za-z0-9_-]{20,}"$/, 'a strong tag');
    assert.equal(first.headers.vary, 'Authorization');
    assert.equal((await get()).headers.etag, tag, 'the same version, the same tag');
    assert.equal((await get({}, alice.token)).headers.etag, tag, 'the same bytes for the owner: the same tag');
    for (const inm of [tag, `W/${tag}`, `"stale", ${tag}`, '*']) {
      const res = await get({ 'if-none-match': inm });
      assert.equal(res.statusCode, 304, inm);
      assert.equal(res.body, '', inm);
      assert.equal(res.headers.etag, tag, inm);
      assert.equal(res.headers.vary, 'Authorization', inm);
      assert.equal(res.headers['content-length'], undefined, inm);
    }
    const other = await get({ 'if-none-match': '"not-this-one"' });
    assert.equal(other.statusCode, 200);
    assert.equal(other.json().title, 'Tagged');

    const patched = await t.inject({ method: 'PATCH', url, token: alice.token, payload: { title: 'Retitled' } });
    assert.equal(patched.statusCode, 200);
    const after = await get({ 'if-none-match': tag });
    assert.equal(after.statusCode, 200, 'the old tag no longer matches');
    assert.equal(after.json().title, 'Retitled');
    assert.ok(after.headers.etag && after.headers.etag !== tag, 'a new tag');
    assert.equal((await get({ 'if-none-match': after.headers.etag as string })).statusCode, 304);

    // Hidden from others: their 404 carries no tag, whatever If-None-Match says; the owner's 200 does.
    const hidden = await t.uploadVideo(alice.token);
    const own = await t.inject({ method: 'GET', url: `/api/v1/videos/${hidden}`, token: alice.token });
    assert.equal(own.statusCode, 200);
    assert.ok(own.headers.etag);
    for (const token of [undefined, mallory.token]) {
      for (const inm of [undefined, '*', own.headers.etag as string]) {
        const res = await t.inject({ method: 'GET', url: `/api/v1/videos/${hidden}`, ...(inm && { headers: { 'if-none-match': inm } }), ...(token && { token }) });
        assert.equal(res.statusCode, 404, `${token ? 'another user' : 'anonymous'} ${inm}`);
        assert.equal(res.headers.etag, undefined);
        assert.equal(res.headers.vary, 'Authorization', 'the 404 depends on the caller too');
      }
    }
  });

  test('issue 14: status ETag → 304 while the status is the same, a new tag once it changes; * → 304; none on a 404', async () => {
    const id = await t.uploadVideo(alice.token);
    const url = `/api/v1/videos/${id}/status`;
    const first = await t.inject({ method: 'GET', url, token: alice.token });
    assert.equal(first.statusCode, 200);
    const tag = first.headers.etag as string;
    assert.match(tag, /^"[A-Za-z0-9_-]+"$/);
    assert.equal(first.headers.vary, 'Authorization');
    const same = await t.inject({ method: 'GET', url, token: alice.token, headers: { 'if-none-match': tag } });
    assert.equal(same.statusCode, 304);
    assert.equal(same.body, '');
    assert.equal(same.headers.etag, tag);
    assert.equal((await t.inject({ method: 'GET', url, token: alice.token, headers: { 'if-none-match': '*' } })).statusCode, 304);
    assert.equal((await t.inject({ method: 'GET', url, token: alice.token, headers: { 'if-none-match': '"nope"' } })).statusCode, 200);
    const anon = await t.inject({ method: 'GET', url, headers: { 'if-none-match': tag } });
    assert.equal(anon.statusCode, 404, 'not the owner: 404 even with the right tag');
    assert.equal(anon.headers.etag, undefined);

    await t.world.publish(id);
    const ready = await t.inject({ method: 'GET', url, token: alice.token, headers: { 'if-none-match': tag } });
    assert.equal(ready.statusCode, 200);
    assert.equal(ready.json().status, 'ready');
    assert.ok(ready.headers.etag && ready.headers.etag !== tag);
  });

  test('a failed video shows its code and the fixed sentence of the code, never the stored free text', async () => {
    const id = await t.uploadVideo(alice.token);
    await t.world.commandBus.send({ type: 'FailProcessing', data: { videoId: id, reason: 'the file has no video stream', code: 'NO_VIDEO_STREAM' }, metadata: { now: Date.now() } });
    await t.world.settle();
    assert.equal((await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/status` })).statusCode, 404, 'failed: owner only');
    assert.equal((await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/status`, token: mallory.token })).statusCode, 404, 'failed: owner only');
    const res = await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/status`, token: alice.token });
    assert.equal(res.json().status, 'failed');
    assert.equal(res.json().error_code, 'NO_VIDEO_STREAM');
    assert.equal(res.json().error, processingFailureMessage('NO_VIDEO_STREAM'));
  });

  test('issue 8 #10: an old failure whose stored reason holds FFmpeg stderr with server paths and dead-letter text shows none of it', async () => {
    const id = await t.uploadVideo(alice.token);
    const leaky = 'processing failed after retries: /srv/streamwave/data/work/vid_1/source: Invalid data found when processing input';
    await t.world.commandBus.send({ type: 'FailProcessing', data: { videoId: id, reason: leaky, code: 'SOMETHING_OLD' }, metadata: { now: Date.now() } });
    await t.world.settle();
    const body = (await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/status`, token: alice.token })).json();
    assert.equal(body.status, 'failed');
    assert.equal(body.error_code, 'PROCESSING_FAILED');
    assert.equal(body.error, processingFailureMessage('PROCESSING_FAILED'));
    assert.doesNotMatch(JSON.stringify(body), /\/srv|work|Invalid data|after retries/);
  });
});

describe('views, analytics, history', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let videoId: string;
  let anonSession: string;
  let bobSession: string;
  // The gateway's clock: sessions are issued and heartbeats stamped with it, so a test moves time
  // forward (a session that watched 10 s is at least 10 s old) without sleeping.
  let clock = Date.now();
  before(async () => {
    t = await createTestGateway({}, { now: () => clock });
    alice = await t.signUp('alice');
    bob = await t.signUp('bob');
    videoId = await t.uploadVideo(alice.token, { publish: true });
    anonSession = await t.startPlayback(videoId);
    bobSession = await t.startPlayback(videoId);
  });
  after(() => t.close());

  test('anonymous heartbeat → 202 with a null viewer; with a token → the viewer is the token subject', async () => {
    const issuedAt = clock;
    clock += 8_000;
    const anon = await t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/views`, payload: { session_id: anonSession, watched_seconds: 4, position_seconds: 4 } });
    assert.equal(anon.statusCode, 202);
    assert.deepEqual(anon.json(), { accepted: true });
    const signed = await t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/views`, token: bob.token, payload: { session_id: bobSession, watched_seconds: 6, position_seconds: 7.5 } });
    assert.equal(signed.statusCode, 202);
    const recorded = t.world.sent.flatMap((c) => (c.type === 'RecordView' ? [c.data] : []));
    assert.deepEqual(recorded.map((d) => d.viewerId), [null, bob.id]);
    assert.deepEqual(recorded.map((d) => d.sessionStartedAt), [issuedAt, issuedAt], 'the session start is the verified issue time');
    const viewed = (await t.world.events()).flatMap(({ event: e }) => (e.type === 'VideoViewed' ? [e.data.sessionStartedAt] : []));
    assert.deepEqual(viewed, [issuedAt, issuedAt], 'and travels on VideoViewed');
  });

  test('forged, foreign, tampered and expired session ids → 400 INVALID_PLAYBACK_SESSION, nothing on the log, counted by reason', async () => {
    const other = await t.uploadVideo(alice.token, { publish: true });
    const foreign = await t.startPlayback(other);
    const [p, iat, , nonce, mac] = bobSession.split('.');
    const stretched = [p, iat, String(clock + 365 * 86_400_000), nonce, mac].join('.');
    const cases: [string, string][] = [
      ['malformed', 'made-up-session'],
      ['malformed', 'ps1.1.2.x.y'],
      ['bad_signature', foreign],
      ['bad_signature', stretched],
      ['bad_signature', `${bobSession.slice(0, -2)}${bobSession.endsWith('AA') ? 'AB' : 'AA'}`],
    ];
    const before = (await t.world.events()).length;
    for (const [reason, session_id] of cases) {
      const res = await t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/views`, payload: { session_id, watched_seconds: 10, position_seconds: 10 } });
      assert.equal(res.statusCode, 400, session_id);
      assert.equal(res.json().code, 'INVALID_PLAYBACK_SESSION', session_id);
      assert.match(res.json().message, new RegExp(reason));
    }
    const saved = clock;
    clock += 6 * 3600_000;
    const expired = await t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/views`, payload: { session_id: anonSession, watched_seconds: 10, position_seconds: 10 } });
    clock = saved;
    assert.equal(expired.statusCode, 400);
    assert.match(expired.json().message, /expired/);
    assert.equal((await t.world.events()).length, before, 'no rejected heartbeat reached the log');
    const metric = await t.registry.getSingleMetric('streamwave_heartbeats_rejected_total')!.get();
    const byReason = Object.fromEntries(metric.values.map((v) => [v.labels.reason, v.value]));
    assert.deepEqual(byReason, { malformed: 2, bad_signature: 3, expired: 1 });
  });

  test('heartbeat validation: negative seconds / missing session → 400; bad token → 401; not ready → 409', async () => {
    for (const payload of [{ session_id: anonSession, watched_seconds: -1, position_seconds: 0 }, { watched_seconds: 1, position_seconds: 0 }, { session_id: '', watched_seconds: 1, position_seconds: 0 }]) {
      const res = await t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/views`, payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
    }
    const bad = await t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/views`, headers: { authorization: 'Bearer nope' }, payload: { session_id: anonSession, watched_seconds: 1, position_seconds: 1 } });
    assert.equal(bad.statusCode, 401);
    // A session can only be had for a ready video (/stream is 409 before), so a heartbeat for a
    // pending one never gets a valid session: 400, and the decider's 409 stays behind it.
    const pending = await t.uploadVideo(alice.token);
    const early = await t.inject({ method: 'POST', url: `/api/v1/videos/${pending}/views`, payload: { session_id: anonSession, watched_seconds: 1, position_seconds: 1 } });
    assert.equal(early.statusCode, 400);
    assert.equal(early.json().code, 'INVALID_PLAYBACK_SESSION');
  });

  test('analytics: owner → 200 from the analytics read model (view rule v2); another user → 403 NOT_OWNER; anonymous → 401', async () => {
    // The sessions above watched 4 s and 6 s of a 10 s video: no view yet. Both now watch it whole.
    clock += 60_000;
    for (const [session_id, token] of [[anonSession, undefined], [bobSession, bob.token]] as const) {
      const hb = await t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/views`, token, payload: { session_id, watched_seconds: 10, position_seconds: 10 } });
      assert.equal(hb.statusCode, 202);
    }
    await t.world.settle();
    const res = await t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}/analytics`, token: alice.token });
    assert.equal(res.statusCode, 200);
    const { views, unique_viewers, watch_time_seconds, views_per_minute, view_rule_version } = res.json();
    assert.deepEqual({ views, unique_viewers, watch_time_seconds, views_per_minute, view_rule_version }, { ...(await t.world.readModels.analytics.videoAnalytics(videoId)), view_rule_version: 'v2' });
    assert.equal(res.json().views, 2);
    assert.equal(res.json().unique_viewers, 2);
    assert.equal(res.json().watch_time_seconds, 20);
    assert.equal((await t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}` })).json().views, 2, 'the video detail counter agrees');
    const theirs = await t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}/analytics`, token: bob.token });
    assert.equal(theirs.statusCode, 403);
    assert.equal(theirs.json().code, 'NOT_OWNER');
    const anon = await t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}/analytics` });
    assert.equal(anon.statusCode, 401);
  });

  test('analytics studio figures (issue 15): retention, concurrent viewers and views over time in the time zone asked for; an unknown zone → 400', async () => {
    // Given the two sessions above, each having watched the whole 10 s video at the gateway's clock.
    const get = (query: string) => t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}/analytics${query}`, token: alice.token });
    const res = await get('?interval=day&time_zone=australia/adelaide');
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.sessions, 2);
    assert.equal(body.average_view_duration_seconds, body.watch_time_seconds / body.views);
    assert.equal(body.retention.length, 101);
    assert.deepEqual([body.retention[0], body.retention[100]], [{ position_percent: 0, share: 1 }, { position_percent: 100, share: 1 }], 'both watched it whole');
    assert.equal(body.concurrent_viewers.now, 2, 'both sent a heartbeat at the current clock');
    assert.equal(body.concurrent_viewers.window_seconds, 30);
    assert.deepEqual(body.views_over_time.interval, 'day');
    assert.deepEqual(body.views_over_time.time_zone, 'Australia/Adelaide', 'the zone comes back canonical');
    const [point] = body.views_over_time.points;
    assert.deepEqual([body.views_over_time.points.length, point.views, point.unique_viewers], [1, 2, 2]);
    assert.equal(new Date(point.start).getUTCMinutes(), 30, 'an Adelaide day starts at 13:30Z (UTC+10:30 in summer)');
    clock += 31_000;
    assert.equal((await get('')).json().concurrent_viewers.now, 0, '31 s without heartbeats: nobody is watching now');
    assert.equal((await get('')).json().views_over_time.interval, 'hour', 'default interval');
    for (const bad of ['Mars/Olympus_Mons', '../../etc/passwd', '+05:30', 'UTC; DROP TABLE x']) {
      const r = await get(`?time_zone=${encodeURIComponent(bad)}`);
      assert.equal(r.statusCode, 400, bad);
      assert.equal(r.json().code, 'VALIDATION_ERROR', bad);
    }
    assert.equal((await get('?interval=week')).statusCode, 400);
  });

  test("history lists the caller's watched videos only", async () => {
    const res = await t.inject({ method: 'GET', url: '/api/v1/users/me/history', token: bob.token });
    assert.equal(res.statusCode, 200);
    const { history } = res.json();
    assert.equal(history.length, 1);
    assert.equal(history[0].video_id, videoId);
    assert.equal(history[0].position_seconds, 10, 'the latest heartbeat');
    const empty = await t.inject({ method: 'GET', url: '/api/v1/users/me/history', token: alice.token });
    assert.deepEqual(empty.json(), { history: [] });
  });
});

describe('read-your-writes', () => {
  test('awaited with the command positions after register, upload start/complete, PATCH and comment, never after a view', async () => {
    const calls: { url: string; readModel: ReadModelName; positions: RecordMetadata[] }[] = [];
    let currentUrl = '';
    let t!: TestGateway;
    t = await createTestGateway({}, { readYourWrites: async (readModel, positions) => { calls.push({ url: currentUrl, readModel, positions }); await t.world.settle(); } });
    t.app.addHook('onRequest', async (req) => { currentUrl = `${req.method} ${req.routeOptions.url}`; });
    try {
      const alice = await t.signUp('alice');
      const id = await t.uploadVideo(alice.token, { publish: true });
      await t.inject({ method: 'PATCH', url: `/api/v1/videos/${id}`, token: alice.token, payload: { title: 'New' } });
      await t.inject({ method: 'POST', url: `/api/v1/videos/${id}/comments`, token: alice.token, payload: { body: 'first' } });
      await t.inject({ method: 'POST', url: `/api/v1/videos/${id}/views`, payload: { session_id: await t.startPlayback(id), watched_seconds: 1, position_seconds: 1 } });
      // Each waits on the read model that answers the client's next read.
      assert.deepEqual(calls.map((c) => [c.url, c.readModel]), [
        ['POST /api/v1/users', 'user-accounts'],
        ['POST /api/v1/uploads', 'video-detail'],
        ['POST /api/v1/uploads/:upload_id/complete', 'video-detail'],
        ['PATCH /api/v1/videos/:id', 'video-detail'],
        ['POST /api/v1/videos/:id/comments', 'comments'],
      ]);
      const log = await t.world.events();
      const comment = log.find((x) => x.event.type === 'CommentPosted');
      assert.deepEqual(calls.at(-1)!.positions, [comment!.position]);
    } finally {
      await t.close();
    }
  });
});
