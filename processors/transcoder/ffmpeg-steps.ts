/**
 * Running the FFmpeg jobs of a transcode, with failures sorted into permanent input problems
 * (MediaRejectedError: the video is failed, not retried) and transient ones (rethrown: the
 * runtime retries).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { buildFfmpegInvocation, planThumbnail } from './ffmpeg-args.ts';
import type { FfmpegJob } from './ffmpeg-args.ts';
import { FfmpegRunError, runFfmpeg } from './ffmpeg-runner.ts';
import { MediaRejectedError } from './ffprobe.ts';
import type { TranscodePlan } from './transcode-plan.ts';

/** What running FFmpeg needs: the binary and the job's logger. */
export interface FfmpegEnv {
  ffmpegPath: string;
  logger: Logger;
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
 * Runs one job; `what` names its output in error messages. With `onFraction` and `duration`
 * (seconds of source), reports the fraction (0–1) of the source encoded so far.
 * @throws MediaRejectedError (see classifyFfmpegError), or the transient error as is
 */
export async function runJob(env: FfmpegEnv, job: FfmpegJob, what: string, onFraction?: (f: number) => void, duration?: number): Promise<void> {
  try {
    await runFfmpeg(buildFfmpegInvocation(job), {
      ffmpegPath: env.ffmpegPath,
      logger: env.logger,
      onProgress: onFraction && duration ? (t) => onFraction(t / duration) : undefined,
    });
  } catch (err) {
    throw classifyFfmpegError(err, what);
  }
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
  await runJob(env, { ...base, atSeconds: t.atSeconds }, 'the thumbnail');
  // A duration that lies (truncated files) can put the seek point past the last frame: retry at 0.
  if (!(await stat(output).catch(() => null))?.size && t.atSeconds > 0) await runJob(env, { ...base, atSeconds: 0 }, 'the thumbnail');
  if (!(await stat(output).catch(() => null))?.size) {
    throw new MediaRejectedError('UNDECODABLE_VIDEO', 'No video frame could be decoded for the thumbnail.');
  }
  return output;
}
