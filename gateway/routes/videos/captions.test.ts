/**
 * Captions through the gateway (PUT/DELETE /videos/{id}/captions/{language}) on the real wiring,
 * with media delivery mounted at /media as in visibility.test.ts, so the caption files' visibility
 * and cache rules are checked too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CAPTIONS_MAX_BYTES } from '../../../domain/video/captions.ts';
import { createMediaUrlSigning } from '../../../platform/object-store/http/media-url-signing.ts';
import { mediaPlugin } from '../../../platform/object-store/http/media.plugin.ts';
import { videoMediaAccess } from '../../../projections/video-detail/video-media-access.ts';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

const VTT = 'WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nHello\n\n00:00:02.500 --> 00:00:04.000\nWorld\n';

describe('captions', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  let mallory: { id: string; token: string };
  const signing = createMediaUrlSigning({ secret: 'media-url-test-secret', ttlSeconds: 600 });
  before(async () => {
    let late: TestGateway | undefined;
    const access = (videoId: string) => videoMediaAccess(late!.world.readModels['video-detail'])(videoId);
    const store = new Proxy({}, { get: (_target, p) => {
      const s = late!.world.objectStore as unknown as Record<string | symbol, unknown>;
      const v = s[p];
      return typeof v === 'function' ? v.bind(s) : v;
    } });
    t = await createTestGateway({}, { mediaUrls: signing, plugins: [{ plugin: mediaPlugin, prefix: '/media', options: { store, access, signing } }] });
    late = t;
    alice = await t.signUp('alice');
    mallory = await t.signUp('mallory');
  });
  after(() => t.close());

  /** A published video whose processing completed (what captions need), owned by alice. */
  async function completedVideo(): Promise<string> {
    const id = await t.uploadVideo(alice.token, { publish: true });
    await t.world.commandBus.send({ type: 'CompleteProcessing', data: { videoId: id, renditions: ['360p'], omitted: [] }, metadata: { now: Date.now() } });
    await t.world.settle();
    return id;
  }
  const put = (id: string, language: string, body: string | Buffer = VTT, token: string | null = alice.token, contentType = 'text/vtt') =>
    t.inject({ method: 'PUT', url: `/api/v1/videos/${id}/captions/${language}`, ...(token && { token }), headers: { 'content-type': contentType }, payload: body });
  const refused = async (res: Awaited<ReturnType<typeof put>>, status: number, code: string) => {
    assert.equal(res.statusCode, status, res.body);
    assert.equal(res.json().code, code);
  };

  test('PUT by the owner stores the file, records CaptionsPublished and answers the detail with the captions; the file is served as text/vtt, immutable', async () => {
    const id = await completedVideo();
    const res = await put(id, 'en-us', VTT, alice.token, 'text/vtt; charset=utf-8');
    assert.equal(res.statusCode, 200, res.body);
    const captions = res.json().captions as { language: string; url: string }[];
    assert.equal(captions.length, 1);
    assert.equal(captions[0]!.language, 'en-US');
    const path = new URL(captions[0]!.url).pathname;
    assert.match(path, new RegExp(`^/media/videos/${id}/hls/captions/en-US\\.[0-9a-f]{16}\\.vtt$`));
    const file = await t.inject({ method: 'GET', url: path });
    assert.equal(file.statusCode, 200);
    assert.equal(file.body, VTT);
    assert.equal(file.headers['content-type'], 'text/vtt');
    assert.match(String(file.headers['cache-control']), /^public, .*immutable/);
    assert.deepEqual((await t.inject({ method: 'GET', url: `/api/v1/videos/${id}` })).json().captions, captions);
    // The same file again: no second event; a second language is listed in language order.
    assert.equal((await put(id, 'en-US')).statusCode, 200);
    assert.equal((await put(id, 'de')).statusCode, 200);
    const events = (await t.world.events()).filter((x) => x.event.type === 'CaptionsPublished' && x.event.data.videoId === id);
    assert.equal(events.length, 2);
    const detail = (await t.inject({ method: 'GET', url: `/api/v1/videos/${id}` })).json();
    assert.deepEqual(detail.captions.map((c: { language: string }) => c.language), ['de', 'en-US']);
  });

  /** Keys of the caption files stored for video `id`. */
  const captionFiles = async (id: string) => (await t.world.objectStore.listObjects(`videos/${id}/hls/captions/`, undefined, 1000)).objects.map((o) => o.key).filter((k) => k.endsWith('.vtt'));

  test('DELETE by the owner → 204, the detail no longer lists the language and its file is gone; again → 204', async () => {
    const id = await completedVideo();
    assert.equal((await put(id, 'fr')).statusCode, 200);
    const url = new URL((await t.inject({ method: 'GET', url: `/api/v1/videos/${id}` })).json().captions[0].url).pathname;
    assert.equal((await captionFiles(id)).length, 1);
    const del = await t.inject({ method: 'DELETE', url: `/api/v1/videos/${id}/captions/fr`, token: alice.token });
    assert.equal(del.statusCode, 204);
    assert.deepEqual((await t.inject({ method: 'GET', url: `/api/v1/videos/${id}` })).json().captions, []);
    assert.deepEqual(await captionFiles(id), [], 'the removed file is deleted');
    assert.equal((await t.inject({ method: 'GET', url })).statusCode, 404, 'and no longer served');
    assert.equal((await t.inject({ method: 'DELETE', url: `/api/v1/videos/${id}/captions/fr`, token: alice.token })).statusCode, 204);
    await refused(await t.inject({ method: 'DELETE', url: `/api/v1/videos/${id}/captions/fr`, token: mallory.token }), 403, 'NOT_OWNER');
  });

  test('given captions of a language replaced by another file, when the owner removes the language, then the current file is deleted and the earlier one, which players may hold, stays', async () => {
    const id = await completedVideo();
    assert.equal((await put(id, 'es')).statusCode, 200);
    const [first] = await captionFiles(id);
    const res = await put(id, 'es', VTT.replace('Hello', 'Hola'));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await captionFiles(id)).length, 2, 'a replaced file stays: a player that loaded its playlist keeps its URI');
    assert.equal((await t.inject({ method: 'DELETE', url: `/api/v1/videos/${id}/captions/es`, token: alice.token })).statusCode, 204);
    assert.deepEqual(await captionFiles(id), [first]);
  });

  test('401 without a token, 404 for an unknown or unseen video, 403 NOT_OWNER for another user; nothing recorded', async () => {
    const id = await completedVideo();
    assert.equal((await put(id, 'en', VTT, null)).statusCode, 401);
    await refused(await put('vid_nope', 'en'), 404, 'VIDEO_NOT_FOUND');
    await refused(await put(id, 'en', VTT, mallory.token), 403, 'NOT_OWNER');
    const hidden = await t.uploadVideo(alice.token);
    await refused(await put(hidden, 'en', VTT, mallory.token), 404, 'VIDEO_NOT_FOUND');
    assert.equal((await t.world.events()).filter((x) => x.event.type === 'CaptionsPublished' && x.event.data.videoId === id).length, 0);
  });

  test('bad input is a 4xx with a stable code: language, signature, timings, encoding, size, content type', async () => {
    const id = await completedVideo();
    for (const language of ['english', 'en_US', 'x-private', 'en..us', 'en%20US', 'a'.repeat(40)]) await refused(await put(id, language), 400, 'INVALID_LANGUAGE');
    await refused(await put(id, 'en', '1\n00:00:00,000 --> 00:00:01,000\nSRT, not WebVTT\n'), 400, 'INVALID_CAPTIONS');
    await refused(await put(id, 'en', ''), 400, 'INVALID_CAPTIONS');
    await refused(await put(id, 'en', 'WEBVTT\n\n00:00:00.000 --> 0:01.000\nx\n'), 400, 'INVALID_CAPTIONS');
    const backwards = await put(id, 'en', 'WEBVTT\n\n00:00:03.000 --> 00:00:01.000\nx\n');
    await refused(backwards, 400, 'INVALID_CAPTIONS');
    assert.match(backwards.json().message, /line 3: the cue ends before it starts/);
    await refused(await put(id, 'en', Buffer.from([...Buffer.from('WEBVTT\n\n'), 0xc3, 0x28])), 400, 'INVALID_CAPTIONS');
    await refused(await put(id, 'en', Buffer.concat([Buffer.from('WEBVTT\n\n'), Buffer.alloc(CAPTIONS_MAX_BYTES, 0x61)])), 413, 'PAYLOAD_TOO_LARGE');
    await refused(await put(id, 'en', JSON.stringify({ vtt: VTT }), alice.token, 'application/json'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await refused(await put(id, 'en', VTT, alice.token, 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    assert.deepEqual((await t.inject({ method: 'GET', url: `/api/v1/videos/${id}` })).json().captions, []);
  });

  test('409 VIDEO_NOT_READY before the video is published, and while its processing has not completed', async () => {
    const pending = await t.uploadVideo(alice.token);
    await refused(await put(pending, 'en'), 409, 'VIDEO_NOT_READY');
    const published = await t.uploadVideo(alice.token, { publish: true });
    await refused(await put(published, 'en'), 409, 'VIDEO_NOT_READY');
  });

  test('captions of a private video: plain URL 404, the owner gets a signed URL served private, no-store', async () => {
    const id = await completedVideo();
    await t.inject({ method: 'PATCH', url: `/api/v1/videos/${id}`, token: alice.token, payload: { visibility: 'private' } });
    const res = await put(id, 'en');
    assert.equal(res.statusCode, 200, res.body);
    const url = new URL(res.json().captions[0].url);
    assert.match(url.pathname, /^\/media\/signed\/[^/]+\/videos\//);
    const signed = await t.inject({ method: 'GET', url: url.pathname });
    assert.equal(signed.statusCode, 200);
    assert.equal(signed.headers['cache-control'], 'private, no-store');
    const plain = url.pathname.replace(/^\/media\/signed\/[^/]+\//, '/media/');
    assert.equal((await t.inject({ method: 'GET', url: plain })).statusCode, 404);
  });
});
