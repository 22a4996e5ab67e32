import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, rm, writeFile } from 'node:fs/promises';

const run = promisify(execFile);
const FFMPEG = process.env.STREAMWAVE_FFMPEG_PATH ?? 'ffmpeg';

/**
 * Makes a test clip with ffmpeg's lavfi sources (test pattern + tone), so the tests need no media
 * files of their own.
 * @param o.seconds duration; o.width/o.height coded size, pixels; o.fps frames/s (default 25);
 *   o.audio add a 440 Hz tone (default true); o.rotate write a display-matrix rotation (degrees)
 *   into the MP4; o.noisy add noise (larger files); o.metadata global tags, e.g. `location`.
 */
export async function makeClip(
  path: string,
  o: { seconds: number; width: number; height: number; fps?: number; audio?: boolean; rotate?: number; noisy?: boolean; metadata?: Record<string, string> },
): Promise<string> {
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${o.width}x${o.height}:rate=${o.fps ?? 25}:duration=${o.seconds}`];
  if (o.audio !== false) args.push('-f', 'lavfi', '-i', `sine=frequency=440:duration=${o.seconds}`);
  // Noise defeats compression: a few seconds make a multi-part (> 5 MiB) upload.
  if (o.noisy) args.push('-vf', 'noise=alls=80:allf=t+u', '-qp', '30');
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
  if (o.audio !== false) args.push('-c:a', 'aac', '-shortest');
  for (const [k, v] of Object.entries(o.metadata ?? {})) args.push('-metadata', `${k}=${v}`);
  // FFmpeg 5.1 has no -display_rotation: a `rotate` tag on an MP4 stream copy writes a display matrix.
  const encoded = o.rotate ? `${path}.plain.mp4` : path;
  args.push(encoded);
  await run(FFMPEG, args);
  if (o.rotate) {
    await run(FFMPEG, ['-v', 'error', '-y', '-i', encoded, '-c', 'copy', '-metadata:s:v:0', `rotate=${o.rotate}`, path]);
    await rm(encoded, { force: true });
  }
  return path;
}

/** An audio-only M4A (AAC tone). */
export async function makeAudioOnly(path: string, seconds = 3): Promise<string> {
  await run(FFMPEG, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=330:duration=${seconds}`, '-c:a', 'aac', path]);
  return path;
}

/** A copy of `src` cut to the first `fraction` of its bytes (a truncated upload). */
export async function truncateCopy(src: string, dest: string, fraction: number): Promise<string> {
  const b = await readFile(src);
  await writeFile(dest, b.subarray(0, Math.floor(b.length * fraction)));
  return dest;
}
