import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createEmbeddedObjectStore, type EmbeddedObjectStore } from '../embedded/embedded-object-store.adapter.ts';
import type { ObjectStore } from '../object-store.port.ts';
import { mediaPlugin } from './media.plugin.ts';

const s3 = { endpointPath: '/s3', bucket: 'streamwave', region: 'us-east-1', accessKeyId: 'AK', secretAccessKey: 'SK' };

/** Only the port's methods: no ranged reads, so the plugin's fallback path is used. */
function portOnly(store: ObjectStore): ObjectStore {
  return {
    createMultipartUpload: store.createMultipartUpload.bind(store),
    presignUploadPart: store.presignUploadPart.bind(store),
    listParts: store.listParts.bind(store),
    completeMultipartUpload: store.completeMultipartUpload.bind(store),
    abortMultipartUpload: store.abortMultipartUpload.bind(store),
    putObject: store.putObject.bind(store),
    putFile: store.putFile.bind(store),
    downloadToFile: store.downloadToFile.bind(store),
    getObject: store.getObject.bind(store),
    exists: store.exists.bind(store),
    publicUrl: store.publicUrl.bind(store),
  };
}

for (const variant of ['ranged store', 'port-only store'] as const) {
  describe(`media plugin (${variant})`, () => {
    let dir: string;
    let store: EmbeddedObjectStore;
    let app: FastifyInstance;
    const segment = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256));

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'streamwave-media-'));
      store = createEmbeddedObjectStore({ dir, publicBaseUrl: 'http://localhost', s3 });
      app = Fastify({ logger: false });
      await app.register(mediaPlugin, { prefix: '/media', store: variant === 'ranged store' ? store : portOnly(store) });
      await app.ready();
      await store.putObject('videos/v1/master.m3u8', Buffer.from('#EXTM3U\n'), 'application/octet-stream');
      await store.putObject('videos/v1/720p/seg-00001.m4s', segment, 'application/octet-stream');
      await store.putObject('videos/v1/720p/init.mp4', Buffer.from('init'), 'application/octet-stream');
      await store.putObject('videos/v1/thumb.jpg', Buffer.from('jpeg'), 'application/octet-stream');
      await store.putObject('videos/v1/notes.txt', Buffer.from('hi'), 'text/plain');
      await store.putObject('videos/v1/720p/rendition.json', Buffer.from('{"ffmpeg":"/srv/streamwave/tmp/x"}'), 'application/json');
      await store.putObject('videos/v1/page.html', Buffer.from('<script>alert(1)</script>'), 'text/html');
      await store.putObject('uploads/u1/source', Buffer.from('raw upload'), 'video/mp4');
    });
    after(async () => {
      await app?.close();
      await rm(dir, { recursive: true, force: true });
    });

    const cases = [
      { key: 'videos/v1/master.m3u8', type: 'application/vnd.apple.mpegurl', cache: 'public, max-age=2' },
      { key: 'videos/v1/720p/seg-00001.m4s', type: 'video/iso.segment', cache: 'public, max-age=31536000, immutable' },
      { key: 'videos/v1/720p/init.mp4', type: 'video/mp4', cache: 'public, max-age=31536000, immutable' },
      { key: 'videos/v1/thumb.jpg', type: 'image/jpeg', cache: 'public, max-age=31536000, immutable' },
    ];
    for (const c of cases) {
      test(`${c.key}: ${c.type}, ${c.cache}, CORS`, async () => {
        const res = await app.inject({ method: 'GET', url: `/media/${c.key}` });
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['content-type'], c.type);
        assert.equal(res.headers['cache-control'], c.cache);
        assert.equal(res.headers['access-control-allow-origin'], '*');
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
        const stored = await store.getObject(c.key);
        assert.ok(stored);
        assert.equal(res.headers['content-length'], String(stored.size));
        stored.body.destroy();
      });
    }

    test('the body is the stored object', async () => {
      const seg = await app.inject({ method: 'GET', url: '/media/videos/v1/720p/seg-00001.m4s' });
      assert.deepEqual(seg.rawPayload, segment);
    });

    test('issue 8: rendition.json and any non-player file under a public prefix → 404 (stored, but never served)', async () => {
      for (const key of ['videos/v1/720p/rendition.json', 'videos/v1/notes.txt', 'videos/v1/page.html']) {
        assert.ok(await store.exists(key), key);
        for (const range of [undefined, 'bytes=0-3']) {
          const res = await app.inject({ method: 'GET', url: `/media/${key}`, headers: range ? { range } : {} });
          assert.equal(res.statusCode, 404, key);
          assert.equal(res.json().code, 'NOT_FOUND', key);
          assert.doesNotMatch(res.body, /srv|script/);
        }
      }
    });

    test('raw uploads, missing keys and traversal attempts → 404 {code: NOT_FOUND}', async () => {
      for (const url of ['/media/uploads/u1/source', '/media/videos/v1/none.m4s', '/media/videos/../uploads/u1/source', '/media/videos//x']) {
        const res = await app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 404, url);
        assert.equal(res.json().code, 'NOT_FOUND', url);
      }
    });

    test('Range: 206 with Content-Range, suffix ranges, 416 past the end', async () => {
      const res = await app.inject({ method: 'GET', url: '/media/videos/v1/720p/seg-00001.m4s', headers: { range: 'bytes=100-199' } });
      assert.equal(res.statusCode, 206);
      assert.equal(res.headers['content-range'], `bytes 100-199/${segment.length}`);
      assert.deepEqual(res.rawPayload, segment.subarray(100, 200));
      const suffix = await app.inject({ method: 'GET', url: '/media/videos/v1/720p/seg-00001.m4s', headers: { range: 'bytes=-10' } });
      assert.equal(suffix.statusCode, 206);
      assert.deepEqual(suffix.rawPayload, segment.subarray(segment.length - 10));
      const past = await app.inject({ method: 'GET', url: '/media/videos/v1/720p/seg-00001.m4s', headers: { range: `bytes=${segment.length}-` } });
      assert.equal(past.statusCode, 416);
      assert.equal(past.headers['content-range'], `bytes */${segment.length}`);
    });

    test('CORS preflight for Range requests', async () => {
      const res = await app.inject({
        method: 'OPTIONS',
        url: '/media/videos/v1/720p/seg-00001.m4s',
        headers: { origin: 'http://player.test', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' },
      });
      assert.equal(res.statusCode, 204);
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.match(String(res.headers['access-control-allow-headers']), /range/i);
    });
  });
}
