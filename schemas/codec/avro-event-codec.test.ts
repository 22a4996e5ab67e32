import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DomainEvent, type DomainEventType } from '../../domain/events.ts';
import { TOPIC_OF } from '../topics.ts';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { CodecError } from '../event-codec.port.ts';
import { createSchemaRegistry } from '../registry/schema-registry.ts';
import { createAvroEventCodec } from './avro-event-codec.ts';
import { SCHEMAS_DIR } from './event-schemas.ts';
import { createInProcessSchemaRegistryApi } from './schema-registry-api.ts';

const t0 = Date.UTC(2024, 4, 17, 9, 30, 12, 345);
const rung = (name: string, width: number, height: number, bandwidth: number) => ({
  name, width, height, bandwidth, codecs: 'avc1.64001f,mp4a.40.2', playlist: `${name}/index.m3u8`,
});

/** One realistic event per type; the Record type makes the compiler demand every type. */
const SAMPLES: { [K in DomainEventType]: Extract<DomainEvent, { type: K }> } = {
  UserRegistered: { type: 'UserRegistered', data: {
    userId: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', username: 'ada', email: 'ada@example.org',
    passwordHash: '$scrypt$ln=15,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo', registeredAt: t0,
  } },
  UserErased: { type: 'UserErased', data: { userId: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', erasedAt: t0 + 90_000 } },
  UploadStarted: { type: 'UploadStarted', data: {
    videoId: '01HXZ8R0000000000000000001', ownerId: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', uploadId: 'up-7f3a',
    objectKey: 'uploads/01HXZ8R0000000000000000001/source.mp4', filename: 'Ünïcode clip (final).mp4',
    sizeBytes: 5_368_709_120, contentType: 'video/mp4', title: 'Sunset over the bay', description: '',
    tags: ['sunset', 'timelapse'], partSizeBytes: 8 * 1024 * 1024, startedAt: t0 + 1, visibility: 'unlisted',
  } },
  UploadCompleted: { type: 'UploadCompleted', data: {
    videoId: '01HXZ8R0000000000000000001', uploadId: 'up-7f3a', objectKey: 'uploads/01HXZ8R0000000000000000001/source.mp4',
    sizeBytes: 5_368_709_119, completedAt: t0 + 60_000,
  } },
  VideoProcessingStarted: { type: 'VideoProcessingStarted', data: {
    videoId: '01HXZ8R0000000000000000001',
    ladder: [rung('240p', 426, 240, 400_000), rung('360p', 640, 360, 800_000), rung('720p', 1280, 720, 2_800_000)],
    durationSeconds: 12.48, startedAt: t0 + 61_000,
  } },
  VideoProcessingProgressed: { type: 'VideoProcessingProgressed', data: {
    videoId: '01HXZ8R0000000000000000001', progress: 42.5, at: t0 + 65_000,
  } },
  RenditionEncoded: { type: 'RenditionEncoded', data: {
    videoId: '01HXZ8R0000000000000000001', rendition: rung('360p', 640, 360, 800_000), at: t0 + 70_000,
  } },
  VideoPublished: { type: 'VideoPublished', data: {
    videoId: '01HXZ8R0000000000000000001', masterPlaylistKey: 'hls/01HXZ8R0000000000000000001/master.m3u8',
    thumbnailKey: 'hls/01HXZ8R0000000000000000001/thumb.jpg', durationSeconds: 12.48, publishedAt: t0 + 71_000,
    renditions: [rung('240p', 426, 240, 400_000), rung('360p', 640, 360, 800_000)],
  } },
  VideoProcessingFailed: { type: 'VideoProcessingFailed', data: {
    videoId: '01HXZ8R0000000000000000002', reason: 'the file has no video stream', code: 'NO_VIDEO_STREAM', failedAt: t0 + 80_000,
  } },
  VideoProcessingCompleted: { type: 'VideoProcessingCompleted', data: {
    videoId: '01HXZ8R0000000000000000001', renditions: ['240p', '360p'],
    omitted: [{ name: '720p', reason: 'Encoding failed while producing renditions 720p (Conversion failed!).' }],
    completedAt: t0 + 85_000, durationSeconds: 11.9,
  } },
  StoryboardGenerated: { type: 'StoryboardGenerated', data: {
    videoId: '01HXZ8R0000000000000000001', storyboardKey: 'videos/01HXZ8R0000000000000000001/storyboard/storyboard.vtt',
    intervalSeconds: 2.5, tiles: 100, tileWidth: 160, tileHeight: 90, generatedAt: t0 + 86_000,
  } },
  VideoMetadataUpdated: { type: 'VideoMetadataUpdated', data: {
    videoId: '01HXZ8R0000000000000000001', title: 'Sunset over the bay (4K)', description: null, tags: [], visibility: 'private',
    updatedBy: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', updatedAt: t0 + 90_000,
  } },
  VideoDeleted: { type: 'VideoDeleted', data: {
    videoId: '01HXZ8R0000000000000000002', deletedBy: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', deletedAt: t0 + 100_000,
  } },
  CaptionsPublished: { type: 'CaptionsPublished', data: {
    videoId: '01HXZ8R0000000000000000001', language: 'pt-BR', key: 'videos/01HXZ8R0000000000000000001/hls/captions/pt-BR.0123456789abcdef.vtt',
    sizeBytes: 2048, durationSeconds: 61.5, publishedBy: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', publishedAt: t0 + 95_000,
  } },
  CaptionsRemoved: { type: 'CaptionsRemoved', data: {
    videoId: '01HXZ8R0000000000000000001', language: 'pt-BR', removedBy: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', removedAt: t0 + 96_000,
  } },
  CustomThumbnailSet: { type: 'CustomThumbnailSet', data: {
    videoId: '01HXZ8R0000000000000000001', key: 'videos/01HXZ8R0000000000000000001/thumbnail-0123456789abcdef.jpg',
    width: 1280, height: 720, sizeBytes: 84_211, setBy: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', setAt: t0 + 97_000,
  } },
  CommentPosted: { type: 'CommentPosted', data: {
    commentId: '01HXZ8S0000000000000000001', videoId: '01HXZ8R0000000000000000001', authorId: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y',
    parentId: null, body: 'Beautiful 🌅 — where is this?', postedAt: t0 + 120_000,
  } },
  VideoViewed: { type: 'VideoViewed', data: {
    videoId: '01HXZ8R0000000000000000001', sessionId: 'sess-1', viewerId: null, watchedSeconds: 10.5,
    positionSeconds: 11.25, videoDurationSeconds: 12.48, viewedAt: t0 + 130_000, sessionStartedAt: t0 + 115_000,
  } },
  VideoLiked: { type: 'VideoLiked', data: { videoId: '01HXZ8R0000000000000000001', userId: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', likedAt: t0 + 140_000 } },
  CommentDeleted: { type: 'CommentDeleted', data: { commentId: '01HXZ8S0000000000000000001', videoId: '01HXZ8R0000000000000000001', deletedBy: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', deletedAt: t0 + 140_000 } },
  VideoUnliked: { type: 'VideoUnliked', data: { videoId: '01HXZ8R0000000000000000001', userId: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', unlikedAt: t0 + 150_000 } },
  ChannelSubscribed: { type: 'ChannelSubscribed', data: { channelId: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', subscriberId: '01HXZ8Q3J5V1QK2M7W9E4R6T8Z', subscribedAt: t0 + 160_000 } },
  ChannelUnsubscribed: { type: 'ChannelUnsubscribed', data: { channelId: '01HXZ8Q3J5V1QK2M7W9E4R6T8Y', subscriberId: '01HXZ8Q3J5V1QK2M7W9E4R6T8Z', unsubscribedAt: t0 + 170_000 } },
  PlaybackStarted: { type: 'PlaybackStarted', data: { videoId: 'vid_1', sessionId: 'ps_1', positionSeconds: 0, at: t0 + 180_000, startupTimeMs: 412.5, renditionHeight: 720 } },
  RenditionSwitched: { type: 'RenditionSwitched', data: { videoId: 'vid_1', sessionId: 'ps_1', positionSeconds: 12.5, at: t0 + 181_000, renditionHeight: 1080 } },
  RebufferStarted: { type: 'RebufferStarted', data: { videoId: 'vid_1', sessionId: 'ps_1', positionSeconds: 30, at: t0 + 182_000 } },
  RebufferEnded: { type: 'RebufferEnded', data: { videoId: 'vid_1', sessionId: 'ps_1', positionSeconds: 30, at: t0 + 183_000, rebufferMs: 1250 } },
  PlaybackFailed: { type: 'PlaybackFailed', data: { videoId: 'vid_1', sessionId: 'ps_1', positionSeconds: 31, at: t0 + 184_000, errorCode: 'MEDIA_ERR_DECODE' } },
  PlaybackEnded: { type: 'PlaybackEnded', data: { videoId: 'vid_1', sessionId: 'ps_1', positionSeconds: 60, at: t0 + 185_000 } },
};

async function setup(schemaDir?: string) {
  const log = createInMemoryEventLog();
  const registry = createSchemaRegistry({ log });
  await registry.start();
  const codec = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry), schemaDir });
  return { log, registry, codec };
}

describe('avro event codec', () => {
  test('every event type round-trips in the Confluent wire format', async () => {
    const { codec, registry } = await setup();
    const ids = await codec.registerAll();
    assert.equal(ids.size, Object.keys(TOPIC_OF).length);
    for (const event of Object.values(SAMPLES) as DomainEvent[]) {
      const topic = TOPIC_OF[event.type];
      const buf = await codec.encode(topic, event);
      assert.equal(buf[0], 0, `${event.type}: magic byte`);
      const id = buf.readUInt32BE(1);
      assert.equal(id, ids.get(event.type), `${event.type}: schema id in header`);
      const subject = `${topic}-io.streamwave.${codec.schemas.get(event.type)!.namespace.split('.').at(-1)}.${event.type}`;
      assert.equal((await registry.getVersion(subject, 'latest')).id, id, `${event.type}: subject ${subject}`);
      assert.deepEqual(await codec.decode(buf), event, `${event.type}: round trip`);
      assert.ok(JSON.parse(await registry.getSchemaById(id)).name.endsWith(`.${event.type}`));
    }
    // Distinct event types never share an id.
    assert.equal(new Set(ids.values()).size, ids.size);
  });

  test('absent optional fields decode as null; present ones keep their value', async () => {
    const { codec } = await setup();
    const e = { type: 'VideoMetadataUpdated', data: { videoId: 'v1', updatedBy: 'u1', updatedAt: t0 } } as DomainEvent;
    const decoded = await codec.decode(await codec.encode(TOPIC_OF.VideoMetadataUpdated, e));
    assert.deepEqual(decoded.data, { videoId: 'v1', title: null, description: null, tags: null, visibility: null, updatedBy: 'u1', updatedAt: t0 });
    // UploadStarted written without a visibility (as before issue 8) reads as public.
    const { visibility: _v, ...before } = SAMPLES.UploadStarted.data;
    const started = await codec.decode(await codec.encode(TOPIC_OF.UploadStarted, { type: 'UploadStarted', data: before }));
    assert.equal((started.data as { visibility?: string }).visibility, 'public');
    const withViewer = { ...SAMPLES.VideoViewed, data: { ...SAMPLES.VideoViewed.data, viewerId: 'u9' } };
    assert.deepEqual(await codec.decode(await codec.encode(TOPIC_OF.VideoViewed, withViewer)), withViewer);
  });

  test('decode errors carry stable codes', async () => {
    const { codec } = await setup();
    const good = await codec.encode(TOPIC_OF.VideoDeleted, SAMPLES.VideoDeleted);
    const code = async (buf: Buffer) => {
      const err = await codec.decode(buf).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof CodecError, `expected CodecError, got ${String(err)}`);
      return err.code;
    };
    assert.equal(await code(Buffer.concat([Buffer.from([1]), good.subarray(1)])), 'BAD_MAGIC_BYTE');
    assert.equal(await code(Buffer.from([0, 0, 0])), 'BAD_MAGIC_BYTE');
    const unknownId = Buffer.from(good);
    unknownId.writeUInt32BE(9999, 1);
    assert.equal(await code(unknownId), 'UNKNOWN_SCHEMA_ID');
    assert.equal(await code(good.subarray(0, good.length - 3)), 'AVRO_DECODE');
    assert.equal(await code(Buffer.concat([good, Buffer.from([1, 2, 3])])), 'AVRO_DECODE');
  });

  test('a writer schema that is not an event type is UNKNOWN_EVENT_TYPE; bad data is AVRO_ENCODE', async () => {
    const { codec, registry } = await setup();
    const { id } = await registry.register('other-value', JSON.stringify({ type: 'record', name: 'Other', namespace: 'x', fields: [] }));
    const buf = Buffer.alloc(5);
    buf.writeUInt32BE(id, 1);
    await assert.rejects(codec.decode(buf), (e: unknown) => e instanceof CodecError && e.code === 'UNKNOWN_EVENT_TYPE');
    const bad = { type: 'VideoDeleted', data: { videoId: 'v', deletedBy: 42, deletedAt: t0 } } as unknown as DomainEvent;
    await assert.rejects(codec.encode(TOPIC_OF.VideoDeleted, bad), (e: unknown) => e instanceof CodecError && e.code === 'AVRO_ENCODE');
    await assert.rejects(codec.encode('t', { type: 'Nope', data: {} } as unknown as DomainEvent),
      (e: unknown) => e instanceof CodecError && e.code === 'UNKNOWN_EVENT_TYPE');
  });

  test('events written with an older schema version decode into the current shape', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sw-schemas-'));
    try {
      // v1 of CommentPosted had no parentId: write with it, then evolve the schema (as in the repo).
      for (const agg of ['user', 'video', 'comment', 'view', 'like', 'subscription', 'playback']) cpSync(join(SCHEMAS_DIR, agg), join(dir, agg), { recursive: true });
      const file = join(dir, 'comment', 'CommentPosted.avsc');
      const current = readFileSync(file, 'utf8');
      const v1 = JSON.parse(current);
      v1.fields = v1.fields.filter((f: { name: string }) => f.name !== 'parentId');
      writeFileSync(file, JSON.stringify(v1));
      const { log, codec: oldCodec } = await setup(dir);
      const { parentId: _, ...oldData } = SAMPLES.CommentPosted.data;
      const oldBuf = await oldCodec.encode(TOPIC_OF.CommentPosted, { type: 'CommentPosted', data: oldData });

      writeFileSync(file, current);
      const registry = createSchemaRegistry({ log });
      await registry.start();
      const newCodec = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry), schemaDir: dir });
      const ids = await newCodec.registerAll(); // BACKWARD_TRANSITIVE: adding a field with a default is allowed
      assert.notEqual(ids.get('CommentPosted'), oldBuf.readUInt32BE(1));
      assert.deepEqual(await newCodec.decode(oldBuf), { type: 'CommentPosted', data: { ...oldData, parentId: null } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every schema file (events and commands) documents the record and each field, and names match their files', () => {
    // schemas/<aggregate>/X.avsc → io.streamwave.<aggregate>; schemas/commands/X.avsc → io.streamwave.command;
    // schemas/commands/<aggregate>/X.avsc → io.streamwave.command.<aggregate>.
    let checked = 0;
    const walk = (dir: string, namespace: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory() && !['registry', 'codec', 'node_modules'].includes(e.name)) {
          walk(join(dir, e.name), dir === SCHEMAS_DIR && e.name === 'commands' ? `${namespace}.command` : `${namespace}.${e.name}`);
        } else if (e.isFile() && e.name.endsWith('.avsc')) {
          const s = JSON.parse(readFileSync(join(dir, e.name), 'utf8'));
          assert.equal(`${s.name}.avsc`, e.name);
          assert.equal(s.namespace, namespace, `${e.name}: namespace`);
          assert.ok(typeof s.doc === 'string' && s.doc.length > 10, `${e.name}: record doc`);
          for (const field of s.fields) assert.ok(typeof field.doc === 'string' && field.doc.length > 5, `${e.name}.${field.name}: doc`);
          checked++;
        }
      }
    };
    walk(SCHEMAS_DIR, 'io.streamwave');
    assert.ok(checked >= 14 + 14, `${checked} schema files checked`);
  });
});
