/**
 * `streamwave storyboards backfill` over a standalone data dir (embedded log, keys and objects) in
 * which a video was published without a storyboard: the first run makes it, the second finds
 * nothing to do.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCommandBus } from '../../commands/command-handler.ts';
import type { Command } from '../../commands/command-bus.port.ts';
import { dataKeysOver } from '../../deploy/shared/data-keys.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import { createEmbeddedEventLog } from '../../platform/log/embedded/embedded-event-log.adapter.ts';
import { createEmbeddedObjectStore } from '../../platform/object-store/embedded/embedded-object-store.adapter.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';
import { makeClip } from '../../test/support/make-media.ts';
import { ffmpegMissing, requirement } from '../../test/support/requirements.ts';
import { backfillStoryboardsOffline } from './storyboards.command.ts';

const skip = requirement('FFmpeg', await ffmpegMissing());

/** A stopped standalone server's data dir holding one published video (`v1`, a 2 s clip) without a storyboard. */
async function dataDirWithPublishedVideo(dir: string): Promise<void> {
  const objects = createEmbeddedObjectStore({
    dir: join(dir, 'objects'), publicBaseUrl: 'http://127.0.0.1',
    s3: { endpointPath: '/s3', bucket: 'streamwave', region: 'us-east-1', accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await objects.putFile('uploads/v1', await makeClip(join(dir, 'clip.mp4'), { seconds: 2, width: 320, height: 180, fps: 10, audio: false }), 'video/mp4');
  const log = await createEmbeddedEventLog({ dataDir: dir });
  const registry = createSchemaRegistry({ log });
  const dataKeys = await createEmbeddedDataKeyStore({ dir: join(dir, 'keys') });
  try {
    await registry.start();
    const codec = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry), personalData: dataKeysOver(dataKeys).personalData });
    await codec.registerAll();
    const bus = createCommandBus({ log, codec });
    await bus.start();
    const rendition = { name: '180p', width: 320, height: 180, bandwidth: 400_000, codecs: 'avc1.64000d', playlist: '180p/index.m3u8' };
    const metadata = { now: 1_700_000_000_000, actorId: 'u1' };
    const commands = [
      { type: 'StartUpload', data: { videoId: 'v1', ownerId: 'u1', uploadId: 'up1', objectKey: 'uploads/v1', filename: 'clip.mp4', sizeBytes: 1, contentType: 'video/mp4', title: 'A clip', description: '', tags: [], partSizeBytes: 5 << 20 } },
      { type: 'CompleteUpload', data: { videoId: 'v1', uploadId: 'up1', sizeBytes: 1 } },
      { type: 'StartProcessing', data: { videoId: 'v1', ladder: [rendition], durationSeconds: 2 } },
      { type: 'RecordRenditionEncoded', data: { videoId: 'v1', rendition } },
      { type: 'PublishVideo', data: { videoId: 'v1', masterPlaylistKey: 'videos/v1/hls/master.m3u8', thumbnailKey: 'videos/v1/thumbnail.jpg', durationSeconds: 2 } },
    ];
    for (const c of commands) await bus.send({ ...c, metadata } as Command);
  } finally {
    await registry.stop();
    await log.close();
    await dataKeys.close();
  }
}

describe('streamwave storyboards backfill', { skip }, () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sw-storyboards-cli-'));
    await dataDirWithPublishedVideo(dir);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('given a published video without a storyboard, when run twice, then the first run makes it (exit 0) and the second has nothing to do', async (t) => {
    const lines: string[] = [];
    t.mock.method(console, 'log', (line: string) => { lines.push(line); });
    assert.equal(await backfillStoryboardsOffline(dir), 0);
    assert.match(lines.at(-1)!, /^storyboards: 1 videos without one; 1 generated/);
    const objects = createEmbeddedObjectStore({
      dir: join(dir, 'objects'), publicBaseUrl: 'http://127.0.0.1',
      s3: { endpointPath: '/s3', bucket: 'streamwave', region: 'us-east-1', accessKeyId: 'test', secretAccessKey: 'test' },
    });
    assert.equal(await objects.exists('videos/v1/storyboard/storyboard.vtt'), true);
    assert.equal(await objects.exists('videos/v1/storyboard/sprite-1.jpg'), true);
    assert.equal(await backfillStoryboardsOffline(dir), 0);
    assert.match(lines.at(-1)!, /^storyboards: 0 videos without one/);
  });
});
