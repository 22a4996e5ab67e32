/**
 * The transcoder on the real wiring, for its tests and the manual and benchmark runs: the
 * transcoder node and the video-detail read model on the topology test driver, the real command
 * bus (the video aggregate decides every command the transcoder sends) on the driver's log, and
 * the embedded object store in a temporary folder. A test uploads a source, `process()`es, and
 * looks at what a user would see: the video-detail document, the events on the log (which can
 * show a duplicate the read model would hide) and the objects in the store.
 * Failures are injected by decorating real objects (`objectStore`, `commandBus`, an FFmpeg
 * wrapper as `ffmpegPath`), never by re-implementing them. Always `await world.close()`.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { CommandBus } from '../../../commands/command-bus.port.ts';
import type { VideoEvent } from '../../../domain/video/video.events.ts';
import type { LogRecord } from '../../../platform/log/event-log.port.ts';
import type { EmbeddedObjectStore } from '../../../platform/object-store/embedded/embedded-object-store.adapter.ts';
import { readObject, type ObjectStore } from '../../../platform/object-store/object-store.port.ts';
import { openReadModel } from '../../../projections/read-models.ts';
import { inMemoryStores, TEST_SEARCH_SECRET } from '../../../projections/testing/projection-test-kit.ts';
import type { VideoDetail, VideoDetailQueries } from '../../../projections/video-detail/video-detail.port.ts';
import { VIDEO_DETAIL } from '../../../projections/video-detail/video-detail.projection.ts';
import { deadLetterTopicName, TOPIC_OF, TOPICS } from '../../../schemas/topics.ts';
import { createTestObjectStore, createTopologyWorld, type TopologyWorld } from '../../../test/support/test-world.ts';
import { buildTranscoderProcessor, type TranscoderDeps, type TranscoderNode } from '../transcoder.processor.ts';

/** The owner of every upload in a transcoder world. */
export const UPLOADER = 'user-uploader';
/** Wall clock of the world's commands, ms since the epoch. */
export const WORLD_NOW = 1_700_000_000_000;

interface TranscoderWorldOptions {
  /** Deliver every batch twice, as after a lost offset commit. Default false. */
  redeliver?: boolean;
  /**
   * Decorates the object store the transcoder uses (e.g. to refuse some writes). It receives the
   * real store behind the `writes` spy, so refused writes are not recorded.
   */
  objectStore?: (store: ObjectStore) => ObjectStore;
  /**
   * Decorates the command bus the transcoder uses (e.g. to time or refuse commands). It receives
   * the real bus behind the `sent` spy, so refused commands are not recorded.
   */
  commandBus?: (bus: CommandBus) => CommandBus;
  /** Passed to the transcoder as they are (e.g. an FFmpeg wrapper that fails some runs, a logger). */
  transcoder?: Pick<TranscoderDeps, 'ffmpegPath' | 'ffprobePath' | 'logger' | 'segmentSeconds' | 'timeLimits' | 'sourceLimits' | 'memoryLimitBytes' | 'prlimitPath' | 'registry'>;
}

/** The world of one test: its nodes, the spies, and helpers to act and look (see the file comment). */
export interface TranscoderWorld extends TopologyWorld {
  /** The real store, undecorated: tests read the transcoder's output through it. */
  readonly objectStore: EmbeddedObjectStore;
  /** Keys the transcoder wrote (putFile, putObject), in completion order, repeats kept. */
  readonly writes: string[];
  /**
   * Every version of every playlist (`.m3u8`) the transcoder wrote, in completion order; `at` is
   * the index of that write in `writes`.
   */
  readonly written: { key: string; body: Buffer; at: number }[];
  readonly videoDetail: VideoDetailQueries;
  /** The world's temporary folder (removed by `close`); scratch files may go here. */
  readonly dir: string;
  /** The transcoder's work folder. */
  readonly workDir: string;
  /** The transcoder node itself (its `readiness()`, its metrics; `handle` for a test of its own). */
  readonly transcoder: TranscoderNode;
  /**
   * Stores `source` (a local file) as the upload's object `uploads/<videoId>`, unless null (a
   * source that is gone), then sends StartUpload and CompleteUpload through the bus as
   * `UPLOADER`. Nothing is transcoded before `process()`.
   */
  upload(videoId: string, source: string | null): Promise<void>;
  /** Runs the transcoder and the read model until neither has anything left on the log. */
  process(): Promise<void>;
  /** The video's document in the video-detail read model. @throws Error when there is none */
  video(videoId: string): Promise<VideoDetail>;
  /** The events of one video on the videos topic, in log order. */
  videoEvents(videoId: string): Promise<VideoEvent[]>;
  /** The records the transcoder dead-lettered (raw, with their `x-dlq-*` headers). */
  deadLetters(): Promise<LogRecord[]>;
  /** An object's bytes. @throws Error when the key holds no object */
  read(key: string): Promise<Buffer>;
  /** Stops the nodes and removes the temporary folder. */
  close(): Promise<void>;
}

/** Creates a world with nothing on its log yet (see the file comment). */
export async function createTranscoderWorld(opts: TranscoderWorldOptions = {}): Promise<TranscoderWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'sw-transcoder-world-'));
  const readModel = await openReadModel(VIDEO_DETAIL, inMemoryStores(), { searchCursorSecret: TEST_SEARCH_SECRET });
  const world = await createTopologyWorld({ nodes: [readModel], redeliver: opts.redeliver });
  const objectStore = createTestObjectStore(dir);
  const writes: string[] = [];
  const written: { key: string; body: Buffer; at: number }[] = [];
  // Both lists are appended in the same tick, so a playlist version and its place among the writes
  // agree (a version read back from a file gets its body after its place is taken).
  const record = (key: string, playlist: Buffer | null): { body: Buffer } | undefined => {
    const entry = playlist ? { key, body: playlist, at: writes.length } : undefined;
    if (entry) written.push(entry);
    writes.push(key);
    return entry;
  };
  const spied: ObjectStore = {
    ...objectStore,
    async putFile(key, path, contentType) {
      await objectStore.putFile(key, path, contentType);
      const entry = record(key, key.endsWith('.m3u8') ? Buffer.alloc(0) : null);
      if (entry) entry.body = await readFile(path);
    },
    async putObject(key, body, contentType) {
      await objectStore.putObject(key, body, contentType);
      record(key, key.endsWith('.m3u8') && Buffer.isBuffer(body) ? body : null);
    },
  };
  const workDir = join(dir, 'work');
  const transcoder = buildTranscoderProcessor({
    commandBus: opts.commandBus ? opts.commandBus(world.commandBus) : world.commandBus,
    codec: world.codec,
    objectStore: opts.objectStore ? opts.objectStore(spied) : spied,
    workDir,
    now: () => WORLD_NOW,
    ...opts.transcoder,
  });
  await world.driver.add(transcoder);

  return {
    ...world,
    objectStore,
    writes,
    written,
    videoDetail: readModel.queries,
    dir,
    workDir,
    transcoder,
    async upload(videoId, source) {
      const objectKey = `uploads/${videoId}`;
      if (source !== null) await objectStore.putFile(objectKey, source, 'video/mp4');
      const sizeBytes = source === null ? 1 : Math.max(1, (await stat(source)).size);
      const uploadId = `upload-${videoId}`;
      const metadata = { now: WORLD_NOW, actorId: UPLOADER };
      await world.commandBus.send({
        type: 'StartUpload',
        data: {
          videoId, ownerId: UPLOADER, uploadId, objectKey, filename: source === null ? 'gone.mp4' : basename(source), sizeBytes,
          contentType: 'video/mp4', title: 'A clip', description: '', tags: [], partSizeBytes: 5 * 1024 * 1024,
        },
        metadata,
      });
      await world.commandBus.send({ type: 'CompleteUpload', data: { videoId, uploadId, sizeBytes }, metadata });
    },
    process: () => world.driver.process(),
    async video(videoId) {
      const v = await readModel.queries.getVideo(videoId);
      if (!v) throw new Error(`video-detail has no video ${videoId}`);
      return v;
    },
    async videoEvents(videoId) {
      return (await world.events())
        .map((e) => e.event)
        .filter((e): e is VideoEvent => TOPIC_OF[e.type] === TOPICS.videos && (e as VideoEvent).data.videoId === videoId);
    },
    async deadLetters() {
      const topic = deadLetterTopicName(TOPICS.videos, transcoder.name);
      // The runtime creates the dead-letter topic with its first record.
      const exists = (await world.driver.log.listTopics()).some((t) => t.name === topic);
      return exists ? world.driver.log.records(topic) : [];
    },
    async read(key) {
      const body = await readObject(objectStore, key);
      if (!body) throw new Error(`no object ${key}`);
      return body;
    },
    async close() {
      await world.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
