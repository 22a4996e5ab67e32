/** (b) The baseline: one plain FFmpeg command writing the whole ladder. */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildFfmpegInvocation, outputFps, toArgv } from '../../processors/transcoder/ffmpeg-args.ts';
import type { HlsLadderJob, HlsRenditionOutput } from '../../processors/transcoder/ffmpeg-args.ts';
import type { SourceInfo } from '../../processors/transcoder/ffprobe.ts';
import { planLadder } from '../../processors/transcoder/ladder.ts';
import type { RenditionPlan } from '../../processors/transcoder/ladder.ts';
import { DEFAULT_SEGMENT_SECONDS } from '../../processors/transcoder/transcoder.processor.ts';
import { rungOptionsOf } from './pipeline.ts';
import { BINARIES, cpuNowMs } from './support.ts';

/** One baseline run. */
export interface BaselineSample {
  totalMs: number;
  /** CPU ms of the ffmpeg process. */
  cpuMs: number;
  rungOptions: Map<string, string>;
  /** Output bytes (segments + init + playlists). */
  bytes: number;
}

function ladderJobFor(src: string, info: SourceInfo, plans: RenditionPlan[], outDir: string): HlsLadderJob {
  const video = info.video!;
  const renditions = plans.map((plan): HlsRenditionOutput => ({ plan, outputDir: join(outDir, plan.name) })) as [HlsRenditionOutput, ...HlsRenditionOutput[]];
  return {
    type: 'hls-ladder',
    input: src,
    videoStreamIndex: video.index,
    audio: info.audio ? { streamIndex: info.audio.index, sampleRate: info.audio.sampleRate } : null,
    interlaced: video.interlaced,
    fps: outputFps(video.fpsRational),
    segmentSeconds: DEFAULT_SEGMENT_SECONDS,
    renditions,
  };
}

/** Same planning as the processor: ladder from the display size and the output frame rate. */
export function plansFor(info: SourceInfo): RenditionPlan[] {
  const v = info.video!;
  const fps = outputFps(v.fpsRational);
  return planLadder({ displayWidth: v.displayWidth, displayHeight: v.displayHeight, fps: fps.num / fps.den });
}

/** Runs ffmpeg with a plain spawn; resolves with the wall time, ms. */
function spawnFfmpeg(argv: string[]): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const t = performance.now();
    const child = spawn(BINARIES.ffmpeg, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let tail = '';
    child.stderr.on('data', (d: Buffer) => {
      tail = (tail + d.toString()).slice(-4000);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - t;
      if (code === 0) resolvePromise(ms);
      else reject(new Error(`ffmpeg exited ${code ?? signal}: ${tail.split('\n').filter((l) => l && !/^\s*frame=/.test(l)).slice(-5).join(' | ')}`));
    });
  });
}

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) n += (await stat(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))).size;
  }
  return n;
}

/** One baseline run: the whole ladder of `src` in one plain FFmpeg command, in a temp dir under `root`. */
export async function measureBaseline(src: string, info: SourceInfo, root: string): Promise<BaselineSample> {
  const dir = await mkdtemp(join(root, 'baseline-'));
  try {
    const job = ladderJobFor(src, info, plansFor(info), dir);
    await Promise.all(job.renditions.map((r) => mkdir(r.outputDir, { recursive: true })));
    const argv = toArgv(buildFfmpegInvocation(job));
    const c0 = cpuNowMs();
    const totalMs = await spawnFfmpeg(argv);
    const cpuMs = cpuNowMs() - c0;
    return { totalMs, cpuMs, rungOptions: rungOptionsOf(argv), bytes: await dirBytes(dir) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Decode-only pass of the video stream (what the pipeline's extra run costs at least): wall and CPU ms. */
export async function measureDecode(src: string, info: SourceInfo): Promise<{ wall: number; cpu: number }> {
  const c0 = cpuNowMs();
  const wall = await spawnFfmpeg(['-hide_banner', '-nostdin', '-v', 'error', '-protocol_whitelist', 'file', '-i', src, '-map', `0:${info.video!.index}`, '-f', 'null', '-']);
  return { wall, cpu: cpuNowMs() - c0 };
}
