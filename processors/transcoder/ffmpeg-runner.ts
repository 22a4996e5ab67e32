import ffmpeg from 'fluent-ffmpeg';
import type { Logger } from 'pino';
import type { FfmpegInvocation } from './ffmpeg-args.ts';
import { toArgv } from './ffmpeg-args.ts';

/** FFmpeg did not finish successfully. */
export class FfmpegRunError extends Error {
  constructor(
    message: string,
    /** Killed by a signal (e.g. SIGKILL from the OOM killer): not the input's fault. */
    readonly killed: boolean,
    /** Last lines of FFmpeg's stderr (diagnostics). */
    readonly stderrTail: string,
    /** Spawn failure code (ENOENT…) when FFmpeg could not be started at all. */
    readonly spawnCode?: string,
  ) {
    super(message);
    this.name = 'FfmpegRunError';
  }
}

/** Parses `time=HH:MM:SS.xx` from an FFmpeg stats line; seconds, or null. */
function parseStatsTime(line: string): number | null {
  const m = /time=\s*(-?)(\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(line);
  if (!m || m[1] === '-') return null;
  return Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

interface RunFfmpegOptions {
  ffmpegPath: string;
  /** Called with the output time reached, seconds (from FFmpeg's periodic stats line). */
  onProgress?: (outputSeconds: number) => void;
  logger?: Logger;
}

/**
 * Runs one FFmpeg invocation through fluent-ffmpeg.
 * Options are passed as separate arguments (never one string), so fluent-ffmpeg does not split
 * them on spaces.
 * @throws FfmpegRunError when FFmpeg exits non-zero, is killed, or cannot be spawned.
 */
export function runFfmpeg(inv: FfmpegInvocation, opts: RunFfmpegOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    // stdoutLines sizes fluent-ffmpeg's ring buffers (stdout and stderr): the last 100 lines for diagnostics.
    const cmd = ffmpeg({ stdoutLines: 100 }).setFfmpegPath(opts.ffmpegPath);
    cmd.input(inv.input);
    if (inv.inputOptions.length) cmd.inputOptions(...(inv.inputOptions as [string, ...string[]]));
    if (inv.complexFilter) cmd.complexFilter(inv.complexFilter);
    for (const o of inv.outputs) {
      cmd.output(o.target);
      if (o.options.length) cmd.outputOptions(...(o.options as [string, ...string[]]));
    }
    opts.logger?.debug({ argv: toArgv(inv) }, 'ffmpeg start');
    cmd.on('stderr', (line: string) => {
      const t = parseStatsTime(line);
      if (t !== null) opts.onProgress?.(t);
    });
    cmd.on('error', (err: Error & { code?: unknown }, _stdout: string | null, stderr: string | null) => {
      const tail = (stderr ?? '').split('\n').filter((l) => l.trim() && !/^\s*(frame|size)=/.test(l)).slice(-15).join('\n');
      const spawnCode = typeof err.code === 'string' ? err.code : undefined;
      reject(new FfmpegRunError(err.message, /killed with signal/.test(err.message), tail, spawnCode));
    });
    cmd.on('end', () => resolve());
    cmd.run();
  });
}
