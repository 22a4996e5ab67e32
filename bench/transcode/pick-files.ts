/** Picking the benchmark's files: the largest playable videos of a media folder, or generated 1080p clips. */
import { readdir } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { MediaRejectedError, probeMedia } from '../../processors/transcoder/ffprobe.ts';
import type { SourceInfo } from '../../processors/transcoder/ffprobe.ts';
import { BINARIES, execFileP, log, spawnFfmpeg, ticker } from './support.ts';

/** Which files `pickLargest` picks. */
export interface PickOptions {
  /** How many files to pick. */
  files: number;
  mediaDir: string;
  /** `playable`: duration = what the video stream's packets cover (truncated files rank by what decodes); `header`: the container's claim. */
  rankBy: 'playable' | 'header';
}

/** A playable video of the media folder, with what ranks it. */
export interface Candidate {
  path: string;
  /** Path shown in the table (relative to the media folder). */
  label: string;
  info: SourceInfo;
  /** Seconds the video packets cover (≤ header duration for truncated files). */
  playableSeconds: number;
  /** displayWidth × displayHeight × ranking duration. */
  weight: number;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !/\.(md|json|txt)$/i.test(e.name))
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort();
}

/** Seconds covered by the packets of one stream (last pts + its duration − first pts); 0 when none. */
async function packetSpanSeconds(path: string, streamIndex: number): Promise<number> {
  const { stdout } = await execFileP(
    BINARIES.ffprobe,
    ['-v', 'error', '-protocol_whitelist', 'file', '-select_streams', String(streamIndex), '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', path],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  let first = Infinity;
  let last = -Infinity;
  for (const line of stdout.split('\n')) {
    const [pts, dur] = line.split(',').map(Number);
    if (pts === undefined || !Number.isFinite(pts)) continue;
    first = Math.min(first, pts);
    last = Math.max(last, pts + (Number.isFinite(dur) ? dur! : 0));
  }
  return last > first ? last - first : 0;
}

/**
 * Probes every file under `opts.mediaDir` as the transcoder does and returns the `opts.files`
 * largest playable videos by display pixels × duration (`opts.rankBy`), largest first.
 */
export async function pickLargest(opts: PickOptions): Promise<Candidate[]> {
  const files = await listFiles(opts.mediaDir);
  log(`probing ${files.length} files in ${opts.mediaDir} (probeMedia, as the transcoder does)`);
  const found: Candidate[] = [];
  let rejected = 0;
  for (const path of files) {
    let info: SourceInfo;
    try {
      info = await probeMedia(path, { ffprobePath: BINARIES.ffprobe });
    } catch (err) {
      if (err instanceof MediaRejectedError) {
        rejected++;
        continue;
      }
      throw err;
    }
    const v = info.video!;
    const playableSeconds = Math.min(info.duration, await packetSpanSeconds(path, v.index).catch(() => 0));
    if (!(playableSeconds > 0)) {
      rejected++;
      continue;
    }
    const seconds = opts.rankBy === 'header' ? info.duration : playableSeconds;
    found.push({ path, label: relative(opts.mediaDir, path), info, playableSeconds, weight: v.displayWidth * v.displayHeight * seconds });
  }
  found.sort((a, b) => b.weight - a.weight || a.label.localeCompare(b.label));
  log(`${found.length} playable videos, ${rejected} rejected; ranked by display pixels × ${opts.rankBy} duration:`);
  for (const c of found.slice(0, opts.files + 3)) {
    const v = c.info.video!;
    const truncated = c.playableSeconds < c.info.duration * 0.9 ? ` (header claims ${c.info.duration.toFixed(1)} s: truncated)` : '';
    log(`  ${(c.weight / 1e6).toFixed(1).padStart(7)} Mpx·s  ${c.label}  ${v.displayWidth}x${v.displayHeight}  ${c.playableSeconds.toFixed(2)} s${truncated}`);
  }
  return found.slice(0, opts.files);
}

/** What the generated clips are; the benchmark prints it. */
export const GENERATED_CLIP =
  '1920x1080 30 fps H.264 (libx264 ultrafast, 8 Mbit/s, maxrate 8M, bufsize 16M, yuv420p) + AAC stereo 48 kHz, from lavfi testsrc2 + sine 440 Hz';

/**
 * Generates a `seconds` long clip (GENERATED_CLIP) into `dir` with FFmpeg's lavfi sources, logging
 * its progress every 10 s on stderr; returns its path. testsrc2 is far easier to encode than camera
 * footage (flat colours, little motion): encode times are a lower bound for real uploads.
 */
export async function generateClip(dir: string, seconds: number): Promise<string> {
  const out = join(dir, `testsrc2-1080p30-${seconds}s.mp4`);
  let reached = 0;
  const stop = ticker(`generating ${basename(out)}`, () => `, ${reached.toFixed(0)}/${seconds} s written`);
  try {
    await spawnFfmpeg(
      [
        '-hide_banner', '-nostdin', '-stats_period', '1',
        '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-t', String(seconds),
        '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '8M', '-maxrate', '8M', '-bufsize', '16M', '-pix_fmt', 'yuv420p',
        '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
        '-y', out,
      ],
      (s) => (reached = s),
    );
  } finally {
    stop();
  }
  return out;
}
