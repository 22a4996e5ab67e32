import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';

const run = promisify(execFile);
const FFMPEG = process.env.STREAMWAVE_FFMPEG_PATH ?? 'ffmpeg';

/**
 * Makes a test clip with ffmpeg's lavfi sources (test pattern + tone), so the tests need no media
 * files of their own.
 * @param o.seconds duration; o.width/o.height coded size; o.audio add a 440 Hz tone; o.rotate write
 *   a display-matrix rotation (degrees) into the MP4; o.bitrate video bits/s (to make larger files).
 */
export async function makeClip(path: string, o: { seconds: number; width: number; height: number; fps?: number; audio?: boolean; rotate?: number; bitrate?: number }): Promise<string> {
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${o.width}x${o.height}:rate=${o.fps ?? 25}:duration=${o.seconds}`];
  if (o.audio !== false) args.push('-f', 'lavfi', '-i', `sine=frequency=440:duration=${o.seconds}`);
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
  if (o.bitrate) args.push('-b:v', String(o.bitrate), '-maxrate', String(o.bitrate), '-bufsize', String(o.bitrate));
  if (o.audio !== false) args.push('-c:a', 'aac', '-shortest');
  if (o.rotate) args.push('-metadata:s:v:0', `rotate=${o.rotate}`);
  args.push(path);
  await run(FFMPEG, args);
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
