import type { Logger } from 'pino';
import type { FfmpegInvocation } from './ffmpeg-args.ts';
import { toArgv } from './ffmpeg-args.ts';
import { runBounded, type BoundedProcessOptions } from './bounded-process.ts';

/** Parses `time=HH:MM:SS.xx` from an FFmpeg stats line; seconds, or null. */
export function parseStatsTime(line: string): number | null {
  const m = /time=\s*(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(line);
  if (!m || m[1] === '-') return null;
  return Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

interface RunFfmpegOptions {
  ffmpegPath: string;
  /** Called with the output time reached, seconds (from FFmpeg's periodic stats line). */
  onProgress?: (outputSeconds: number) => void;
  logger?: Logger;
  /**
   * Time limit, stall limit, memory cap, kill grace and abort signal (see `runBounded`). Progress
   * for the stall limit is the output time rising on FFmpeg's stats lines.
   */
  bounds?: Omit<BoundedProcessOptions, 'isProgress' | 'onStderrLine' | 'captureStdout'>;
}

/**
 * Runs one FFmpeg invocation as a bounded child process (bounded-process.ts: killed on its time
 * limit, a stall or shutdown, issue 8, and with this process when it dies). Arguments are passed
 * as an argv array, never one string.
 * @throws BoundedProcessError when FFmpeg exits non-zero, is killed (by a bound or a signal), or
 *   cannot be spawned; its `stderrTail` holds FFmpeg's last diagnostic lines.
 */
export async function runFfmpeg(inv: FfmpegInvocation, opts: RunFfmpegOptions): Promise<void> {
  const argv = toArgv(inv);
  opts.logger?.debug({ argv }, 'ffmpeg start');
  let reached = -1;
  await runBounded(opts.ffmpegPath, argv, {
    // Each output logs two lines per segment and ~20 encoder summary lines at the end: keep
    // enough to see which output failed (transcode-job.ts `failingRung`).
    tailLines: 30 + 24 * inv.outputs.length,
    ...opts.bounds,
    isProgress: (line) => {
      const t = parseStatsTime(line);
      if (t === null || t <= reached) return false;
      reached = t;
      return true;
    },
    onStderrLine: (line) => {
      const t = parseStatsTime(line);
      if (t !== null) opts.onProgress?.(t);
    },
  });
}
