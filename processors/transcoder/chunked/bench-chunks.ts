/**
 * Segment-parallel encoding benchmark: measures the single run of the full ladder and the encode
 * time of every chunk (run one after the other on this machine), then models the time to the
 * full ladder for 1–16 transcoder instances (chunk-model.ts).
 *
 *   npm run bench:chunks -- [--seconds 120] [--chunk-seconds 20] [--first-chunk-seconds 4] [--dispatch-overhead 1]
 *
 * The source is generated (lavfi testsrc2 1080p30 + 440 Hz tone, `--seconds` long) in a temp dir,
 * which is deleted at the end. Progress goes to stderr, the result table to stdout. It is a
 * benchmark, not a test: it exits 0 whatever the figures (1 only on a broken setup).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { plansFor } from '../../../bench/transcode/baseline.ts';
import { median, table } from '../../../bench/transcode/support.ts';
import { makeClip } from '../../../test/support/make-media.ts';
import { buildFfmpegInvocation, outputFps, type HlsLadderJob, type HlsRenditionOutput } from '../ffmpeg-args.ts';
import { resolveFfmpegBinaries } from '../ffmpeg-binaries.ts';
import { runFfmpeg } from '../ffmpeg-runner.ts';
import { probeMedia, type SourceInfo } from '../ffprobe.ts';
import { DEFAULT_SEGMENT_SECONDS } from '../transcoder.processor.ts';
import { encodeChunk } from './chunk-encode.ts';
import { assembleRendition } from './chunk-join.ts';
import { modelTimeToLadder } from './chunk-model.ts';
import { DEFAULT_CHUNK_SECONDS, planChunks } from './chunk-plan.ts';

const INSTANCES = [1, 2, 4, 8, 16];
const progress = (msg: string): void => {
  process.stderr.write(`[${(performance.now() / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
};

function options(): { seconds: number; chunkSeconds: number; firstChunkSeconds: number; dispatch: number } {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, 'chunk-seconds': { type: 'string' }, 'first-chunk-seconds': { type: 'string' }, 'dispatch-overhead': { type: 'string' } } });
  const num = (raw: string | undefined, fallback: number, name: string, min: number): number => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!(Number.isFinite(n) && n >= min)) throw new Error(`${name} must be a number ≥ ${min}, got ${raw}`);
    return n;
  };
  return {
    seconds: num(values.seconds, 120, '--seconds', 1),
    chunkSeconds: num(values['chunk-seconds'], DEFAULT_CHUNK_SECONDS, '--chunk-seconds', DEFAULT_SEGMENT_SECONDS),
    // The production default (STREAMWAVE_FIRST_CHUNK_SECONDS, deploy/config/media-config.ts).
    firstChunkSeconds: num(values['first-chunk-seconds'], 4, '--first-chunk-seconds', DEFAULT_SEGMENT_SECONDS),
    dispatch: num(values['dispatch-overhead'], 1, '--dispatch-overhead', 0),
  };
}

/** The processor's ladder job for `src` (all rungs of `planLadder`), outputs under `outDir/<rung>`. */
function ladderJob(src: string, info: SourceInfo, outDir: string): HlsLadderJob {
  const video = info.video!;
  const renditions = plansFor(info).map((plan): HlsRenditionOutput => ({ plan, outputDir: join(outDir, plan.name) }));
  return {
    type: 'hls-ladder', input: src, videoStreamIndex: video.index, interlaced: video.interlaced,
    audio: info.audio ? { streamIndex: info.audio.index, sampleRate: info.audio.sampleRate } : null,
    fps: outputFps(video.fpsRational), segmentSeconds: DEFAULT_SEGMENT_SECONDS,
    renditions: renditions as [HlsRenditionOutput, ...HlsRenditionOutput[]],
  };
}

async function timed(what: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await what();
  return (performance.now() - t) / 1000;
}

async function main(): Promise<void> {
  const o = options();
  const { ffmpeg } = resolveFfmpegBinaries();
  const dir = await mkdtemp(join(tmpdir(), 'streamwave-bench-chunks-'));
  try {
    const src = join(dir, 'src.mp4');
    progress(`generating a ${o.seconds} s 1080p30 clip`);
    await makeClip(src, { seconds: o.seconds, width: 1920, height: 1080, fps: 30 });
    const info = await probeMedia(src);
    const mkJob = async (name: string): Promise<HlsLadderJob> => {
      const job = ladderJob(src, info, join(dir, name));
      for (const r of job.renditions) await mkdir(r.outputDir, { recursive: true });
      return job;
    };
    const single = await mkJob('single');
    progress(`single run: ${single.renditions.map((r) => r.plan.name).join(', ')}`);
    const singleSeconds = await timed(() => runFfmpeg(buildFfmpegInvocation(single), { ffmpegPath: ffmpeg }));
    progress(`single run: ${singleSeconds.toFixed(2)} s`);

    const chunks = planChunks(info.duration, { chunkSeconds: o.chunkSeconds, firstChunkSeconds: o.firstChunkSeconds, segmentSeconds: DEFAULT_SEGMENT_SECONDS });
    const chunkSeconds: number[] = [];
    for (const c of chunks) {
      const job = await mkJob(`chunk-${c.index}`);
      const t = await timed(() => encodeChunk(job, c, { ffmpegPath: ffmpeg }));
      chunkSeconds.push(t);
      progress(`chunk ${c.index + 1}/${chunks.length} [${c.startSeconds}, ${c.endSeconds.toFixed(2)}) s: ${t.toFixed(2)} s`);
    }
    const joinSeconds = await timed(async () => {
      for (const r of single.renditions) {
        const out = join(dir, 'joined', r.plan.name);
        await mkdir(out, { recursive: true });
        await assembleRendition(chunks.map((c) => join(dir, `chunk-${c.index}`, r.plan.name)), out);
      }
    });
    progress(`join: ${joinSeconds.toFixed(3)} s`);

    const sum = chunkSeconds.reduce((a, b) => a + b, 0);
    const s2 = (x: number): string => x.toFixed(2);
    console.log(`\nSource: ${info.duration.toFixed(1)} s 1080p30 (testsrc2 + tone), ladder ${single.renditions.map((r) => r.plan.name).join('/')}, ${chunks.length} chunks (${o.firstChunkSeconds} s, then ${o.chunkSeconds} s)`);
    console.log(`Machine: ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}); every FFmpeg run uses all of them.\n`);
    console.log(table(['measured', 'seconds'], [
      ['single run (full ladder)', s2(singleSeconds)],
      ['chunks, sum', s2(sum)],
      ['chunk min', s2(Math.min(...chunkSeconds))],
      ['chunk median', s2(median(chunkSeconds))],
      ['chunk max', s2(Math.max(...chunkSeconds))],
      ['join (all rungs)', joinSeconds.toFixed(3)],
    ]));
    console.log(`\nModel: list scheduling of the measured chunk times over N instances (each like this machine),`);
    console.log(`+ ${o.dispatch} s dispatch overhead per chunk, + the measured join.\n`);
    const input = { chunkSeconds, dispatchOverheadSeconds: o.dispatch, joinSeconds };
    console.log(table(['instances', 'time to full ladder, s', 'speed-up vs single run'], INSTANCES.map((n) => {
      const t = modelTimeToLadder(input, n);
      return [String(n), s2(t), `${(singleSeconds / t).toFixed(2)}x`];
    })));
    console.log(`\nPer chunk, seconds: ${chunkSeconds.map(s2).join(', ')} (chunk 0 is the ${o.firstChunkSeconds} s first chunk: the chunked video is playable after it).`);
    // A source this short has fewer chunks than instances; the same per-chunk cost for a 2-hour film:
    const LONG = 7200;
    const perSecond = median(chunkSeconds.slice(1).map((t, i) => t / (chunks[i + 1]!.endSeconds - chunks[i + 1]!.startSeconds)));
    const longChunks = planChunks(LONG, { chunkSeconds: o.chunkSeconds, firstChunkSeconds: o.firstChunkSeconds, segmentSeconds: DEFAULT_SEGMENT_SECONDS });
    const longInput = { chunkSeconds: longChunks.map((c) => (c.endSeconds - c.startSeconds) * perSecond), dispatchOverheadSeconds: o.dispatch, joinSeconds };
    const longSingle = LONG * (singleSeconds / info.duration);
    console.log(`\nExtrapolated: a ${LONG / 3600}-hour source of the same content (${longChunks.length} chunks at the measured median ${s2(perSecond)} s per second of source; single run ${s2(longSingle)} s):\n`);
    console.log(table(['instances', 'time to full ladder, s', 'speed-up vs single run'], INSTANCES.map((n) => {
      const t = modelTimeToLadder(longInput, n);
      return [String(n), s2(t), `${(longSingle / t).toFixed(2)}x`];
    })));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
