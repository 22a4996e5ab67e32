/**
 * Segment-parallel encoding across transcoder instances, on a real Kafka broker: two transcoder
 * "instances" (each the production wiring of the transcoder role, `startTranscoderNodes`, on its
 * own Kafka client and consumer-group membership, sharing one object store as S3 would be
 * shared) and a 30 s source chunked as 4 s + 8 s + 8 s + 10 s. The chunks go through the chunk
 * topic to whichever instance owns their partition; the test checks that both instances encoded
 * chunks, that the video was published once, every rendition recorded once and the processing
 * completed, and that every joined rendition plays through ffprobe's HLS demuxer with continuous
 * video and audio timestamps and A/V in sync within one frame. Then the failure paths: the
 * coordinating instance stops after publication (its job is redelivered to the other one, which
 * finishes from the chunks' results: each event once), and the video is deleted mid-job (the
 * last chunk's result is held back until then; the coordinator stops and ends its job object; no
 * rendition is completed). No timing thresholds.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createCommandBus, type CommandHandler } from '../../../commands/command-handler.ts';
import type { VideoEvent } from '../../../domain/video/video.events.ts';
import { startTranscoderNodes, type TranscoderNodes } from '../../../deploy/shared/transcoder-wiring.ts';
import { createInMemoryEventLog } from '../../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import type { EventLog } from '../../../platform/log/event-log.port.ts';
import { partitionForKey } from '../../../platform/log/partitioner.ts';
import { readObject } from '../../../platform/object-store/object-store.port.ts';
import { createAvroEventCodec } from '../../../schemas/codec/avro-event-codec.ts';
import { createInProcessSchemaRegistryApi } from '../../../schemas/codec/schema-registry-api.ts';
import { createSchemaRegistry } from '../../../schemas/registry/schema-registry.ts';
import { ensureEventTopics, TOPICS, TRANSCODE_CHUNKS_TOPIC } from '../../../schemas/topics.ts';
import { kafkaTestFile } from '../../../test/support/kafka-test-file.ts';
import { makeClip } from '../../../test/support/make-media.ts';
import { ffmpegMissing, requirement } from '../../../test/support/requirements.ts';
import { createTestObjectStore } from '../../../test/support/test-world.ts';
import { eventually } from '../../../test/support/eventually.ts';
import type { EmbeddedObjectStore } from '../../../platform/object-store/embedded/embedded-object-store.adapter.ts';
import { runBounded } from '../bounded-process.ts';
import { resolveFfmpegBinaries } from '../ffmpeg-binaries.ts';
import { DEFAULT_SOURCE_LIMITS, DEFAULT_TIME_LIMITS } from '../media-limits.ts';
import { chunkKeys, hlsKeys } from '../hls-keys.ts';
import { parseMediaPlaylist } from '../master-playlist.ts';
import { readObjectText, type ChunkedJobState, type ChunkResult } from './chunk-encoder.processor.ts';
import { AAC_FRAME_SAMPLES, planChunks } from './chunk-plan.ts';

const kafkaFile = await kafkaTestFile();
const skip = kafkaFile.skip || requirement('FFmpeg', await ffmpegMissing());
const { ffprobe } = resolveFfmpegBinaries();

const SECONDS = 30;
const FPS = 30;
const RATE = 44_100;
const PARTITIONS = 2;
const CHUNKING = { thresholdSeconds: 0, chunkSeconds: 8, firstChunkSeconds: 4 };
const PLAN = planChunks(SECONDS, { segmentSeconds: 4, chunkSeconds: CHUNKING.chunkSeconds, firstChunkSeconds: CHUNKING.firstChunkSeconds });

/** A video id whose chunk keys land on both partitions of the chunk topic (deterministic: murmur2). */
function videoIdOnBothPartitions(): string {
  for (let n = 0; ; n++) {
    const id = `v-chunked-${n}`;
    const parts = PLAN.map((c) => partitionForKey(TRANSCODE_CHUNKS_TOPIC, `${id}:${c.index}`, PARTITIONS));
    if (parts[0] !== parts[1] && new Set(parts).size === PARTITIONS) return id;
  }
}

/** Every event of the videos topic on `log`, decoded. */
async function videoEvents(log: EventLog, decode: (b: Buffer) => Promise<VideoEvent>): Promise<VideoEvent[]> {
  const out: VideoEvent[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    for (const r of await log.read(TOPICS.videos, p, 0, 10_000)) out.push(await decode(r.value!));
  }
  return out;
}

/** Two transcoder instances on one broker (namespace `ns`), one object store, one registry. */
async function twoInstances(ns: string, dir: string) {
  const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
  await registry.start();
  kafkaFile.onCleanup(() => registry.stop());
  const registryApi = createInProcessSchemaRegistryApi(registry);
  const codec = createAvroEventCodec({ registry: registryApi });
  await codec.registerAll();
  // One object store for both instances, as S3 would be; `holdResult` can hold back a chunk's result.
  const { objectStore, holdResult } = holdableStore(createTestObjectStore(dir));
  const config = {
    media: { sourceLimits: DEFAULT_SOURCE_LIMITS, timeLimits: DEFAULT_TIME_LIMITS, memoryLimitBytes: 0 },
    chunking: CHUNKING, transcodeConcurrency: 1,
  };
  const logs = [await kafkaFile.openLog(ns, 'instance-a'), await kafkaFile.openLog(ns, 'instance-b')];
  await ensureEventTopics(logs[0]!, { partitions: PARTITIONS });
  // One command path for both, as cluster mode's command processors are (a single writer per video).
  const bus: CommandHandler = createCommandBus({ log: logs[0]!, codec, partitions: PARTITIONS });
  await bus.start();
  const buses = [bus];
  const instances: (TranscoderNodes & { metrics: Registry })[] = [];
  for (const [i, log] of logs.entries()) {
    const metrics = new Registry();
    const nodes = await startTranscoderNodes({
      config, log, codec, registryApi, commandBus: bus, objectStore, workDir: join(dir, `work-${i}`), topics: { partitions: PARTITIONS },
      logger: pino({ level: process.env.KAFKA_TEST_LOG ?? 'silent' }), registry: metrics, instance: `instance-${'ab'[i]}`,
    });
    kafkaFile.onCleanup(() => nodes.transcoder.stop());
    kafkaFile.onCleanup(() => nodes.chunkEncoder.stop());
    kafkaFile.onCleanup(() => nodes.captionWriter.stop());
    instances.push({ ...nodes, metrics });
    // Joined the group (positioned) before the next instance joins and before any task exists.
    await nodes.chunkEncoder.caughtUp();
  }
  await instances[0]!.chunkEncoder.caughtUp();
  const decode = async (b: Buffer) => (await codec.decode(b)) as VideoEvent;
  const source = await makeClip(join(dir, 'src.mp4'), { seconds: SECONDS, width: 640, height: 360, fps: FPS });
  return {
    objectStore,
    holdResult,
    instances,
    async upload(videoId: string): Promise<void> {
      const objectKey = `uploads/${videoId}`;
      await objectStore.putFile(objectKey, source, 'video/mp4');
      const metadata = { now: Date.now(), actorId: 'user-1' };
      await buses[0]!.send({
        type: 'StartUpload',
        data: { videoId, ownerId: 'user-1', uploadId: 'u-1', objectKey, filename: 'src.mp4', sizeBytes: 1000, contentType: 'video/mp4', title: 'Chunked', description: '', tags: [], partSizeBytes: 5 * 1024 * 1024 },
        metadata,
      });
      await buses[0]!.send({ type: 'CompleteUpload', data: { videoId, uploadId: 'u-1', sizeBytes: 1000 }, metadata });
    },
    deleteVideo: (videoId: string) => buses[0]!.send({ type: 'DeleteVideo', data: { videoId }, metadata: { now: Date.now(), actorId: 'user-1' } }),
    /** The video's events once `until` holds for them (the test's own timeout bounds the wait). */
    async eventsWhen(videoId: string, until: (types: string[]) => boolean): Promise<VideoEvent[]> {
      for (;;) {
        const events = (await videoEvents(logs[0]!, decode)).filter((e) => e.data.videoId === videoId);
        if (until(events.map((e) => e.type))) return events;
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    /** The instance running the video's transcode job now (its jobs-running gauge), or undefined. */
    async coordinator(): Promise<number | undefined> {
      for (const [i, inst] of instances.entries()) {
        const gauge = (await inst.metrics.getSingleMetricAsString('streamwave_transcode_jobs_running')).match(/^streamwave_transcode_jobs_running (\d+)/m);
        if (Number(gauge?.[1] ?? 0) > 0) return i;
      }
      return undefined;
    },
  };
}

/**
 * `store` with `putObject` of chosen keys held back until released: `holdResult(videoId, i)` keeps
 * chunk i's result (the object the coordinator waits for) unwritten, so the job cannot end before
 * the test says so, however fast or slow the machine. @returns the wrapped store and the hold
 */
function holdableStore(store: EmbeddedObjectStore): { objectStore: EmbeddedObjectStore; holdResult(videoId: string, chunkIndex: number): () => void } {
  const held = new Map<string, Promise<void>>();
  const objectStore = new Proxy(store, {
    get(target, prop) {
      if (prop === 'putObject') {
        return async (...args: Parameters<EmbeddedObjectStore['putObject']>) => {
          await held.get(args[0]);
          return target.putObject(...args);
        };
      }
      const value: unknown = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    objectStore,
    holdResult(videoId, chunkIndex) {
      const key = chunkKeys.result(videoId, chunkIndex);
      let release!: () => void;
      held.set(key, new Promise<void>((r) => { release = r; }));
      const done = () => { held.delete(key); release(); };
      // Released at the file's cleanup whatever happens, before the encoders stop (a held write would hold their stop).
      kafkaFile.onCleanup(async () => done());
      return done;
    },
  };
}

/**
 * Runs `f` with a fresh temporary folder, removed at the file's cleanup whatever happens. Registered
 * before `f` starts the instances, so it runs after they stop (cleanups run last-in, first-out): a
 * stray task of an instance still writing into the folder made an earlier removal fail (ENOTEMPTY).
 */
async function inTempDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sw-chunked-kafka-'));
  kafkaFile.onCleanup(() => rm(dir, { recursive: true, force: true, maxRetries: 5 })
    .catch((e: unknown) => console.warn(`chunked-transcode test: ${dir} left behind: ${String(e)}`)));
  await f(dir);
}

const ended = (types: string[]): boolean => types.includes('VideoProcessingCompleted') || types.includes('VideoProcessingFailed');

/** Asserts the events of a finished video: ready, published once, every rung recorded once. @returns the ladder */
function assertCompletedOnce(events: VideoEvent[]): string[] {
  const types = events.map((e) => e.type);
  assert.ok(!types.includes('VideoProcessingFailed'), `failed: ${JSON.stringify(events.find((e) => e.type === 'VideoProcessingFailed'))}`);
  const ladder = (events.find((e) => e.type === 'VideoProcessingStarted') as Extract<VideoEvent, { type: 'VideoProcessingStarted' }>).data.ladder.map((r) => r.name);
  assert.equal(types.filter((t) => t === 'VideoPublished').length, 1);
  assert.equal(types.filter((t) => t === 'VideoProcessingCompleted').length, 1);
  assert.deepEqual(events.filter((e) => e.type === 'RenditionEncoded').map((e) => (e as Extract<VideoEvent, { type: 'RenditionEncoded' }>).data.rendition.name).sort(), [...ladder].sort());
  assert.ok(types.indexOf('VideoPublished') < types.indexOf('VideoProcessingCompleted'));
  return ladder;
}

describe('chunked transcode over the chunk topic, two transcoder instances (real Kafka)', { skip, timeout: 600_000 }, () => {
  test('both instances encode chunks; one joined, continuous, in-sync ladder; each event once', async () => {
    await inTempDir(async (dir) => {
      const world = await twoInstances('chunked-1', dir);
      const { objectStore } = world;
      const videoId = videoIdOnBothPartitions();
      await world.upload(videoId);
      const ladder = assertCompletedOnce(await world.eventsWhen(videoId, ended));

      // Every chunk has a result; both instances encoded some.
      const results: ChunkResult[] = [];
      for (const c of PLAN) results.push(JSON.parse((await readObjectText(objectStore, chunkKeys.result(videoId, c.index)))!) as ChunkResult);
      assert.ok(results.every((r) => !r.failed && r.renditions));
      assert.deepEqual([...new Set(results.map((r) => r.encodedBy))].sort(), ['instance-a', 'instance-b']);
      // The job is over: its object says so, so no stray task of it is encoded any more.
      assert.equal((JSON.parse((await readObjectText(objectStore, chunkKeys.job(videoId)))!) as ChunkedJobState).active, false);

      for (const name of ladder) {
        const local = join(dir, 'check', name);
        await mkdir(local, { recursive: true });
        const playlist = (await readObjectText(objectStore, hlsKeys.rendition(videoId, name, 'index.m3u8')))!;
        assert.match(playlist, /#EXT-X-PLAYLIST-TYPE:EVENT/);
        assert.match(playlist, /#EXT-X-ENDLIST/);
        const segments = parseMediaPlaylist(playlist).segments;
        assert.equal(segments.length, Math.ceil(SECONDS / 4), `${name} segments`);
        await writeFile(join(local, 'index.m3u8'), playlist);
        for (const file of ['init.mp4', ...segments.map((s) => s.uri)]) {
          const body = await readObject(objectStore, hlsKeys.rendition(videoId, name, file));
          assert.ok(body, `${name}/${file} uploaded`);
          await writeFile(join(local, file), body);
        }
        const out = await runBounded(ffprobe, [
          '-v', 'error', '-allowed_extensions', 'ALL', '-protocol_whitelist', 'file',
          '-show_entries', 'packet=stream_index,pts_time', '-of', 'json', join(local, 'index.m3u8'),
        ], { captureStdout: true, timeoutMs: 60_000, maxStdoutBytes: 64 * 1024 * 1024 });
        const packets = (JSON.parse(out) as { packets: { stream_index: number; pts_time: string }[] }).packets;
        const pts = (stream: number): number[] => packets.filter((p) => p.stream_index === stream).map((p) => Number(p.pts_time)).sort((a, b) => a - b);
        const [video, audio] = [pts(0), pts(1)];
        assert.equal(video.length, SECONDS * FPS, `${name}: every frame once`);
        for (let i = 1; i < video.length; i++) assert.ok(Math.abs(video[i]! - video[i - 1]! - 1 / FPS) < 1e-3, `${name}: video step before frame ${i}`);
        const aac = AAC_FRAME_SAMPLES / RATE;
        for (let i = 1; i < audio.length; i++) assert.ok(Math.abs(audio[i]! - audio[i - 1]! - aac) < 1e-4, `${name}: audio step before packet ${i}`);
        const end = (x: number[], d: number): number => x[x.length - 1]! + d;
        assert.ok(Math.abs(end(audio, aac) - end(video, 1 / FPS)) <= 1 / FPS, `${name}: audio ends at ${end(audio, aac)}, video at ${end(video, 1 / FPS)}`);
      }
    });
  });

  test('the coordinating instance stops after publication: the other one finishes the job from the chunks, each event once', async () => {
    await inTempDir(async (dir) => {
      const world = await twoInstances('chunked-2', dir);
      const videoId = videoIdOnBothPartitions();
      await world.upload(videoId);
      await world.eventsWhen(videoId, (t) => t.includes('VideoPublished'));
      const coordinator = await world.coordinator();
      assert.notEqual(coordinator, undefined, 'a transcode job runs after publication');
      // As a crash would, but cleanly: the job's record stays uncommitted and goes to the other instance.
      await world.instances[coordinator!]!.transcoder.stop();
      const events = await world.eventsWhen(videoId, ended);
      assertCompletedOnce(events);
      const playlist = (await readObjectText(world.objectStore, hlsKeys.rendition(videoId, '144p', 'index.m3u8')))!;
      assert.equal(parseMediaPlaylist(playlist).segments.length, Math.ceil(SECONDS / 4));
    });
  });

  test('the video is deleted mid-job: the coordinator stops, ends its job object, and completes no rendition', async () => {
    await inTempDir(async (dir) => {
      const world = await twoInstances('chunked-3', dir);
      const videoId = videoIdOnBothPartitions();
      // The last chunk's result waits for the deletion: the job is mid-job when it comes.
      const release = world.holdResult(videoId, PLAN.length - 1);
      try {
        await world.upload(videoId);
        await world.eventsWhen(videoId, (t) => t.includes('VideoPublished'));
        await world.deleteVideo(videoId);
        // The job ends within a few polls (a refused progress report or the periodic check); its object then says so.
        await eventually(async () => JSON.parse((await readObjectText(world.objectStore, chunkKeys.job(videoId)))!) as ChunkedJobState, (job) => !job.active, 'the job object says the job ended');
      } finally {
        release();
      }
      // The held result is written now and every job has settled.
      for (const inst of world.instances) await Promise.all([inst.chunkEncoder.caughtUp(), inst.transcoder.caughtUp()]);
      const types = (await world.eventsWhen(videoId, (t) => t.includes('VideoDeleted'))).map((e) => e.type);
      assert.ok(!types.includes('VideoProcessingCompleted'), types.join(', '));
      assert.ok(!types.includes('RenditionEncoded'), types.join(', '));
    });
  });
});
