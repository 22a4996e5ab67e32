/**
 * Running the FFmpeg jobs of a transcode, with failures sorted into permanent input problems
 * (MediaRejectedError: the video is failed, not retried) and transient ones (rethrown: the
 * runtime retries).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ObjectStoreError, type ObjectStore } from '../../platform/object-store/object-store.port.ts';
import { BoundedProcessError } from './bounded-process.ts';
import { buildFfmpegInvocation, planThumbnail } from './ffmpeg-args.ts';
import type { FfmpegInvocation, FfmpegJob } from './ffmpeg-args.ts';
import { runFfmpeg } from './ffmpeg-runner.ts';
import { MediaRejectedError, probeMedia } from './ffprobe.ts';
import { checkSourceLimits, DEFAULT_SOURCE_LIMITS, DEFAULT_TIME_LIMITS, encodeTimeLimitSeconds, type SourceLimits, type TimeLimits } from './media-limits.ts';
import { planTranscode, type TranscodePlan } from './transcode-plan.ts';

/** What running FFmpeg needs: the binary, the job's logger and its bounds. */
export interface FfmpegEnv {
  ffmpegPath: string;
  logger: Logger;
  /** Time limits (default DEFAULT_TIME_LIMITS). */
  timeLimits?: TimeLimits;
  /** Address-space cap per FFmpeg process, bytes, applied with `prlimit` when `prlimitPath` is set. */
  memoryLimitBytes?: number;
  prlimitPath?: string | null;
  /** The job's abort signal (the processor runtime's, on shutdown): kills the running FFmpeg. */
  signal?: AbortSignal;
  /** Called when an FFmpeg or ffprobe run was killed at its time limit or for a stall. */
  onTimeLimitExceeded?: (what: 'probe' | 'encode', cause: 'timeout' | 'stalled') => void;
}

/**
 * FFmpeg was killed for memory (SIGKILL not sent by us, as the kernel's OOM killer does), or an
 * allocation failed (ENOMEM, "Cannot allocate memory": the `prlimit --as` cap). Not the input's
 * fault for sure: the transcoder retries once, then fails the video with OUT_OF_MEMORY.
 */
export class OutOfMemoryError extends Error {
  constructor(message: string, readonly stderrTail: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OutOfMemoryError';
  }
}

const OOM_TEXT = /Cannot allocate memory|ENOMEM|Out of memory|malloc of size \d+ failed|std::bad_alloc|failed to allocate/i;

/**
 * Whether a failed FFmpeg run ran out of memory: killed with a SIGKILL we did not send (the
 * kernel's OOM killer; runBounded reports our own kills as timeout/stalled/aborted), or it failed
 * and its stderr tail reports an allocation failure (ENOMEM, "Cannot allocate memory": the
 * `prlimit --as` cap of STREAMWAVE_TRANSCODE_MEMORY_LIMIT_BYTES). Only `exit` and `signal`
 * failures qualify: a bound we hit or a spawn failure is never the memory's doing. The one rule
 * for every FFmpeg run (the transcoder's steps below, the gateway's thumbnail encoder).
 */
export function isOutOfMemoryFailure(err: BoundedProcessError): boolean {
  if (err.kind !== 'exit' && err.kind !== 'signal') return false;
  return (err.kind === 'signal' && err.details.signal === 'SIGKILL') || OOM_TEXT.test(err.stderrTail);
}

/**
 * Sorts an FFmpeg failure: a bound hit (PROCESSING_TIMEOUT, permanent), out of memory
 * (OutOfMemoryError), a permanent input problem (MediaRejectedError), or transient (returned as is:
 * spawn failure, shutdown abort, full disk, other signals).
 */
function classifyFfmpegError(env: FfmpegEnv, err: unknown, what: string): Error {
  if (!(err instanceof BoundedProcessError)) return err instanceof Error ? err : new Error(String(err));
  if (err.kind === 'timeout' || err.kind === 'stalled') {
    env.onTimeLimitExceeded?.('encode', err.kind);
    env.logger.error({ err, what, stderrTail: err.stderrTail }, 'ffmpeg killed at its time limit');
    return new MediaRejectedError('PROCESSING_TIMEOUT', `${what}: ${err.message}`, { cause: err });
  }
  if (err.kind === 'aborted' || err.kind === 'spawn') return err;
  if (isOutOfMemoryFailure(err)) {
    env.logger.error({ err, what, stderrTail: err.stderrTail }, 'ffmpeg ran out of memory');
    return new OutOfMemoryError(`${what}: ${err.message}`, err.stderrTail, { cause: err });
  }
  if (err.kind === 'signal' || /No space left|Too many open files/i.test(err.stderrTail)) return err;
  const lastLine = err.stderrTail.split('\n').filter(Boolean).pop() ?? err.message;
  const undecodable = /decod|Invalid data found|corrupt|non-existing PPS|no frame|Invalid NAL/i.test(err.stderrTail);
  // The stderr tail (server paths included) goes to the structured log only; clients get the code's sentence.
  env.logger.warn({ what, stderrTail: err.stderrTail }, 'ffmpeg failed on this input');
  return new MediaRejectedError(undecodable ? 'UNDECODABLE_VIDEO' : 'ENCODE_FAILED', `${what}: ${lastLine.trim().slice(0, 200)}`, { cause: err });
}

/**
 * Runs one job; `what` names its output in error messages. With `onFraction` and `duration`
 * (seconds of source), reports the fraction (0–1) of the source encoded so far. The run is bounded
 * by `encodeTimeLimitSeconds(duration)`, the stall limit, the memory cap and `env.signal`.
 * @throws MediaRejectedError (PROCESSING_TIMEOUT, UNDECODABLE_VIDEO, ENCODE_FAILED),
 *   OutOfMemoryError, or the transient error as is (BoundedProcessError aborted/spawn/signal)
 */
export async function runJob(env: FfmpegEnv, job: FfmpegJob, what: string, onFraction?: (f: number) => void, duration?: number): Promise<void> {
  await runInvocation(env, buildFfmpegInvocation(job), what, onFraction, duration);
}

/** `runJob` for an invocation already built (a chunk of a ladder run: chunked/chunk-encode.ts). Same bounds and errors. */
export async function runInvocation(env: FfmpegEnv, inv: FfmpegInvocation, what: string, onFraction?: (f: number) => void, duration?: number): Promise<void> {
  const limits = env.timeLimits ?? DEFAULT_TIME_LIMITS;
  try {
    await runFfmpeg(inv, {
      ffmpegPath: env.ffmpegPath,
      logger: env.logger,
      onProgress: onFraction && duration ? (t) => onFraction(t / duration) : undefined,
      bounds: {
        timeoutMs: encodeTimeLimitSeconds(duration ?? 0, limits) * 1000,
        stallMs: limits.stallSeconds * 1000,
        killGraceMs: limits.killGraceSeconds * 1000,
        memoryLimitBytes: env.memoryLimitBytes,
        prlimitPath: env.prlimitPath,
        signal: env.signal,
      },
    });
  } catch (err) {
    throw classifyFfmpegError(env, err, what);
  }
}

/**
 * Downloads the uploaded source `objectKey` to `<dir>/source` (the transcode job's and every
 * chunk encoder's first step); returns its path.
 * @throws MediaRejectedError SOURCE_NOT_FOUND when the object is gone; the store's other errors as they come
 */
export async function downloadSource(store: ObjectStore, objectKey: string, dir: string): Promise<string> {
  const src = join(dir, 'source');
  try {
    await store.downloadToFile(objectKey, src);
  } catch (err) {
    if (err instanceof ObjectStoreError && err.code === 'NoSuchKey') {
      throw new MediaRejectedError('SOURCE_NOT_FOUND', 'The uploaded file is no longer available.', { cause: err });
    }
    throw err;
  }
  return src;
}

/**
 * Probes the local source `src` (bounded by the probe time limit), checks it against `limits` and
 * plans its ladder (transcode-plan.ts). Deterministic: the coordinator of a chunked transcode and
 * every chunk encoder plan the same ladder from the same file.
 * @throws MediaRejectedError for a source beyond the limits or one ffprobe rejects or times out on
 */
export async function probeAndPlan(env: FfmpegEnv & { ffprobePath: string; sourceLimits?: SourceLimits }, src: string): Promise<TranscodePlan> {
  const limits = env.sourceLimits ?? DEFAULT_SOURCE_LIMITS;
  const timeLimits = env.timeLimits ?? DEFAULT_TIME_LIMITS;
  let info;
  try {
    info = await probeMedia(src, {
      ffprobePath: env.ffprobePath,
      timeoutMs: timeLimits.probeSeconds * 1000,
      bounds: { killGraceMs: timeLimits.killGraceSeconds * 1000, memoryLimitBytes: env.memoryLimitBytes, prlimitPath: env.prlimitPath, signal: env.signal },
    });
  } catch (err) {
    if (err instanceof MediaRejectedError && err.code === 'PROCESSING_TIMEOUT') env.onTimeLimitExceeded?.('probe', 'timeout');
    throw err;
  }
  checkSourceLimits(info, limits);
  return planTranscode(src, info, limits.maxSidePx);
}

/**
 * Grabs the thumbnail into `<dir>/thumbnail.jpg`; returns its path.
 * @throws MediaRejectedError UNDECODABLE_VIDEO when no frame decodes
 */
export async function makeThumbnail(env: FfmpegEnv, dir: string, plan: TranscodePlan): Promise<string> {
  const { info, video } = plan;
  const t = planThumbnail(info.duration, video.displayWidth, video.displayHeight);
  const output = join(dir, 'thumbnail.jpg');
  const base = { type: 'thumbnail' as const, input: plan.src, videoStreamIndex: video.index, interlaced: video.interlaced, width: t.width, height: t.height, output };
  await runJob(env, { ...base, atSeconds: t.atSeconds }, 'the thumbnail', undefined, info.duration);
  // A duration that lies (truncated files) can put the seek point past the last frame: retry at 0.
  if (!(await stat(output).catch(() => null))?.size && t.atSeconds > 0) await runJob(env, { ...base, atSeconds: 0 }, 'the thumbnail', undefined, info.duration);
  if (!(await stat(output).catch(() => null))?.size) {
    throw new MediaRejectedError('UNDECODABLE_VIDEO', 'No video frame could be decoded for the thumbnail.');
  }
  return output;
}
