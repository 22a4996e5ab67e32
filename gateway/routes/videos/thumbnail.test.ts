/**
 * Custom thumbnails through the gateway (PUT /videos/{id}/thumbnail, issue 15) on the real wiring
 * with the real FFmpeg encoder, and media delivery mounted at /media as in captions.test.ts, so
 * the thumbnail's visibility and cache rules are checked too. The images are made by FFmpeg here.
 * An encoder out of memory is an FFmpeg wrapper script, as processors/transcoder/transcoder-limits.test.ts
 * simulates the prlimit cap.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageSize } from 'image-size';
import { THUMBNAIL_MAX_BYTES } from '../../../domain/video/thumbnails.ts';
import { createMediaUrlSigning } from '../../../platform/object-store/http/media-url-signing.ts';
import { mediaPlugin } from '../../../platform/object-store/http/media.plugin.ts';
import { createFfmpegThumbnailEncoder } from '../../../processors/thumbnails/ffmpeg-thumbnail-encoder.ts';
import { resolveFfmpegBinaries } from '../../../processors/transcoder/ffmpeg-binaries.ts';
import { DEFAULT_TRANSCODE_MEMORY_LIMIT_BYTES } from '../../../processors/transcoder/media-limits.ts';
import { videoMediaAccess } from '../../../projections/video-detail/video-media-access.ts';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

const { ffmpeg } = resolveFfmpegBinaries();
const dir = mkdtempSync(join(tmpdir(), 'thumbnail-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * An image FFmpeg makes: one frame of a solid `color`, `size` (WxH), in the format `file`'s extension
 * names (scaled to the size: the color source rounds odd widths down).
 */
function image(file: string, size: string, color = 'red'): Buffer {
  const path = join(dir, file);
  const scale = `scale=${size.replace('x', ':')}${file.endsWith('.png') ? ',format=rgb24' : ''}`;
  execFileSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `color=${color}:s=64x64`, '-vf', scale, '-frames:v', '1', '-y', path]);
  return readFileSync(path);
}

describe('custom thumbnails', () => {
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
    t = await createTestGateway({}, {
      mediaUrls: signing,
      thumbnailEncoder: createFfmpegThumbnailEncoder({ ffmpegPath: ffmpeg, workDir: dir, memoryLimitBytes: DEFAULT_TRANSCODE_MEMORY_LIMIT_BYTES }),
      plugins: [{ plugin: mediaPlugin, prefix: '/media', options: { store, access, signing } }],
    });
    late = t;
    alice = await t.signUp('alice');
    mallory = await t.signUp('mallory');
  });
  after(async () => {
    await t.close();
  });

  const put = (id: string, body: Buffer | string, contentType: string, token: string | null = alice.token) =>
    t.inject({ method: 'PUT', url: `/api/v1/videos/${id}/thumbnail`, ...(token && { token }), headers: { 'content-type': contentType }, payload: body });
  const refused = async (res: Awaited<ReturnType<typeof put>>, status: number, code: string) => {
    assert.equal(res.statusCode, status, res.body);
    assert.equal(res.json().code, code, res.body);
  };
  const detail = async (id: string, token?: string) => (await t.inject({ method: 'GET', url: `/api/v1/videos/${id}`, ...(token && { token }) })).json();
  /** Every stored object's bytes, by key. */
  async function storedObjects(): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    const { objects } = await t.world.objectStore.listObjects('', undefined, 10_000);
    for (const o of objects) {
      const got = await t.world.objectStore.getObject(o.key);
      const chunks: Buffer[] = [];
      for await (const c of got!.body) chunks.push(c as Buffer);
      out.set(o.key, Buffer.concat(chunks));
    }
    return out;
  }

  for (const [file, contentType, size] of [['in.png', 'image/png', '640x360'], ['in.jpg', 'image/jpeg', '2000x1000'], ['in.webp', 'image/webp', '320x240']] as const) {
    test(`given a published video, when its owner PUTs a ${contentType} ${size}, then thumbnail_url serves a re-encoded JPEG (not the uploaded bytes), immutable, at most 1280 px wide`, async () => {
      const id = await t.uploadVideo(alice.token, { publish: true });
      const generated = (await detail(id)).thumbnail_url as string;
      const upload = image(file, size);
      const res = await put(id, upload, contentType);
      assert.equal(res.statusCode, 200, res.body);
      const url = res.json().thumbnail_url as string;
      assert.notEqual(url, generated);
      const path = new URL(url).pathname;
      assert.match(path, new RegExp(`^/media/videos/${id}/thumbnail-[0-9a-f]{16}\\.jpg$`));
      assert.equal((await detail(id)).thumbnail_url, url, 'the next read shows it too');
      const served = await t.inject({ method: 'GET', url: path });
      assert.equal(served.statusCode, 200);
      assert.equal(served.headers['content-type'], 'image/jpeg');
      assert.match(String(served.headers['cache-control']), /^public, .*immutable/);
      assert.deepEqual([...served.rawPayload.subarray(0, 3)], [0xff, 0xd8, 0xff], 'a JPEG');
      assert.notDeepEqual(served.rawPayload, upload, 'never the uploaded bytes');
      const [w, h] = size.split('x').map(Number) as [number, number];
      const out = imageSize(served.rawPayload);
      assert.equal(out.width, Math.min(w, 1280));
      assert.equal(out.height, w > 1280 ? Math.round((h * 1280) / w) : h);
      const events = (await t.world.events()).filter((x) => x.event.type === 'CustomThumbnailSet' && x.event.data.videoId === id);
      assert.equal(events.length, 1);
      // The uploaded bytes are stored nowhere, so no URL can reach them.
      for (const [key, bytes] of await storedObjects()) assert.ok(!bytes.equals(upload), `the upload is stored at ${key}`);
    });
  }

  test('given a custom thumbnail, when the same image is PUT again, then no second event; a new image gets a new URL and the replaced file is removed', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true });
    const first = (await put(id, image('a.png', '64x64', 'blue'), 'image/png')).json().thumbnail_url;
    assert.equal((await put(id, image('a.png', '64x64', 'blue'), 'image/png')).json().thumbnail_url, first);
    const second = (await put(id, image('b.png', '64x64', 'green'), 'image/png')).json().thumbnail_url;
    assert.notEqual(second, first);
    assert.equal((await t.inject({ method: 'GET', url: new URL(first).pathname })).statusCode, 404, 'the replaced one is removed');
    assert.equal((await t.inject({ method: 'GET', url: new URL(second).pathname })).statusCode, 200);
    assert.equal((await t.world.events()).filter((x) => x.event.type === 'CustomThumbnailSet' && x.event.data.videoId === id).length, 2);
  });

  test('given a video still processing, when its owner sets a thumbnail and the video is then published, then the custom one stays', async () => {
    const id = await t.uploadVideo(alice.token);
    const res = await put(id, image('early.png', '100x100'), 'image/png');
    assert.equal(res.statusCode, 200, res.body);
    const custom = new URL(res.json().thumbnail_url).pathname.replace(/^\/media\/signed\/[^/]+\//, '/media/');
    assert.match(custom, new RegExp(`^/media/videos/${id}/thumbnail-[0-9a-f]{16}\\.jpg$`));
    await t.world.publish(id);
    const after = await detail(id);
    assert.equal(after.status, 'ready');
    assert.equal(new URL(after.thumbnail_url).pathname, custom);
  });

  test('401 without a token, 404 for an unknown or unseen video, 403 NOT_OWNER for another user; nothing recorded', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true });
    const png = image('ok.png', '32x32');
    assert.equal((await put(id, png, 'image/png', null)).statusCode, 401);
    await refused(await put('vid_nope', png, 'image/png'), 404, 'VIDEO_NOT_FOUND');
    await refused(await put(id, png, 'image/png', mallory.token), 403, 'NOT_OWNER');
    const hidden = await t.uploadVideo(alice.token);
    await refused(await put(hidden, png, 'image/png', mallory.token), 404, 'VIDEO_NOT_FOUND');
    assert.equal((await t.world.events()).filter((x) => x.event.type === 'CustomThumbnailSet' && x.event.data.videoId === id).length, 0);
  });

  test('bad input is a 4xx with a stable code: too large, too many pixels, garbage, GIF, mislabelled, undecodable, not an image', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true });
    const before = (await detail(id)).thumbnail_url;
    await refused(await put(id, Buffer.alloc(THUMBNAIL_MAX_BYTES + 1, 0x61), 'image/png'), 413, 'PAYLOAD_TOO_LARGE');
    const wide = await put(id, image('wide.png', '4097x10'), 'image/png');
    await refused(wide, 400, 'INVALID_THUMBNAIL');
    assert.match(wide.json().message, /4097×10 px is larger than 4096×4096 px/);
    await refused(await put(id, image('tall.jpg', '16x4097'), 'image/jpeg'), 400, 'INVALID_THUMBNAIL');
    await refused(await put(id, Buffer.from('this is not an image at all'), 'image/png'), 400, 'INVALID_THUMBNAIL');
    const gif = await put(id, image('x.gif', '32x32'), 'image/gif');
    await refused(gif, 400, 'INVALID_THUMBNAIL');
    assert.match(gif.json().message, /JPEG, PNG or WebP/);
    await refused(await put(id, image('y.gif', '32x32'), 'image/png'), 400, 'INVALID_THUMBNAIL');
    const mislabelled = await put(id, image('m.png', '32x32'), 'image/jpeg');
    await refused(mislabelled, 400, 'INVALID_THUMBNAIL');
    assert.match(mislabelled.json().message, /bytes are a PNG/);
    // A PNG header with a valid size but no image data: only the decoder can tell.
    const truncated = image('t.png', '64x64').subarray(0, 40);
    await refused(await put(id, truncated, 'image/png'), 400, 'INVALID_THUMBNAIL');
    await refused(await put(id, JSON.stringify({ image: 'x' }), 'application/json'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    assert.equal((await detail(id)).thumbnail_url, before, 'the thumbnail is unchanged');
    assert.equal((await t.world.events()).filter((x) => x.event.type === 'CustomThumbnailSet' && x.event.data.videoId === id).length, 0);
  });

  test('given a private video, when its owner sets a thumbnail, then its URL is signed like the generated one, served private, no-store, and the plain URL is 404', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true });
    await t.inject({ method: 'PATCH', url: `/api/v1/videos/${id}`, token: alice.token, payload: { visibility: 'private' } });
    const generated = new URL((await detail(id, alice.token)).thumbnail_url);
    assert.match(generated.pathname, /^\/media\/signed\/[^/]+\//, 'the generated thumbnail of a private video is signed');
    const res = await put(id, image('p.png', '64x64'), 'image/png');
    assert.equal(res.statusCode, 200, res.body);
    const url = new URL(res.json().thumbnail_url);
    assert.match(url.pathname, new RegExp(`^/media/signed/[^/]+/videos/${id}/thumbnail-[0-9a-f]{16}\\.jpg$`));
    const signed = await t.inject({ method: 'GET', url: url.pathname });
    assert.equal(signed.statusCode, 200);
    assert.equal(signed.headers['cache-control'], 'private, no-store');
    const plain = url.pathname.replace(/^\/media\/signed\/[^/]+\//, '/media/');
    assert.equal((await t.inject({ method: 'GET', url: plain })).statusCode, 404);
  });
});

describe('custom thumbnails when the encoder runs out of memory', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  // FFmpeg as the prlimit cap leaves it while `outOfMemory` exists: an allocation failure; the real FFmpeg otherwise.
  const outOfMemory = join(dir, 'out-of-memory');
  const wrapper = join(dir, 'ffmpeg-capped.sh');
  before(async () => {
    writeFileSync(wrapper, `#!/bin/sh\nif [ -e '${outOfMemory}' ]; then\n  echo "[png @ 0x5555] malloc of size 67108864 failed" >&2\n  echo "Error while decoding stream #0:0: Cannot allocate memory" >&2\n  exit 1\nfi\nexec '${ffmpeg}' "$@"\n`);
    chmodSync(wrapper, 0o755);
    const workDir = mkdtempSync(join(dir, 'work-'));
    t = await createTestGateway({}, { thumbnailEncoder: createFfmpegThumbnailEncoder({ ffmpegPath: wrapper, workDir, memoryLimitBytes: DEFAULT_TRANSCODE_MEMORY_LIMIT_BYTES }) });
    alice = await t.signUp('alice');
  });
  after(async () => {
    await t.close();
  });
  const put = (id: string, body: Buffer) =>
    t.inject({ method: 'PUT', url: `/api/v1/videos/${id}/thumbnail`, token: alice.token, headers: { 'content-type': 'image/png' }, payload: body });

  test('given an encoder that cannot allocate memory, when the owner PUTs a valid PNG, then 503 THUMBNAIL_ENCODER_UNAVAILABLE with Retry-After and nothing recorded; once memory is back, a corrupt image is still 400 INVALID_THUMBNAIL and the same PNG is 200', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true });
    const png = image('oom.png', '64x64', 'yellow');
    writeFileSync(outOfMemory, '');
    const res = await put(id, png);
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json().code, 'THUMBNAIL_ENCODER_UNAVAILABLE');
    assert.doesNotMatch(res.json().message, /malloc|0x5555|\//, 'no FFmpeg diagnostics or server paths in the answer');
    assert.ok(Number(res.headers['retry-after']) > 0, `Retry-After: ${res.headers['retry-after']}`);
    const thumbnailEvents = async () => (await t.world.events()).filter((x) => x.event.type === 'CustomThumbnailSet' && x.event.data.videoId === id).length;
    assert.equal(await thumbnailEvents(), 0);

    unlinkSync(outOfMemory);
    const corrupt = await put(id, image('corrupt.png', '64x64').subarray(0, 40));
    assert.equal(corrupt.statusCode, 400, corrupt.body);
    assert.equal(corrupt.json().code, 'INVALID_THUMBNAIL');
    const retried = await put(id, png);
    assert.equal(retried.statusCode, 200, retried.body);
    assert.equal(await thumbnailEvents(), 1);
  });
});

describe('custom thumbnails in the OpenAPI document', () => {
  test('PUT /api/v1/videos/{id}/thumbnail is documented like captions: bearer, the rules in its description, 200 video detail with the error answers', async () => {
    const t = await createTestGateway();
    try {
      const doc = (await t.inject({ method: 'GET', url: '/docs/json' })).json();
      const op = doc.paths['/api/v1/videos/{id}/thumbnail']?.put;
      assert.ok(op, 'documented');
      assert.deepEqual(op.security, [{ bearerAuth: [] }]);
      assert.match(op.description, /at most 5 MiB and 4096×4096 px/);
      assert.ok(op.responses['200'] && op.responses['4XX'], Object.keys(op.responses).join());
      assert.match(op.responses['503'].description, /THUMBNAIL_ENCODER_UNAVAILABLE/, 'the out-of-memory answer is documented');
      assert.ok(op.responses['503'].headers['retry-after'], 'with its Retry-After');
    } finally {
      await t.close();
    }
  });
});
