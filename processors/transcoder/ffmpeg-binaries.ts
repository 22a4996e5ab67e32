import { accessSync, constants } from 'node:fs';

/** Absolute paths (or PATH-resolved names) of the FFmpeg binaries the transcoder runs. */
interface FfmpegBinaries {
  ffmpeg: string;
  ffprobe: string;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Resolves the FFmpeg binaries, in this order:
 * 1. env `STREAMWAVE_FFMPEG_PATH` / `STREAMWAVE_FFPROBE_PATH` (e.g. a binary shipped by an npm
 *    package such as `ffmpeg-static`, or a custom build);
 * 2. the system FFmpeg at `/usr/bin/ffmpeg` / `/usr/bin/ffprobe` (Debian's FFmpeg 5.1);
 * 3. the bare names `ffmpeg` / `ffprobe`, looked up on PATH when spawned.
 * Never throws; a missing binary surfaces as a spawn error (ENOENT) when it is first run.
 */
export function resolveFfmpegBinaries(env: NodeJS.ProcessEnv = process.env): FfmpegBinaries {
  const pick = (envName: string, system: string, bare: string): string => {
    const fromEnv = env[envName];
    if (fromEnv) return fromEnv;
    if (executable(system)) return system;
    return bare;
  };
  return {
    ffmpeg: pick('STREAMWAVE_FFMPEG_PATH', '/usr/bin/ffmpeg', 'ffmpeg'),
    ffprobe: pick('STREAMWAVE_FFPROBE_PATH', '/usr/bin/ffprobe', 'ffprobe'),
  };
}
