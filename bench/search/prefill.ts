/**
 * Writes the search benchmark's videos into a standalone data directory BEFORE the server starts:
 * each video's life as the command side decides it (the video decider fed the commands the
 * gateway and the transcoder send for an upload that ends published), Avro-encoded with the
 * production codec and schema registry, appended to the embedded event log of that directory.
 * The server then builds its read models from these events exactly as after a restart.
 */
import type { DomainEvent, RenditionInfo, VideoEvent } from '../../domain/events.ts';
import type { CommandMetadata } from '../../domain/shared/event.ts';
import type { VideoCommand } from '../../domain/video/video.commands.ts';
import { videoDecider, type VideoState } from '../../domain/video/video.decider.ts';
import { sourceObjectKey } from '../../gateway/routes/uploads/upload-plan.ts';
import { createEmbeddedEventLog } from '../../platform/log/embedded/embedded-event-log.adapter.ts';
import { tpKey, type ProduceRecord } from '../../platform/log/event-log.port.ts';
import { processorGroupId } from '../../processors/runtime/processor.runtime.ts';
import { hlsKeys } from '../../processors/transcoder/hls-keys.ts';
import { planLadder } from '../../processors/transcoder/ladder.ts';
import { TRANSCODER_NAME } from '../../processors/transcoder/transcoder.processor.ts';
import { evolveSearchDoc, isSearchable, type SearchDoc } from '../../projections/search/search-model.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';
import { DEFAULT_TOPIC_PARTITIONS, ensureEventTopics, TOPICS } from '../../schemas/topics.ts';
import { between, prng, type Corpus } from './corpus.ts';

/** Consumer group of the media collector (processors/media-collector: processor `media-collector`). */
const MEDIA_COLLECTOR_GROUP = processorGroupId('media-collector');

/** Records per `append` call (one group commit of the embedded log). */
const APPEND_BATCH = 4096;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID-shaped id (`<prefix>_` + 10 time chars + 16 random chars), as the gateway's `newId` makes, from a seeded PRNG. */
function seededId(prefix: string, timeMs: number, rand: () => number): string {
  let t = '';
  for (let i = 0, x = timeMs; i < 10; i++, x = Math.floor(x / 32)) t = CROCKFORD[x % 32] + t;
  let r = '';
  for (let i = 0; i < 16; i++) r += CROCKFORD[Math.floor(rand() * 32)];
  return `${prefix}_${t}${r}`;
}

/** Source display sizes of the uploads (the ladder is planned from them as the transcoder does). */
const SOURCES = [
  { displayWidth: 854, displayHeight: 480 },
  { displayWidth: 1280, displayHeight: 720 },
  { displayWidth: 1280, displayHeight: 720 },
  { displayWidth: 1920, displayHeight: 1080 },
];

/**
 * The events of one upload that ends published, decided by the video decider from the commands
 * the gateway (StartUpload, CompleteUpload) and the transcoder (StartProcessing, progress,
 * progressive PublishVideo, one RecordRenditionEncoded per rung, CompleteProcessing) send.
 * Progress is reported twice (50, 100): the transcoder reports every 5 points, search ignores it.
 * `startedAt`: ms since the epoch; the video is published ~70 s later.
 * @throws DomainError if the decider refuses a command (a bug of this generator).
 */
export function publishedVideoEvents(v: {
  videoId: string; ownerId: string; uploadId: string; startedAt: number; title: string; description: string; tags: string[];
  durationSeconds: number; sizeBytes: number; source: { displayWidth: number; displayHeight: number };
}): VideoEvent[] {
  let state: VideoState = videoDecider.initialState;
  const out: VideoEvent[] = [];
  const meta = (offsetMs: number, actorId?: string): CommandMetadata => ({ now: v.startedAt + offsetMs, ...(actorId ? { actorId } : {}) });
  const run = (c: VideoCommand) => {
    for (const e of videoDecider.decide(c, state)) {
      state = videoDecider.evolve(state, e);
      out.push(e);
    }
  };
  const videoId = v.videoId;
  const ladder: RenditionInfo[] = planLadder(v.source).map((r) => ({
    name: r.name, width: r.width, height: r.height, bandwidth: r.maxrate + 128_000, codecs: 'avc1.64001f,mp4a.40.2', playlist: `${r.name}/index.m3u8`,
  }));
  run({
    type: 'StartUpload',
    data: {
      videoId, ownerId: v.ownerId, uploadId: v.uploadId, objectKey: sourceObjectKey(videoId), filename: `${v.title.slice(0, 40).toLowerCase().replace(/\W+/g, '-')}.mp4`,
      sizeBytes: v.sizeBytes, contentType: 'video/mp4', title: v.title, description: v.description, tags: v.tags, partSizeBytes: 8 << 20, visibility: 'public',
    },
    metadata: meta(0, v.ownerId),
  });
  run({ type: 'CompleteUpload', data: { videoId, uploadId: v.uploadId, sizeBytes: v.sizeBytes }, metadata: meta(20_000, v.ownerId) });
  run({ type: 'StartProcessing', data: { videoId, ladder, durationSeconds: v.durationSeconds }, metadata: meta(21_000) });
  run({ type: 'ReportProcessingProgress', data: { videoId, progress: 50 }, metadata: meta(50_000) });
  run({
    type: 'PublishVideo',
    data: { videoId, masterPlaylistKey: hlsKeys.master(videoId), thumbnailKey: hlsKeys.thumbnail(videoId), durationSeconds: v.durationSeconds, renditions: ladder },
    metadata: meta(70_000),
  });
  run({ type: 'ReportProcessingProgress', data: { videoId, progress: 100 }, metadata: meta(110_000) });
  for (const r of ladder) run({ type: 'RecordRenditionEncoded', data: { videoId, rendition: r }, metadata: meta(111_000) });
  run({ type: 'CompleteProcessing', data: { videoId, renditions: ladder.map((r) => r.name), omitted: [] }, metadata: meta(112_000) });
  if (state.status !== 'ready') throw new Error(`generated video ${videoId} ended ${state.status}`);
  return out;
}

/** What `prefillDataDir` wrote. */
export interface Prefill {
  /** Events appended to `streamwave.videos`. */
  events: number;
  /** Bytes of the encoded event values. */
  valueBytes: number;
  /** The search documents the events fold into (search-model.ts `evolveSearchDoc`), all listed. */
  docs: SearchDoc[];
  /** Wall time, ms. */
  ms: number;
}

/** A moment as the events of a record carry it, ms since the epoch. */
const eventTime = (e: DomainEvent): number => {
  const d = e.data as unknown as Record<string, unknown>;
  for (const k of ['startedAt', 'completedAt', 'publishedAt', 'at', 'updatedAt']) if (typeof d[k] === 'number') return d[k] as number;
  return Date.now();
};

/**
 * Creates the embedded log of `dataDir` (event topics with the standalone partition count, the
 * schemas registered as the server registers them) and appends the life of `videos` public videos
 * whose text comes from `corpus`, uploaded one minute apart and all published by now, by
 * `videos / 20` owners. The transcoder's and the media collector's consumer groups are committed
 * at the end of the topic, as on a server that already transcoded these uploads; the read models
 * keep no offsets and rebuild from their own (absent) checkpoints when the server starts.
 * `onProgress(done)` is called every few thousand videos.
 */
export async function prefillDataDir(opts: {
  dataDir: string; videos: number; corpus: Corpus; seed: number; onProgress?: (videosDone: number) => void;
}): Promise<Prefill> {
  const t0 = performance.now();
  const rand = prng(opts.seed);
  // fsync off: nothing reads the log until it is closed (close writes everything), and a crash of the benchmark discards the directory anyway.
  const log = await createEmbeddedEventLog({ dataDir: opts.dataDir, fsync: false });
  try {
    const registry = createSchemaRegistry({ log });
    await registry.start();
    const codec = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry) });
    await codec.registerAll();
    await ensureEventTopics(log, { partitions: DEFAULT_TOPIC_PARTITIONS });

    const start = Date.now() - opts.videos * 60_000 - 3_600_000;
    const owners = Array.from({ length: Math.max(1, Math.ceil(opts.videos / 20)) }, (_, i) => seededId('usr', start - 86_400_000 + i, rand));
    const docs: SearchDoc[] = [];
    let batch: ProduceRecord[] = [];
    let events = 0;
    let valueBytes = 0;
    for (let i = 0; i < opts.videos; i++) {
      const startedAt = start + i * 60_000 + between(rand, 0, 59_000);
      const text = opts.corpus.nextVideo();
      const videoId = seededId('vid', startedAt, rand);
      const evs = publishedVideoEvents({
        videoId, ownerId: owners[Math.floor(rand() * owners.length)]!, uploadId: seededId('upl', startedAt, rand), startedAt, ...text,
        durationSeconds: between(rand, 15, 1800), sizeBytes: between(rand, 5, 2000) * 1_000_000, source: SOURCES[Math.floor(rand() * SOURCES.length)]!,
      });
      let doc: SearchDoc | undefined;
      for (const e of evs) {
        doc = evolveSearchDoc(doc, e);
        const value = await codec.encode(TOPICS.videos, e);
        valueBytes += value.length;
        batch.push({ key: videoId, value, timestamp: eventTime(e) });
      }
      if (!doc || !isSearchable(doc)) throw new Error(`generated video ${videoId} is not searchable`);
      docs.push(doc);
      events += evs.length;
      if (batch.length >= APPEND_BATCH) {
        await log.append(TOPICS.videos, batch);
        batch = [];
      }
      if ((i + 1) % 5000 === 0) opts.onProgress?.(i + 1);
    }
    if (batch.length) await log.append(TOPICS.videos, batch);
    if (opts.videos % 5000 !== 0) opts.onProgress?.(opts.videos);

    const end = await log.endOffsets(TOPICS.videos);
    const atEnd = new Map(end.map((o, p) => [tpKey(TOPICS.videos, p), o] as const));
    for (const group of [processorGroupId(TRANSCODER_NAME), MEDIA_COLLECTOR_GROUP]) await log.commitOffsets(group, atEnd);
    await registry.stop();
    return { events, valueBytes, docs, ms: performance.now() - t0 };
  } finally {
    await log.close();
  }
}
