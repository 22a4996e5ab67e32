/** (b) The baseline: one plain FFmpeg command writing the whole ladder (VOD playlists, every segment the same length). */
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { buildFfmpegInvocation, outputFps, toArgv } from '../../processors/transcoder/ffmpeg-args.ts';
import type { HlsLadderJob, HlsRenditionOutput } from '../../processors/transcoder/ffmpeg-args.ts';
import type { SourceInfo } from '../../processors/transcoder/ffprobe.ts';
import { planLadder } from '../../processors/transcoder/ladder.ts';
import type { RenditionPlan } from '../../processors/transcoder/ladder.ts';
import { DEFAULT_SEGMENT_SECONDS } from '../../processors/transcoder/transcoder.processor.ts';
import { rungOptionsOf } from './pipeline.ts';
import { cpuNow, cpuSince, load1, spawnFfmpeg, ticker, type CpuTime } from './support.ts';

/** One baseline run. */
export interface BaselineSample {
  totalMs: number;
  /** CPU ms of the run: the ffmpeg process (children) and this node process meanwhile (self). */
  cpu: CpuTime;
  rungOptions: Map<string, string>;
  /** Output bytes (segments + init + playlists). */
  bytes: number;
  /** 1-minute load average when the run ended. */
  loadAtEnd: string;
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

async function dirBytes(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) n += (await stat(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))).size;
  }
  return n;
}

/**
 * One baseline run: the whole ladder of `src` in one plain FFmpeg command (`buildFfmpegInvocation`
 * of one `hls-ladder` job, not progressive), in a temp dir under `root`; progress every 10 s on stderr.
 */
export async function measureBaseline(src: string, info: SourceInfo, root: string, label: string): Promise<BaselineSample> {
  const dir = await mkdtemp(join(root, 'baseline-'));
  try {
    const job = ladderJobFor(src, info, plansFor(info), dir);
    await Promise.all(job.renditions.map((r) => mkdir(r.outputDir, { recursive: true })));
    const argv = toArgv(buildFfmpegInvocation(job));
    let reached = 0;
    const stop = ticker(`baseline ${label}`, () => `, encoded ${reached.toFixed(0)}/${info.duration.toFixed(0)} s of source`);
    const c0 = cpuNow();
    try {
      const totalMs = await spawnFfmpeg(argv, (s) => (reached = s));
      const cpu = cpuSince(c0);
      const loadAtEnd = load1();
      return { totalMs, cpu, rungOptions: rungOptionsOf(argv), bytes: await dirBytes(dir), loadAtEnd };
    } finally {
      stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
