/**
 * The chunk encoder: the transcoder role's second processor node (consumer group
 * `streamwave.transcoder-chunks`, topic TRANSCODE_CHUNKS_TOPIC). Every transcoder instance runs
 * one, so the chunks of a long video are encoded by whichever instances take their partitions
 * (docs/adr/0008-segment-parallel-encoding-over-a-chunk-topic.md).
 *
 * For one TranscodeChunkTask: download the source, probe and plan it as the coordinator did
 * (`probeAndPlan`: the same file gives the same ladder), encode the chunk's span of the listed
 * rungs (chunk-encode.ts: segments numbered and timed as the single run's), upload its segments
 * (and, for chunk 0, each rung's init.mp4) under the video's HLS keys, then write the chunk's
 * result (`chunkKeys.result`) LAST: the coordinator (chunked-ladder.ts) reads only results.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';
import { processingFailureMessage } from '../../../domain/video/processing-failure.ts';
import { inAttemptFolder } from '../../../platform/files/attempt-folder.ts';
import type { LogRecord } from '../../../platform/log/event-log.port.ts';
import type { ObjectStore } from '../../../platform/object-store/object-store.port.ts';
import { readObject } from '../../../platform/object-store/object-store.port.ts';
import type { ChunkTaskCodec, TranscodeChunkTask } from '../../../schemas/codec/task-schemas.ts';
import { TRANSCODE_CHUNKS_TOPIC } from '../../../schemas/topics.ts';
import type { ProcessorNode } from '../../runtime/topology.port.ts';
import { prlimitFor } from '../bounded-process.ts';
import type { HlsLadderJob, HlsRenditionOutput } from '../ffmpeg-args.ts';
import { downloadSource, probeAndPlan, runInvocation, type FfmpegEnv } from '../ffmpeg-steps.ts';
import { MediaRejectedError } from '../ffprobe.ts';
import { chunkKeys, contentTypeOf, hlsKeys } from '../hls-keys.ts';
import { parseMediaPlaylist } from '../master-playlist.ts';
import type { SourceLimits } from '../media-limits.ts';
import { ladderJob } from '../transcode-plan.ts';
import { buildChunkInvocation } from './chunk-encode.ts';

/** The chunk encoder's node name (consumer group `streamwave.transcoder-chunks`). */
export const CHUNK_ENCODER_NAME = 'transcoder-chunks';

/** One rung of one encoded chunk, as its result lists it. */
export interface ChunkRendition {
  /** The chunk's own media playlist (its segments only, numbered on the whole video's timeline). */
  playlist: string;
  /** Its segments in order: URI, duration (seconds), size (bytes). */
  segments: { uri: string; duration: number; bytes: number }[];
  /** Size of the rung's init.mp4, bytes (chunk 0 only: the one init segment every chunk's segments use). */
  initBytes?: number;
}

/** What a chunk encoder writes at `chunkKeys.result` once a chunk is done (or failed for good). */
export interface ChunkResult {
  videoId: string;
  chunkIndex: number;
  /** Which instance encoded it (`<hostname>/<pid>`), for logs and the cluster test. */
  encodedBy: string;
  /** The task's `requestedAt` (ms since the epoch): a coordinator ignores failures of an earlier attempt's tasks. */
  requestedAt: number;
  /** The chunk's span, seconds: a coordinator planning other chunks (changed settings) ignores the result. */
  startSeconds: number;
  endSeconds: number;
  /** Wall time of the chunk's FFmpeg run, seconds. */
  encodeSeconds?: number;
  /** Per rung name; absent when failed. */
  renditions?: Record<string, ChunkRendition>;
  /** Set when the chunk failed for good: the code and the public sentence (domain/video/processing-failure.ts). */
  failed?: { code: MediaRejectedError['code']; reason: string };
}

/** The job object (`chunkKeys.job`) a coordinator writes: the attempt whose tasks are wanted, while it is active. */
export interface ChunkedJobState {
  objectKey: string;
  chunks: number;
  renditions: string[];
  /** The attempt's `requestedAt` (its tasks carry it), ms since the epoch. */
  requestedAt: number;
  /** False once the attempt ended (done, failed, timed out or stopped): its remaining tasks are dropped. */
  active: boolean;
}

/** What the chunk encoder is built from. */
export interface ChunkEncoderDeps {
  tasks: ChunkTaskCodec;
  objectStore: ObjectStore;
  /** Scratch folder; each attempt of a chunk works in its own `<workDir>/chunk-<videoId>-<index>.<pid>.<random>/` (deleted at the end). */
  workDir: string;
  ffmpegPath: string;
  ffprobePath: string;
  logger?: Logger;
  sourceLimits?: SourceLimits;
  timeLimits?: FfmpegEnv['timeLimits'];
  /** Address-space cap per FFmpeg process, bytes (0 or absent: none), with `prlimitPath` (default `findPrlimit()`). */
  memoryLimitBytes?: number;
  prlimitPath?: string | null;
  /** This instance's name in results; default `<hostname>/<pid>`. */
  instance?: string;
}

/** Reads a small object as text; undefined when absent. @throws ObjectStoreError for other failures */
export async function readObjectText(objectStore: ObjectStore, key: string): Promise<string | undefined> {
  return (await readObject(objectStore, key))?.toString('utf8');
}

/**
 * Builds the chunk encoder node. Idempotent per chunk: a task whose successful result exists is
 * skipped (redelivery); a task its job no longer wants (job object gone with the deleted video,
 * inactive, or written by a later attempt) is dropped, before encoding and again before uploading. A permanent input problem writes a failed result (the coordinator then fails or
 * narrows the job); other errors are thrown (the runtime retries, then dead-letters, and
 * `onDeadLetter` writes a failed result so the coordinator does not wait for ever).
 */
export function buildChunkEncoderProcessor(deps: ChunkEncoderDeps): ProcessorNode {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const instance = deps.instance ?? `${hostname()}/${process.pid}`;
  const store = deps.objectStore;
  const prlimitPath = prlimitFor(deps.memoryLimitBytes ?? 0, deps.prlimitPath);

  const resultOf = (task: TranscodeChunkTask): ChunkResult => ({
    videoId: task.videoId, chunkIndex: task.chunkIndex, encodedBy: instance, requestedAt: task.requestedAt, startSeconds: task.startSeconds, endSeconds: task.endSeconds,
  });
  /** Whether the chunk already has a successful result (a failure never replaces one). */
  const succeeded = async (task: TranscodeChunkTask): Promise<boolean> => {
    const text = await readObjectText(store, chunkKeys.result(task.videoId, task.chunkIndex));
    return text !== undefined && !(JSON.parse(text) as ChunkResult).failed;
  };
  /** Whether the video's job still wants this task: its job object exists, is active, and is the attempt that wrote the task. */
  const jobWants = async (task: TranscodeChunkTask): Promise<boolean> => {
    const text = await readObjectText(store, chunkKeys.job(task.videoId));
    const job = text === undefined ? undefined : (JSON.parse(text) as ChunkedJobState);
    return job?.active === true && job.requestedAt === task.requestedAt;
  };
  const putResult = (result: ChunkResult): Promise<void> =>
    store.putObject(chunkKeys.result(result.videoId, result.chunkIndex), Buffer.from(JSON.stringify(result)), 'application/json');

  async function encode(task: TranscodeChunkTask, dir: string, log: Logger, signal: AbortSignal | undefined): Promise<ChunkResult> {
    const src = await downloadSource(store, task.objectKey, dir);
    const env = { ...deps, prlimitPath, logger: log, signal };
    const plan = await probeAndPlan(env, src);
    const rungs = task.renditions.map((name) => plan.rungs.find((p) => p.name === name));
    if (rungs.some((p) => !p)) throw new Error(`chunk ${task.chunkIndex}: the ladder planned here (${plan.rungs.map((p) => p.name).join(', ')}) lacks a rung of the task (${task.renditions.join(', ')})`);
    const outs = (await Promise.all(rungs.map(async (p) => {
      const outputDir = join(dir, 'hls', p!.name);
      await mkdir(outputDir, { recursive: true });
      return { plan: p!, outputDir };
    }))) as [HlsRenditionOutput, ...HlsRenditionOutput[]];
    const job = ladderJob(plan, task.segmentSeconds, outs) as HlsLadderJob;
    const span = { index: task.chunkIndex, startSeconds: task.startSeconds, endSeconds: task.endSeconds, last: task.last, firstSegmentIndex: task.firstSegmentIndex };
    const started = performance.now();
    await runInvocation(env, buildChunkInvocation(job, span), `chunk ${task.chunkIndex}`, undefined, task.endSeconds - task.startSeconds);
    const encodeSeconds = (performance.now() - started) / 1000;
    // Deleted, or the job moved on (finished, failed, redelivered) meanwhile? Then nothing of it may reach the object store.
    if (!(await jobWants(task))) throw new JobGone();
    const renditions: Record<string, ChunkRendition> = {};
    for (const out of outs) {
      const playlist = await readFile(join(out.outputDir, 'index.m3u8'), 'utf8');
      const segments = [];
      for (const seg of parseMediaPlaylist(playlist).segments) {
        const file = join(out.outputDir, seg.uri);
        segments.push({ uri: seg.uri, duration: seg.duration, bytes: (await stat(file)).size });
        await store.putFile(hlsKeys.rendition(task.videoId, out.plan.name, seg.uri), file, contentTypeOf(seg.uri));
      }
      if (segments.length === 0) throw new MediaRejectedError('UNDECODABLE_VIDEO', `No video frames could be decoded in chunk ${task.chunkIndex}.`);
      let initBytes: number | undefined;
      if (task.chunkIndex === 0) {
        const init = join(out.outputDir, 'init.mp4');
        initBytes = (await stat(init)).size;
        await store.putFile(hlsKeys.rendition(task.videoId, out.plan.name, 'init.mp4'), init, contentTypeOf('init.mp4'));
      }
      renditions[out.plan.name] = { playlist, segments, ...(initBytes === undefined ? {} : { initBytes }) };
    }
    return { ...resultOf(task), encodeSeconds, renditions };
  }

  const decode = async (record: LogRecord): Promise<TranscodeChunkTask | null> =>
    record.topic === TRANSCODE_CHUNKS_TOPIC && record.value !== null ? deps.tasks.decode(record.value) : null;

  return {
    kind: 'processor',
    name: CHUNK_ENCODER_NAME,
    inputs: [TRANSCODE_CHUNKS_TOPIC],
    guarantee: 'at-least-once',
    outputs: ['object store: videos/<videoId>/hls/<rung>/seg-…, transcode/<videoId>/chunks/…'],
    async handle(record, context) {
      const task = await decode(record);
      if (!task) return;
      const log = logger.child({ videoId: task.videoId, chunk: task.chunkIndex });
      if (await succeeded(task)) return; // done (a redelivery); a failure is tried again
      if (!(await jobWants(task))) {
        log.info('chunk task dropped: its job is gone (the video was deleted) or moved on (finished, failed or redelivered)');
        return;
      }
      await inAttemptFolder(deps.workDir, `chunk-${task.videoId}-${task.chunkIndex}`, async (dir) => {
        try {
          const result = await encode(task, dir, log, context?.signal);
          await putResult(result);
          log.info({ encodeSeconds: result.encodeSeconds, span: [task.startSeconds, task.endSeconds] }, 'chunk encoded');
        } catch (err) {
          if (err instanceof JobGone) {
            log.info('chunk encoded but its job is gone: nothing uploaded');
            return;
          }
          if (!(err instanceof MediaRejectedError) || context?.signal.aborted) throw err;
          log.warn({ code: err.code, detail: err.detail }, 'chunk failed for good');
          if (!(await succeeded(task))) await putResult({ ...resultOf(task), failed: { code: err.code, reason: err.reason } });
        }
      }, { onRemoveError: (err, dir) => log.warn({ err, dir }, 'could not delete chunk work dir') });
    },
    async onDeadLetter(record, error) {
      const task = await decode(record);
      if (!task) return;
      logger.error({ err: error, videoId: task.videoId, chunk: task.chunkIndex }, 'chunk dead-lettered; its job fails or narrows');
      if (!(await succeeded(task))) await putResult({ ...resultOf(task), failed: { code: 'ENCODE_FAILED', reason: processingFailureMessage('ENCODE_FAILED') } });
    },
  };
}

/** The chunk's job object disappeared while it was encoded. */
class JobGone extends Error {}
