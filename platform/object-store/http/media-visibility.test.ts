/**
 * Media delivery under visibility and deletion (issue 8, finding 5): a deleted video's playlists,
 * segments and thumbnail answer 404 at once (the tombstone lookup, not the object store), a
 * private video's media is served only through a valid signed URL and never cached publicly.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createEmbeddedObjectStore } from '../embedded/embedded-object-store.adapter.ts';
import { createMediaUrlSigning } from './media-url-signing.ts';
import { mediaPlugin, type MediaAccessLevel } from './media.plugin.ts';

const s3 = { endpointPath: '/s3', bucket: 'streamwave', region: 'us-east-1', accessKeyId: 'AK', secretAccessKey: 'SK' };
const KEYS = ['hls/master.m3u8', 'hls/360p/index.m3u8', 'hls/360p/init.mp4', 'hls/360p/seg-00001.m4s', 'thumbnail.jpg'];

describe('media plugin: visibility and deletion', () => {
  let dir: string;
  let app: FastifyInstance;
  let clock = Date.UTC(2026, 10, 29, 4, 0, 0);
  const levels = new Map<string, MediaAccessLevel>([['pub', 'public'], ['priv', 'signed'], ['del', 'gone']]);
  const signing = createMediaUrlSigning({ secret: 'media-secret', ttlSeconds: 60, now: () => clock });
  const other = createMediaUrlSigning({ secret: 'another-secret', ttlSeconds: 60, now: () => clock });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streamwave-media-vis-'));
    const store = createEmbeddedObjectStore({ dir, publicBaseUrl: 'http://localhost', s3 });
    for (const v of ['pub', 'priv', 'del']) {
      for (const k of KEYS) await store.putObject(`videos/${v}/${k}`, Buffer.from(`${v}:${k}`), 'application/octet-stream');
    }
    app = Fastify({ logger: false });
    await app.register(mediaPlugin, { prefix: '/media', store, signing, access: async (id: string) => levels.get(id) ?? 'gone' });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const get = (url: string) => app.inject({ method: 'GET', url });

  test('a public video is served at plain URLs, cacheable', async () => {
    for (const k of KEYS) {
      const res = await get(`/media/videos/pub/${k}`);
      assert.equal(res.statusCode, 200, k);
      assert.match(String(res.headers['cache-control']), /^public/);
    }
  });

  test('a deleted video: every playlist, segment and the thumbnail are 404, signed or not', async () => {
    for (const k of KEYS) {
      assert.equal((await get(`/media/videos/del/${k}`)).statusCode, 404, k);
      assert.equal((await get(`/media/${signing.signedKeyPath('del', `videos/del/${k}`)}`)).statusCode, 404, `signed ${k}`);
    }
    // Deleting a public video flips its media to 404 on the next request: no cache of the lookup.
    levels.set('pub', 'gone');
    try {
      assert.equal((await get('/media/videos/pub/hls/360p/seg-00001.m4s')).statusCode, 404);
    } finally {
      levels.set('pub', 'public');
    }
  });

  test("a private video: 404 without a signature, with another key's signature, another video's token or an expired one", async () => {
    for (const k of KEYS) assert.equal((await get(`/media/videos/priv/${k}`)).statusCode, 404, k);
    assert.equal((await get(`/media/${other.signedKeyPath('priv', 'videos/priv/hls/master.m3u8')}`)).statusCode, 404, 'wrong secret');
    assert.equal((await get(`/media/signed/${signing.token('pub')}/videos/priv/hls/master.m3u8`)).statusCode, 404, 'token of another video');
    assert.equal((await get('/media/signed/garbage/videos/priv/hls/master.m3u8')).statusCode, 404, 'malformed token');
    const path = signing.signedKeyPath('priv', 'videos/priv/hls/master.m3u8');
    clock += 61_000;
    try {
      assert.equal((await get(`/media/${path}`)).statusCode, 404, 'expired');
    } finally {
      clock -= 61_000;
    }
  });

  test('a private video plays through a signed URL; relative playlist URIs stay under the signed prefix; never cached publicly', async () => {
    const token = signing.token('priv');
    for (const k of KEYS) {
      const res = await get(`/media/signed/${token}/videos/priv/${k}`);
      assert.equal(res.statusCode, 200, k);
      assert.equal(res.body, `priv:${k}`);
      assert.equal(res.headers['cache-control'], 'private, no-store', k);
    }
    const ranged = await app.inject({ method: 'GET', url: `/media/signed/${token}/videos/priv/hls/360p/seg-00001.m4s`, headers: { range: 'bytes=0-3' } });
    assert.equal(ranged.statusCode, 206);
    assert.equal(ranged.headers['cache-control'], 'private, no-store');
  });
});
