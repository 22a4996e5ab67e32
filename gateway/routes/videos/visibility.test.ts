/**
 * Visibility and deletion through the gateway (issue 8, finding 5), on the real wiring with media
 * delivery mounted at /media (the media plugin with the video-detail access lookup and signing):
 * private: owner only, media through signed URLs, never cached publicly; unlisted: playable by
 * link, absent from search; deleted: media 404 at once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createMediaUrlSigning } from '../../../platform/object-store/http/media-url-signing.ts';
import { mediaPlugin } from '../../../platform/object-store/http/media.plugin.ts';
import { videoMediaAccess } from '../../../projections/video-detail/video-media-access.ts';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

describe('video visibility', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  let mallory: { id: string; token: string };
  const signing = createMediaUrlSigning({ secret: 'media-url-test-secret', ttlSeconds: 600 });
  before(async () => {
    let late: TestGateway | undefined;
    const access = (videoId: string) => videoMediaAccess(late!.world.readModels['video-detail'])(videoId);
    // The world (and its object store) is built inside createTestGateway: reach it late.
    const store = new Proxy({}, { get: (_target, p) => {
      const s = late!.world.objectStore as unknown as Record<string | symbol, unknown>;
      const v = s[p];
      return typeof v === 'function' ? v.bind(s) : v;
    } });
    t = await createTestGateway({}, {
      mediaUrls: signing,
      plugins: [{ plugin: mediaPlugin, prefix: '/media', options: { store, access, signing } }],
    });
    late = t;
    alice = await t.signUp('alice');
    mallory = await t.signUp('mallory');
  });
  after(() => t.close());

  /** Puts playable media at the keys the transcoder writes (videos/<id>/…) and returns their paths under /media. */
  async function writeMedia(id: string): Promise<string[]> {
    const keys = [`videos/${id}/hls/master.m3u8`, `videos/${id}/hls/360p/index.m3u8`, `videos/${id}/hls/360p/seg-00001.m4s`, `videos/${id}/thumbnail.jpg`];
    for (const k of keys) await t.world.objectStore.putObject(k, Buffer.from(k), 'application/octet-stream');
    return keys;
  }

  const seen = async (url: string, token?: string) => (await t.inject({ method: 'GET', url, ...(token && { token }) })).statusCode;

  test('upload with visibility private: detail, status, stream and comments are 404 to others and anonymous; the owner sees it', async () => {
    const started = await t.startUpload(alice.token, 1000, { visibility: 'private' });
    const id = started.video_id;
    const etag = await t.world.uploadPart(started.upload_id, 1, Buffer.alloc(1000, 7));
    const done = await t.inject({ method: 'POST', url: `/api/v1/uploads/${started.upload_id}/complete`, token: alice.token, payload: { parts: [{ part_number: 1, etag }] } });
    assert.equal(done.statusCode, 202);
    await t.world.publish(id);
    for (const url of [`/api/v1/videos/${id}`, `/api/v1/videos/${id}/status`, `/api/v1/videos/${id}/stream`, `/api/v1/videos/${id}/comments`]) {
      assert.equal(await seen(url), 404, `anonymous ${url}`);
      assert.equal(await seen(url, mallory.token), 404, `another user ${url}`);
    }
    const own = await t.inject({ method: 'GET', url: `/api/v1/videos/${id}`, token: alice.token });
    assert.equal(own.statusCode, 200);
    assert.equal(own.json().visibility, 'private');
    assert.match(own.json().thumbnail_url, /\/media\/signed\/\d+\.[A-Za-z0-9_-]{43}\//, 'the owner gets a signed thumbnail URL');
  });

  test('private media: 404 at plain URLs, 200 through the signed manifest URL with private, no-store', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true });
    const keys = await writeMedia(id);
    const patch = await t.inject({ method: 'PATCH', url: `/api/v1/videos/${id}`, token: alice.token, payload: { visibility: 'private' } });
    assert.equal(patch.statusCode, 200);
    assert.equal(patch.json().visibility, 'private');
    for (const k of keys) assert.equal(await seen(`/media/${k}`), 404, `plain ${k}`);
    const stream = await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/stream`, token: alice.token });
    assert.equal(stream.statusCode, 200);
    const manifest = new URL(stream.json().manifest_url);
    assert.match(manifest.pathname, /^\/media\/signed\/[^/]+\//);
    // The test world publishes `hls/<id>/master.m3u8`; the transcoder writes under videos/<id>/: play those under the same signed prefix.
    const signedPrefix = manifest.pathname.split('/').slice(0, 4).join('/');
    for (const k of keys) {
      const res = await t.inject({ method: 'GET', url: `${signedPrefix}/${k}` });
      assert.equal(res.statusCode, 200, `signed ${k}`);
      assert.equal(res.headers['cache-control'], 'private, no-store', k);
      assert.ok(!/public|immutable/.test(String(res.headers['cache-control'])));
    }
    // Made public again: plain URLs play, cacheable.
    await t.inject({ method: 'PATCH', url: `/api/v1/videos/${id}`, token: alice.token, payload: { visibility: 'public' } });
    const seg = await t.inject({ method: 'GET', url: `/media/${keys[2]}` });
    assert.equal(seg.statusCode, 200);
    assert.match(String(seg.headers['cache-control']), /^public/);
  });

  test('unlisted: playable by link by anyone, absent from search', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true, title: 'Quokka unlisted' });
    const pub = await t.uploadVideo(alice.token, { publish: true, title: 'Quokka public' });
    await writeMedia(id);
    await t.inject({ method: 'PATCH', url: `/api/v1/videos/${id}`, token: alice.token, payload: { visibility: 'unlisted' } });
    await t.world.settle();
    assert.equal(await seen(`/api/v1/videos/${id}`), 200);
    assert.equal(await seen(`/api/v1/videos/${id}/stream`, mallory.token), 200);
    assert.equal(await seen(`/media/videos/${id}/hls/360p/seg-00001.m4s`), 200);
    const hits = (await t.inject({ method: 'GET', url: '/api/v1/search/videos?q=quokka' })).json().videos.map((v: { id: string }) => v.id);
    assert.deepEqual(hits, [pub]);
  });

  test('storyboard_url: null until StoryboardGenerated, then a plain URL while public and a signed one once private; its sprites resolve next to it', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true });
    assert.equal((await t.inject({ method: 'GET', url: `/api/v1/videos/${id}` })).json().storyboard_url, null);
    const vtt = `videos/${id}/storyboard/storyboard.vtt`;
    const sprite = `videos/${id}/storyboard/sprite-1.jpg`;
    await t.world.objectStore.putObject(vtt, Buffer.from('WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nsprite-1.jpg#xywh=0,0,160,90\n'), 'text/vtt');
    await t.world.objectStore.putObject(sprite, Buffer.from('jpeg'), 'image/jpeg');
    const data = { videoId: id, storyboardKey: vtt, intervalSeconds: 1, tiles: 1, tileWidth: 160, tileHeight: 90 };
    await t.world.commandBus.send({ type: 'RecordStoryboard', data, metadata: { now: Date.now() } });
    await t.world.settle();
    const pub = (await t.inject({ method: 'GET', url: `/api/v1/videos/${id}` })).json().storyboard_url as string;
    assert.equal(new URL(pub).pathname, `/media/${vtt}`);
    assert.equal(await seen(`/media/${sprite}`), 200);
    await t.inject({ method: 'PATCH', url: `/api/v1/videos/${id}`, token: alice.token, payload: { visibility: 'private' } });
    await t.world.settle();
    assert.equal(await seen(`/media/${vtt}`), 404, 'plain URLs of a private video');
    const signed = new URL((await t.inject({ method: 'GET', url: `/api/v1/videos/${id}`, token: alice.token })).json().storyboard_url);
    assert.match(signed.pathname, /^\/media\/signed\/[^/]+\/videos\//);
    const res = await t.inject({ method: 'GET', url: new URL('sprite-1.jpg', signed).pathname });
    assert.equal(res.statusCode, 200, 'a cue\'s relative sprite URL under the signed prefix');
    assert.equal(res.headers['cache-control'], 'private, no-store');
  });

  test('DELETE: playlists, segments and thumbnail answer 404 right after the 204', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true });
    const keys = await writeMedia(id);
    for (const k of keys) assert.equal(await seen(`/media/${k}`), 200, `before ${k}`);
    const signedBefore = signing.signedKeyPath(id, keys[0]!);
    const del = await t.inject({ method: 'DELETE', url: `/api/v1/videos/${id}`, token: alice.token });
    assert.equal(del.statusCode, 204);
    for (const k of keys) assert.equal(await seen(`/media/${k}`), 404, `after ${k}`);
    assert.equal(await seen(`/media/${signedBefore}`), 404, 'a signed URL issued before the delete');
  });
});
