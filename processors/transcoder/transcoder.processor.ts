/**
 * Transcoder processor: reacts to `UploadCompleted`, probes the source, plans the ladder, encodes
 * HLS (fMP4/CMAF) renditions with FFmpeg, uploads them, and drives the video aggregate through
 * StartProcessing → ReportProcessingProgress → RecordRenditionEncoded → PublishVideo (as soon as
 * the lowest rendition is ready) → RecordRenditionEncoded for the rest → CompleteProcessing (the
 * final ladder, with the rungs that failed for good); or FailProcessing.
 */
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';
import type { Command, CommandBus } from '../../commands/command-bus.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { RenditionInfo } from '../../domain/events.ts';
import { DomainError } from '../../domain/shared/event.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import type { ObjectStore } from '../../platform/object-store/object-store.port.ts';
import { ObjectStoreError } from '../../platform/object-store/object-store.port.ts';
import type { ProcessorDefinition } from '../runtime/processor.port.ts';
import { AUDIO_BITRATE, buildFfmpegInvocation, outputFps, planThumbnail } from './ffmpeg-args.ts';
import type { FfmpegJob, HlsRenditionOutput } from './ffmpeg-args.ts';
import { resolveFfmpegBinaries } from './ffmpeg-binaries.ts';
import { FfmpegRunError, runFfmpeg } from './ffmpeg-runner.ts';
import { MediaRejectedError, probeMedia } from './ffprobe.ts';
import type { SourceInfo, VideoStreamInfo } from './ffprobe.ts';
import { planLadder } from './ladder.ts';
import type { RenditionPlan } from './ladder.ts';
import {
  H264_HIGH_PROFILE_IDC,
  avc1Codec,
  avc1CodecFromMp4,
  codecsString,
  h264LevelFor,
  measureBandwidth,
  parseMediaPlaylist,
  writeMasterPlaylist,
} from './master-playlist.ts';

/** Default target segment duration, seconds (the issue: 4 s, segments must stay ≤ 6 s). */
export const DEFAULT_SEGMENT_SECONDS = 4;
/** Progress is reported only when it rose by at least this many points (throttling). */
export const PROGRESS_STEP = 5;
/** Code of the failure sent by `onDeadLetter`. */
export const PROCESSING_FAILED_CODE = 'PROCESSING_FAILED';

export interface TranscoderDeps {
  commandBus: CommandBus;
  codec: EventCodec;
  objectStore: ObjectStore;
  /** Local scratch directory; each job works in `<workDir>/<videoId>/` and deletes it at the end. */
  workDir: string;
  logger?: Logger;
  /** Target segment duration, seconds. Default 4. */
  segmentSeconds?: number;
  /** Wall clock for command metadata, ms since epoch. Default Date.now. */
  now?: () => number;
  /** FFmpeg binaries; default `resolveFfmpegBinaries()` (env, /usr/bin, PATH). */
  ffmpegPath?: string;
  ffprobePath?: string;
}

/** A finished rendition, as stored next to its media playlist (`rendition.json`). */
export interface EncodedRendition extends RenditionInfo {
  /** Average segment bitrate, bits/s. */
  averageBandwidth: number;
  /** Frames/s. */
  frameRate: number;
  /** Sum of the segment durations, seconds (what is actually playable). */
  durationSeconds: number;
}

/** Object keys of a video's HLS output (the layout the gateway and CDN serve). */
export const hlsKeys = {
  prefix: (videoId: string): string => `videos/${videoId}/hls`,
  master: (videoId: string): string => `videos/${videoId}/hls/master.m3u8`,
  rendition: (videoId: string, rendition: string, file: string): string => `videos/${videoId}/hls/${rendition}/${file}`,
  thumbnail: (videoId: string): string => `videos/${videoId}/thumbnail.jpg`,
};

const CONTENT_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.json': 'application/json',
  '.jpg': 'image/jpeg',
};
const contentTypeOf = (file: string): string => CONTENT_TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';

/** Uploads in parallel, at most `limit` at a time. */
async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Throttled progress: 0–100 over runs weighted by pixels × duration. */
class ProgressReporter {
  private reported = 0;
  private doneWeight = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly totalWeight: number,
    private readonly send: (progress: number) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  /** Reports the progress of a run of `weight` that is `fraction` (0–1) done. */
  update(weight: number, fraction: number): void {
    if (this.totalWeight <= 0) return;
    const f = Math.min(1, Math.max(0, fraction));
    const p = Math.min(100, Math.floor(((this.doneWeight + weight * f) / this.totalWeight) * 100));
    if (p - this.reported >= PROGRESS_STEP || (p === 100 && this.reported < 100)) {
      this.reported = p;
      // Progress is advisory: a failed report must not fail the encode.
      this.chain = this.chain.then(() => this.send(p)).catch((err) => this.logger.warn({ err }, 'progress report failed'));
    }
  }

  finishRun(weight: number): void {
    this.update(weight, 1);
    this.doneWeight += weight;
  }

  flush(): Promise<void> {
    return this.chain;
  }
}

/** Classifies an FFmpeg failure: permanent input problem (MediaRejectedError) or transient (rethrown as is). */
function classifyFfmpegError(err: unknown, what: string): Error {
  if (!(err instanceof FfmpegRunError)) return err instanceof Error ? err : new Error(String(err));
  if (err.killed || err.spawnCode || /No space left|Cannot allocate memory|Too many open files/i.test(err.stderrTail)) return err;
  const lastLine = err.stderrTail.split('\n').filter(Boolean).pop() ?? err.message;
  const undecodable = /decod|Invalid data found|corrupt|non-existing PPS|no frame|Invalid NAL/i.test(err.stderrTail);
  return new MediaRejectedError(
    undecodable ? 'UNDECODABLE_VIDEO' : 'ENCODE_FAILED',
    `${undecodable ? 'The video could not be decoded' : 'Encoding failed'} while producing ${what} (${lastLine.trim().slice(0, 200)}).`,
    { cause: err },
  );
}

/**
 * Builds the transcoder processor (consumer group `streamwave.transcoder`, topic
 * `streamwave.videos`; only `UploadCompleted` is handled).
 *
 * Errors: input problems (unreadable, audio-only, undecodable…) → `FailProcessing` and a normal
 * return (no retry); object-store, spawn and other unexpected errors are thrown so the runtime
 * retries with backoff and finally dead-letters, where `onDeadLetter` sends `FailProcessing`.
 * Idempotent per (video, rendition): a rendition whose `index.m3u8` exists is not re-encoded.
 */
export function buildTranscoderProcessor(deps: TranscoderDeps): ProcessorDefinition {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const segmentSeconds = deps.segmentSeconds ?? DEFAULT_SEGMENT_SECONDS;
  const now = deps.now ?? Date.now;
  const binaries = resolveFfmpegBinaries();
  const ffmpegPath = deps.ffmpegPath ?? binaries.ffmpeg;
  const ffprobePath = deps.ffprobePath ?? binaries.ffprobe;
  const { commandBus, objectStore } = deps;

  const send = async <C extends Command>(type: C['type'], data: C['data']): Promise<void> => {
    await commandBus.send({ type, data, metadata: { now: now() } } as Command);
  };

  async function readSidecar(videoId: string, name: string): Promise<EncodedRendition | null> {
    if (!(await objectStore.exists(hlsKeys.rendition(videoId, name, 'index.m3u8')))) return null;
    const obj = await objectStore.getObject(hlsKeys.rendition(videoId, name, 'rendition.json'));
    if (!obj) return null; // playlist without sidecar (older layout): encode again
    const chunks: Buffer[] = [];
    for await (const c of obj.body) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as EncodedRendition;
    } catch {
      return null;
    }
  }

  /** Measures a finished local rendition: bandwidth from segments, codecs from the init segment. */
  async function describe(out: HlsRenditionOutput, fps: number, hasAudio: boolean, plannedCodecs: string): Promise<EncodedRendition> {
    const playlist = await readFile(join(out.outputDir, 'index.m3u8'), 'utf8');
    const { segments, initUri } = parseMediaPlaylist(playlist);
    if (segments.length === 0) {
      throw new MediaRejectedError('UNDECODABLE_VIDEO', `No video frames could be decoded (the ${out.plan.name} rendition is empty).`);
    }
    const sized = await Promise.all(segments.map(async (s) => ({ duration: s.duration, bytes: (await stat(join(out.outputDir, s.uri))).size })));
    const init = initUri ? await readFile(join(out.outputDir, initUri)) : Buffer.alloc(0);
    const { peak, average } = measureBandwidth(sized, init.length);
    const avc1 = avc1CodecFromMp4(init);
    return {
      name: out.plan.name,
      width: out.plan.width,
      height: out.plan.height,
      bandwidth: peak,
      averageBandwidth: average,
      codecs: avc1 ? codecsString(avc1, hasAudio) : plannedCodecs,
      playlist: `${out.plan.name}/index.m3u8`,
      frameRate: fps,
      durationSeconds: segments.reduce((n, s) => n + s.duration, 0),
    };
  }

  /** Uploads a rendition directory; the media playlist goes last so its existence means "complete". */
  async function uploadRendition(videoId: string, out: HlsRenditionOutput, info: EncodedRendition): Promise<void> {
    const files = (await readdir(out.outputDir)).filter((f) => f !== 'index.m3u8');
    await inParallel(files, 4, (f) => objectStore.putFile(hlsKeys.rendition(videoId, out.plan.name, f), join(out.outputDir, f), contentTypeOf(f)));
    await objectStore.putObject(hlsKeys.rendition(videoId, out.plan.name, 'rendition.json'), Buffer.from(JSON.stringify(info)), 'application/json');
    await objectStore.putFile(hlsKeys.rendition(videoId, out.plan.name, 'index.m3u8'), join(out.outputDir, 'index.m3u8'), contentTypeOf('index.m3u8'));
  }

  async function uploadMaster(videoId: string, done: Map<string, EncodedRendition>): Promise<void> {
    const text = writeMasterPlaylist(
      [...done.values()].map((r) => ({
        bandwidth: r.bandwidth,
        averageBandwidth: r.averageBandwidth,
        width: r.width,
        height: r.height,
        codecs: r.codecs,
        frameRate: r.frameRate,
        uri: r.playlist,
      })),
    );
    await objectStore.putObject(hlsKeys.master(videoId), Buffer.from(text), contentTypeOf('.m3u8'));
  }

  async function runJob(job: FfmpegJob, what: string, onFraction?: (f: number) => void, duration?: number): Promise<void> {
    try {
      await runFfmpeg(buildFfmpegInvocation(job), {
        ffmpegPath,
        logger,
        onProgress: onFraction && duration ? (t) => onFraction(t / duration) : undefined,
      });
    } catch (err) {
      throw classifyFfmpegError(err, what);
    }
  }

  async function makeThumbnail(dir: string, src: string, info: SourceInfo, video: VideoStreamInfo): Promise<string> {
    const t = planThumbnail(info.duration, video.displayWidth, video.displayHeight);
    const output = join(dir, 'thumbnail.jpg');
    const base = { type: 'thumbnail' as const, input: src, videoStreamIndex: video.index, interlaced: video.interlaced, width: t.width, height: t.height, output };
    await runJob({ ...base, atSeconds: t.atSeconds }, 'the thumbnail');
    // A duration that lies (truncated files) can put the seek point past the last frame: retry at 0.
    if (!(await stat(output).catch(() => null))?.size && t.atSeconds > 0) await runJob({ ...base, atSeconds: 0 }, 'the thumbnail');
    if (!(await stat(output).catch(() => null))?.size) {
      throw new MediaRejectedError('UNDECODABLE_VIDEO', 'No video frame could be decoded for the thumbnail.');
    }
    return output;
  }

  async function transcode(videoId: string, objectKey: string, log: Logger): Promise<void> {
    const dir = join(deps.workDir, videoId);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      const src = join(dir, 'source');
      try {
        await objectStore.downloadToFile(objectKey, src);
      } catch (err) {
        if (err instanceof ObjectStoreError && err.code === 'NoSuchKey') {
          throw new MediaRejectedError('SOURCE_NOT_FOUND', 'The uploaded file is no longer available.', { cause: err });
        }
        throw err;
      }
      const info = await probeMedia(src, { ffprobePath });
      const video = info.video!; // interpretProbe rejects sources without video
      const fps = outputFps(video.fpsRational);
      const fpsValue = fps.num / fps.den;
      const hasAudio = info.audio !== null;
      const plans = planLadder({ displayWidth: video.displayWidth, displayHeight: video.displayHeight, fps: fpsValue });
      const plannedCodecs = (p: RenditionPlan): string =>
        codecsString(avc1Codec(H264_HIGH_PROFILE_IDC, 0, h264LevelFor(p.width, p.height, fpsValue)), hasAudio);
      const ladder: RenditionInfo[] = plans.map((p) => ({
        name: p.name,
        width: p.width,
        height: p.height,
        bandwidth: p.maxrate + (hasAudio ? AUDIO_BITRATE : 0),
        codecs: plannedCodecs(p),
        playlist: `${p.name}/index.m3u8`,
      }));
      log.info({ source: { ...info }, ladder: ladder.map((r) => r.name) }, 'transcode planned');
      await send('StartProcessing', { videoId, ladder, durationSeconds: info.duration });

      const done = new Map<string, EncodedRendition>();
      for (const p of plans) {
        const existing = await readSidecar(videoId, p.name);
        if (existing) done.set(p.name, existing);
      }
      const [lowest, ...rest] = plans as [RenditionPlan, ...RenditionPlan[]];
      const remaining = rest.filter((p) => !done.has(p.name));
      const weightOf = (ps: RenditionPlan[]): number => ps.reduce((s, p) => s + p.width * p.height * info.duration, 0);
      const lowestWeight = done.has(lowest.name) ? 0 : weightOf([lowest]);
      const restWeight = weightOf(remaining);
      const progress = new ProgressReporter(lowestWeight + restWeight, (p) => send('ReportProcessingProgress', { videoId, progress: p }), log);

      const outputFor = async (p: RenditionPlan): Promise<HlsRenditionOutput> => {
        const outputDir = join(dir, 'hls', p.name);
        await mkdir(outputDir, { recursive: true });
        return { plan: p, outputDir };
      };
      const ladderJob = (outs: [HlsRenditionOutput, ...HlsRenditionOutput[]]): FfmpegJob => ({
        type: 'hls-ladder',
        input: src,
        videoStreamIndex: video.index,
        audio: info.audio ? { streamIndex: info.audio.index, sampleRate: info.audio.sampleRate } : null,
        interlaced: video.interlaced,
        fps,
        segmentSeconds,
        renditions: outs,
      });

      // 1. Lowest rung alone, so the video is playable as early as possible.
      if (!done.has(lowest.name)) {
        const out = await outputFor(lowest);
        await runJob(ladderJob([out]), `the ${lowest.name} rendition`, (f) => progress.update(lowestWeight, f), info.duration);
        progress.finishRun(lowestWeight);
        const encoded = await describe(out, fpsValue, hasAudio, plannedCodecs(lowest));
        await uploadRendition(videoId, out, encoded);
        done.set(lowest.name, encoded);
        log.info({ rendition: encoded }, 'lowest rendition encoded');
      }
      const thumbnailKey = hlsKeys.thumbnail(videoId);
      if (!(await objectStore.exists(thumbnailKey))) {
        const thumb = await makeThumbnail(dir, src, info, video);
        await objectStore.putFile(thumbnailKey, thumb, 'image/jpeg');
      }
      // Master with only the renditions that are complete (a player must never see a missing variant).
      await uploadMaster(videoId, done);
      await send('RecordRenditionEncoded', { videoId, rendition: toRenditionInfo(done.get(lowest.name)!) });
      // A truncated upload can claim a duration in its header (e.g. 1132 s) far beyond what decodes:
      // publish the playable duration then.
      const playable = done.get(lowest.name)!.durationSeconds;
      const durationSeconds = playable > 0 && playable < info.duration * 0.9 ? playable : info.duration;
      await send('PublishVideo', { videoId, masterPlaylistKey: hlsKeys.master(videoId), thumbnailKey, durationSeconds });

      // 2. Every remaining rung in ONE run: one decode, split filter, one HLS output per rung.
      let higherFailure: MediaRejectedError | null = null;
      if (remaining.length > 0) {
        const outs = (await Promise.all(remaining.map(outputFor))) as [HlsRenditionOutput, ...HlsRenditionOutput[]];
        try {
          await runJob(ladderJob(outs), `renditions ${remaining.map((p) => p.name).join(', ')}`, (f) => progress.update(restWeight, f), info.duration);
          progress.finishRun(restWeight);
          for (const out of outs) {
            const encoded = await describe(out, fpsValue, hasAudio, plannedCodecs(out.plan));
            await uploadRendition(videoId, out, encoded);
            done.set(out.plan.name, encoded);
          }
        } catch (err) {
          // The video is already published with its lowest rendition: a permanent problem with the
          // higher rungs leaves it playable rather than failing it.
          if (!(err instanceof MediaRejectedError)) throw err;
          higherFailure = err;
          log.error({ err, code: err.code }, 'higher renditions failed; video stays published with fewer renditions');
        }
      }
      await uploadMaster(videoId, done);
      for (const p of rest) {
        const r = done.get(p.name);
        if (r) await send('RecordRenditionEncoded', { videoId, rendition: toRenditionInfo(r) });
      }
      await progress.flush();
      // 3. The end of processing, explicitly: clients waiting for progress 100 must not wait for
      // rungs that will never come. Sent again on redelivery (the aggregate ignores a repeat).
      const inMaster = plans.filter((p) => done.has(p.name)).map((p) => p.name);
      const omitted = plans
        .filter((p) => !done.has(p.name))
        .map((p) => ({ name: p.name, reason: higherFailure?.reason ?? 'The rendition could not be encoded.' }));
      await send('CompleteProcessing', { videoId, renditions: inMaster, omitted });
      log.info({ renditions: inMaster, omitted: omitted.map((o) => o.name) }, 'transcode finished');
    } finally {
      await rm(dir, { recursive: true, force: true }).catch((err) => log.warn({ err, dir }, 'could not delete work dir'));
    }
  }

  const decodeUploadCompleted = async (record: LogRecord): Promise<{ videoId: string; objectKey: string } | null> => {
    if (record.topic !== TOPICS.videos || record.value === null) return null;
    const event = await deps.codec.decode(record.value);
    if (event.type !== 'UploadCompleted') return null;
    return { videoId: event.data.videoId, objectKey: event.data.objectKey };
  };

  return {
    name: 'transcoder',
    topics: [TOPICS.videos],
    async handle(record) {
      const job = await decodeUploadCompleted(record);
      if (!job) return;
      const log = logger.child({ videoId: job.videoId });
      try {
        await transcode(job.videoId, job.objectKey, log);
      } catch (err) {
        if (err instanceof MediaRejectedError) {
          log.warn({ code: err.code, reason: err.reason }, 'source rejected');
          try {
            await send('FailProcessing', { videoId: job.videoId, reason: err.reason, code: err.code });
          } catch (failErr) {
            if (failErr instanceof DomainError) {
              log.warn({ err: failErr }, 'FailProcessing refused by the aggregate');
              return;
            }
            throw failErr;
          }
          return;
        }
        if (err instanceof DomainError) {
          // The aggregate refused a command (e.g. the video was deleted meanwhile): retrying cannot help.
          log.warn({ err, code: err.code }, 'command refused; job dropped');
          return;
        }
        throw err;
      }
    },
    async onDeadLetter(record, error) {
      const job = await decodeUploadCompleted(record);
      if (!job) return;
      await send('FailProcessing', {
        videoId: job.videoId,
        reason: `processing failed after retries: ${error.message}`,
        code: PROCESSING_FAILED_CODE,
      });
    },
  };
}

/** Strips the sidecar-only fields (the event carries RenditionInfo exactly). */
function toRenditionInfo(r: EncodedRendition): RenditionInfo {
  return { name: r.name, width: r.width, height: r.height, bandwidth: r.bandwidth, codecs: r.codecs, playlist: r.playlist };
}
