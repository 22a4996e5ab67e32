import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, rm, writeFile } from 'node:fs/promises';

const run = promisify(execFile);
const FFMPEG = process.env.STREAMWAVE_FFMPEG_PATH ?? 'ffmpeg';

/**
 * Makes a test clip with ffmpeg's lavfi sources (test pattern + tone), so the tests need no media
 * files of their own.
 * @param o.seconds duration; o.width/o.height coded size, pixels (odd sizes are stored as 4:4:4,
 *   which H.264 allows and 4:2:0 does not); o.fps frames/s (default 25);
 *   o.audio add a 440 Hz tone (default true); o.rotate write a display-matrix rotation (degrees)
 *   into the MP4; o.sar sample aspect ratio, e.g. `2:1` (non-square pixels); o.vfr variable frame
 *   rate (every frame for the first second, then one in four); o.faststart put the index (moov)
 *   before the media data, so a truncated copy still has it; o.noisy add noise (larger files);
 *   o.metadata global tags, e.g. `location`.
 */
export async function makeClip(
  path: string,
  o: {
    seconds: number;
    width: number;
    height: number;
    fps?: number;
    audio?: boolean;
    rotate?: number;
    sar?: string;
    vfr?: boolean;
    faststart?: boolean;
    noisy?: boolean;
    metadata?: Record<string, string>;
  },
): Promise<string> {
  const odd = o.width % 2 === 1 || o.height % 2 === 1;
  // testsrc2 rounds odd sizes down to even: draw at an even size and scale to the exact one.
  const srcSize = odd ? `${o.width + (o.width % 2)}x${o.height + (o.height % 2)}` : `${o.width}x${o.height}`;
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${srcSize}:rate=${o.fps ?? 25}:duration=${o.seconds}`];
  if (o.audio !== false) args.push('-f', 'lavfi', '-i', `sine=frequency=440:duration=${o.seconds}`);
  const filters: string[] = [];
  if (odd) filters.push(`scale=${o.width}:${o.height}`);
  // Noise defeats compression: a few seconds make a multi-part (> 5 MiB) upload.
  if (o.noisy) filters.push('noise=alls=80:allf=t+u');
  if (o.vfr) filters.push("select='lt(t,1)+not(mod(n,4))'");
  if (o.sar) filters.push(`setsar=${o.sar.replace(':', '/')}`);
  if (filters.length) args.push('-vf', filters.join(','));
  if (o.noisy) args.push('-qp', '30');
  if (o.vfr) args.push('-fps_mode', 'vfr');
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', odd ? 'yuv444p' : 'yuv420p');
  if (o.audio !== false) args.push('-c:a', 'aac', '-shortest');
  if (o.faststart) args.push('-movflags', '+faststart');
  for (const [k, v] of Object.entries(o.metadata ?? {})) args.push('-metadata', `${k}=${v}`);
  // FFmpeg 5.1 has no -display_rotation: a `rotate` tag on an MP4 stream copy writes a display matrix.
  const encoded = o.rotate ? `${path}.plain.mp4` : path;
  args.push(encoded);
  await run(FFMPEG, args);
  if (o.rotate) {
    await run(FFMPEG, ['-v', 'error', '-y', '-i', encoded, '-c', 'copy', '-metadata:s:v:0', `rotate=${o.rotate}`, ...(o.faststart ? ['-movflags', '+faststart'] : []), path]);
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

/**
 * A two-frame MJPEG MKV of `width`×`height` pixels (a flat grey picture, 1 frame/s). FFmpeg 5.1
 * refuses frames where (w+128)×(h+128) ≥ 2³¹/8, so 16384×16000 is about the largest it makes;
 * a true 16384×16384 file probes as 0×0. Needs ~2.5 GB of memory for a 16384-wide frame.
 */
export async function makeHugeFrames(path: string, width: number, height: number): Promise<string> {
  await run(FFMPEG, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=gray:s=${width}x${height}:r=1:d=1`, '-c:v', 'mjpeg', '-q:v', '31', '-pix_fmt', 'yuvj420p', path]);
  return path;
}

/**
 * A tiny MKV holding two 64×64 H.264 frames `apartSeconds` apart (pts 0 and `apartSeconds`), so it
 * claims a duration of `apartSeconds` + 1 s in about 1.3 kB (issue 8: "two frames ten hours apart").
 */
export async function makeTwoFramesApart(path: string, apartSeconds: number): Promise<string> {
  await run(FFMPEG, [
    '-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=blue:s=64x64:r=1:d=2', '-vf', `setpts=N*${apartSeconds}/TB`,
    '-fps_mode', 'passthrough', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', path,
  ]);
  return path;
}
