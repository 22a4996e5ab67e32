import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { DomainEvent } from '../../domain/events.ts';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import { createEmbeddedObjectStore } from '../../platform/object-store/embedded/embedded-object-store.adapter.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { buildMediaCollector } from './media-collector.processor.ts';

const codec = await sharedAvroTestCodec();
const dir = await mkdtemp(join(tmpdir(), 'sw-collector-'));
after(() => rm(dir, { recursive: true, force: true }));
const s3 = { endpointPath: '/s3', bucket: 'streamwave', region: 'us-east-1', accessKeyId: 'AK', secretAccessKey: 'SK' };

const record = async (e: DomainEvent, offset: number): Promise<LogRecord> => ({
  topic: TOPICS.videos, partition: 0, offset, key: (e.data as { videoId: string }).videoId, headers: {}, timestamp: 0,
  value: await codec.encode(TOPICS.videos, e),
});
const keysOf = (id: string) => [
  `videos/${id}/hls/master.m3u8`, `videos/${id}/hls/360p/index.m3u8`, `videos/${id}/hls/360p/init.mp4`,
  `videos/${id}/hls/360p/seg-00001.m4s`, `videos/${id}/thumbnail.jpg`, `uploads/${id}/source`,
];

test('VideoDeleted: renditions, thumbnail and raw upload removed, other videos kept, CDN purge POSTed; a failed purge is retried', async () => {
  const store = createEmbeddedObjectStore({ dir, publicBaseUrl: 'http://localhost', s3 });
  for (const id of ['gone', 'kept']) for (const k of keysOf(id)) await store.putObject(k, Buffer.from(k), 'application/octet-stream');
  const purges: { url: string; body: unknown }[] = [];
  let purgeStatus = 503;
  const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
    purges.push({ url: String(url), body: JSON.parse(String(init?.body)) });
    return new Response(null, { status: purgeStatus });
  }) as typeof fetch;
  const collector = buildMediaCollector({ codec, objects: store, cdnPurgeUrl: 'http://cdn.example/purge', fetch: fakeFetch });
  const deleted = await record({ type: 'VideoDeleted', data: { videoId: 'gone', deletedBy: 'u1', deletedAt: 1 } }, 7);

  // A CDN answering 503: the handler throws, so the runtime retries (then dead-letters).
  await assert.rejects(collector.handle(deleted), /CDN purge answered 503/);
  purgeStatus = 204;
  await collector.handle(deleted); // the retry: deleting what is gone is a no-op
  for (const k of keysOf('gone')) assert.equal(await store.exists(k), false, k);
  for (const k of keysOf('kept')) assert.equal(await store.exists(k), true, k);
  assert.equal(purges.length, 2);
  assert.deepEqual(purges[1], {
    url: 'http://cdn.example/purge',
    body: { video_id: 'gone', prefix: '/media/videos/gone/', paths: ['/media/videos/gone/hls/master.m3u8', '/media/videos/gone/thumbnail.jpg'] },
  });

  // Other events are ignored.
  await collector.handle(await record({ type: 'VideoMetadataUpdated', data: { videoId: 'kept', title: 'x', updatedBy: 'u1', updatedAt: 2 } }, 8));
  for (const k of keysOf('kept')) assert.equal(await store.exists(k), true, k);
});
