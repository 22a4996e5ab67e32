/**
 * Transcoding benchmark (issue 11): the StreamWave pipeline, which encodes the whole ladder in ONE
 * progressive FFmpeg run and publishes as soon as every rung has its first segment (ADR 0007,
 * docs/adr/0007-progressive-publishing-in-one-ffmpeg-run.md, superseding ADR 0002's publish at
 * the lowest rung then a second run), against ONE plain FFmpeg command that writes the same HLS
 * ladder, side by side on the same clips in the same process. It prints first playable, total and
 * the ratio to the plain command, wall clock and CPU, and whether the goals are met.
 *
 *   npm run bench:transcode -- [--clips 60,600] [--runs R]
 *   npm run bench:transcode -- --media DIR [--files N] [--rank-by playable|header] [--runs R]
 *
 * Clips (default): for each length of `--clips` (seconds, default `60,600`: a 60 s and a 10-minute
 * clip) a 1080p30 H.264 8 Mbit/s + AAC stereo clip is generated with FFmpeg (lavfi testsrc2 +
 * sine, libx264 ultrafast) into a temp dir, deleted at the end. testsrc2 is much easier to encode
 * than camera footage, so the encode times are a lower bound for real uploads. `--clips 20` is a
 * quick check. With `--media DIR` (or STREAMWAVE_BENCH_MEDIA) the `--files` (BENCH_FILES, default
 * 3) largest playable videos of that folder are benchmarked instead.
 *
 * What is measured, per clip:
 * - pipeline: the transcoder on the real wiring (processors/transcoder/testing/transcoder-world.ts:
 *   real command bus and video aggregate on an in-memory log, the embedded object store in a temp
 *   dir), run by the topology test driver on one completed upload. "first playable" is when the
 *   `PublishVideo` command is sent, "total" is when the driver has nothing left to deliver
 *   (CompleteProcessing sent, work dir deleted), both from the start of `process()`, i.e. right
 *   after the upload completed (they include the copy of the source out of the store, the probe,
 *   the thumbnail, the segment uploads as they appear, the master and the commands).
 * - baseline: one `ffmpeg` process (plain spawn) running `buildFfmpegInvocation` of a single
 *   `hls-ladder` job holding every rung (same rungs, same codec settings; VOD playlists with every
 *   segment 4 s, where the pipeline's EVENT playlists start with a 1 s segment). No thumbnail, no
 *   probe, no upload: the floor the pipeline is compared with.
 * - wall time, and CPU time with ONE clock for both sides (support.ts `cpuNow`): this node
 *   process's own CPU (`process.cpuUsage()`, every thread) plus the CPU of every child it has
 *   reaped (cutime+cstime of /proc/self/stat, i.e. getrusage(RUSAGE_CHILDREN), in clock ticks read
 *   once with `getconf CLK_TCK`), as a delta around the run. On the baseline side the node part is
 *   the harness idling (reading ffmpeg's stderr); on the pipeline side it is the transcoder's work.
 *
 * Goals (printed as met / missed): first playable ≤ 3 s after the upload completes, for every
 * clip; the pipeline's CPU ≤ 1.05 × the plain command's (stretch 1.02 ×). The wall ratio is
 * printed too.
 *
 * Fairness: order alternates (clip 1 pipeline first, clip 2 baseline first, …, and flips again on
 * every repeat) so neither side always gets the warm page cache; fluent-ffmpeg's one-time
 * capability probe (`ffmpeg -formats`, `ffmpeg -encoders`, cached per process) is paid before
 * measuring, as a long-running processor pays it once. Each figure is the median over `--runs`.
 * Progress goes to stderr (a line every 10 s during long runs), the report to stdout.
 *
 * It is a benchmark, not a test: exits 0 when goals are missed (exit 1 only on a broken setup,
 * e.g. no FFmpeg or a pipeline failure).
 */
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import ffmpeg from 'fluent-ffmpeg';
import { probeMedia } from '../processors/transcoder/ffprobe.ts';
import { FIRST_SEGMENT_SECONDS } from '../processors/transcoder/transcode-job.ts';
import { DEFAULT_SEGMENT_SECONDS } from '../processors/transcoder/transcoder.processor.ts';
import { printResult } from './support/result.ts';
import { measureBaseline, plansFor, type BaselineSample } from './transcode/baseline.ts';
import { GENERATED_CLIP, generateClip, pickLargest, type Candidate, type PickOptions } from './transcode/pick-files.ts';
import { codecOptionsOf, measurePipeline, milestones, phases, type PipelineSample } from './transcode/pipeline.ts';
import { BINARIES, cpuTotal, elapsedMs, execFileP, log, median, readClockTicks, sec, table } from './transcode/support.ts';

/** Goal: first playable ≤ 3 s after the upload completes. */
const FIRST_PLAYABLE_GOAL_MS = 3000;
/** Goal: pipeline CPU ≤ 1.05 × the plain single command's. */
const CPU_RATIO_GOAL = 1.05;
/** Stretch goal: pipeline CPU ≤ 1.02 × the plain single command's. */
const CPU_RATIO_STRETCH = 1.02;
/** Clip lengths generated by default, seconds: a 60 s clip and a 10-minute clip. */
const DEFAULT_CLIPS = [60, 600];

// ---------------------------------------------------------------------------------------------
// Options

type Source = { kind: 'clips'; seconds: number[] } | ({ kind: 'media' } & PickOptions);

interface BenchOptions {
  source: Source;
  /** Runs per measurement (the median is reported). */
  runs: number;
}

function parseOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
      clips: { type: 'string' },
      files: { type: 'string' },
      runs: { type: 'string' },
      media: { type: 'string' },
      'rank-by': { type: 'string' },
    },
    allowPositionals: false,
  });
  const int = (raw: string | undefined, fallback: number, name: string): number => {
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
    return n;
  };
  const runs = int(values.runs, 1, '--runs');
  const mediaDir = values.media ?? process.env.STREAMWAVE_BENCH_MEDIA;
  if (mediaDir !== undefined && mediaDir !== '' && values.clips === undefined) {
    const rankBy = values['rank-by'] ?? 'playable';
    if (rankBy !== 'playable' && rankBy !== 'header') throw new Error(`--rank-by must be playable or header, got ${rankBy}`);
    return { runs, source: { kind: 'media', mediaDir: resolve(mediaDir), files: int(values.files ?? process.env.BENCH_FILES, 3, '--files / BENCH_FILES'), rankBy } };
  }
  if (values.media !== undefined) throw new Error('--media and --clips exclude each other');
  const seconds = values.clips === undefined ? DEFAULT_CLIPS : values.clips.split(',').map((x) => int(x.trim(), NaN, '--clips (a list of seconds)'));
  return { runs, source: { kind: 'clips', seconds } };
}

// ---------------------------------------------------------------------------------------------
// Main

async function machineInfo(): Promise<string[]> {
  const c = cpus();
  const ffmpegVersion = (await execFileP(BINARIES.ffmpeg, ['-version'])).stdout.split('\n')[0] ?? '?';
  return [
    `machine: ${c.length} cores × ${c[0]?.model.trim() ?? '?'}, memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    `node: ${process.version} (${process.platform}/${process.arch})`,
    `ffmpeg: ${ffmpegVersion} (${BINARIES.ffmpeg})`,
  ];
}

/** Pays fluent-ffmpeg's once-per-process capability probe (`-formats`, `-encoders`) up front, ms. */
async function warmFluentFfmpeg(): Promise<number> {
  const t = performance.now();
  const cmd = ffmpeg().setFfmpegPath(BINARIES.ffmpeg);
  await new Promise<void>((res, rej) => cmd.availableFormats((err) => (err ? rej(err) : res())));
  await new Promise<void>((res, rej) => cmd.availableEncoders((err) => (err ? rej(err) : res())));
  return performance.now() - t;
}

/** The clips to benchmark: generated into `root`, or picked from the media folder. */
async function candidatesFor(source: Source, root: string): Promise<Candidate[]> {
  if (source.kind === 'media') return pickLargest(source);
  const out: Candidate[] = [];
  for (const seconds of source.seconds) {
    log(`generating a ${seconds} s clip: ${GENERATED_CLIP}, into ${root}`);
    const t = performance.now();
    const clip = await generateClip(root, seconds);
    const info = await probeMedia(clip, { ffprobePath: BINARIES.ffprobe });
    const v = info.video!;
    log(`generated ${basename(clip)} in ${sec(performance.now() - t)} s`);
    out.push({ path: clip, label: `testsrc2 ${seconds} s`, info, playableSeconds: info.duration, weight: v.displayWidth * v.displayHeight * info.duration });
  }
  return out;
}

interface ClipResult {
  candidate: Candidate;
  rungs: string[];
  pipeline: PipelineSample[];
  baseline: BaselineSample[];
  /** Same rungs, and the same per-rung codec options on both sides (segmenting options aside). */
  sameSettings: boolean;
}

const verdict = (ok: boolean): string => (ok ? 'goal met' : 'goal missed');

async function measureClip(c: Candidate, i: number, count: number, runs: number, root: string): Promise<ClipResult> {
  const rungs = plansFor(c.info).map((p) => p.name);
  const v = c.info.video!;
  log(`clip ${i + 1}/${count}: ${c.label} ${v.displayWidth}x${v.displayHeight} ${c.info.duration.toFixed(2)} s, ${v.codec}, audio ${c.info.audio?.codec ?? 'none'}, ladder ${rungs.join(' ')}`);
  const r: ClipResult = { candidate: c, rungs, pipeline: [], baseline: [], sameSettings: false };
  for (let run = 0; run < runs; run++) {
    const pipelineFirst = (i + run) % 2 === 0;
    const order = pipelineFirst ? (['pipeline', 'baseline'] as const) : (['baseline', 'pipeline'] as const);
    for (const which of order) {
      const tag = `${c.label} run ${run + 1}/${runs}`;
      if (which === 'pipeline') {
        log(`  ${tag}: pipeline (one progressive ffmpeg run, ${rungs.length} rungs) …`);
        const s = await measurePipeline(c.path, `${i}-${run}`, tag);
        r.pipeline.push(s);
        log(`  ${tag}: pipeline first playable ${sec(s.firstPlayableMs)} s, total ${sec(s.totalMs)} s (CPU ${sec(cpuTotal(s.cpu))} s), renditions ${s.renditions.join(' ')}, ladder runs ${s.ladderRuns}`);
      } else {
        log(`  ${tag}: baseline (one plain ffmpeg, ${rungs.length} rungs) …`);
        const s = await measureBaseline(c.path, c.info, root, tag);
        r.baseline.push(s);
        log(`  ${tag}: baseline total ${sec(s.totalMs)} s (CPU ${sec(cpuTotal(s.cpu))} s), output ${(s.bytes / 2 ** 20).toFixed(1)} MiB`);
      }
    }
  }
  const p = r.pipeline[0]!.rungOptions;
  const b = r.baseline[0]!.rungOptions;
  r.sameSettings =
    p.size === b.size &&
    [...b].every(([k, opt]) => p.has(k) && codecOptionsOf(p.get(k)!) === codecOptionsOf(opt)) &&
    r.pipeline.every((s) => s.renditions.join() === rungs.join());
  log(`  same rungs and per-rung codec options on both sides: ${r.sameSettings ? 'yes' : 'NO'}`);
  return r;
}

function report(results: ClipResult[], generated: boolean): void {
  const m = (r: ClipResult) => ({
    fp: median(r.pipeline.map((s) => s.firstPlayableMs)),
    pt: median(r.pipeline.map((s) => s.totalMs)),
    bt: median(r.baseline.map((s) => s.totalMs)),
    pc: median(r.pipeline.map((s) => cpuTotal(s.cpu))),
    bc: median(r.baseline.map((s) => cpuTotal(s.cpu))),
  });
  console.log(`\n=== Pipeline vs one plain ffmpeg command (medians; seconds; first playable and total from the end of the upload) ===`);
  console.log(
    table(
      ['clip', 'source', 'rungs', 'first playable', '≤ 3 s', 'pipeline total', 'baseline total', 'wall ratio', 'pipeline CPU', 'baseline CPU', 'CPU ratio', '≤ 1.05×', 'stretch ≤ 1.02×'],
      results.map((r) => {
        const { fp, pt, bt, pc, bc } = m(r);
        const v = r.candidate.info.video!;
        return [
          r.candidate.label,
          `${v.displayWidth}x${v.displayHeight} ${r.candidate.info.duration.toFixed(1)} s`,
          r.rungs.join(','),
          sec(fp),
          verdict(fp <= FIRST_PLAYABLE_GOAL_MS),
          sec(pt),
          sec(bt),
          (pt / bt).toFixed(3),
          sec(pc),
          sec(bc),
          (pc / bc).toFixed(3),
          verdict(pc / bc <= CPU_RATIO_GOAL),
          verdict(pc / bc <= CPU_RATIO_STRETCH),
        ];
      }),
    ),
  );
  console.log(
    `\nGoals (issue 11): first playable ≤ ${sec(FIRST_PLAYABLE_GOAL_MS)} s after the upload completes; pipeline CPU ≤ ${CPU_RATIO_GOAL.toFixed(2)} × the plain command (stretch ${CPU_RATIO_STRETCH.toFixed(2)} ×); wall ratio for information.`,
  );
  console.log(`  all clips: first playable ${verdict(results.every((r) => m(r).fp <= FIRST_PLAYABLE_GOAL_MS))}; CPU ${verdict(results.every((r) => m(r).pc / m(r).bc <= CPU_RATIO_GOAL))} (stretch ${verdict(results.every((r) => m(r).pc / m(r).bc <= CPU_RATIO_STRETCH))})`);
  printResult({
    bench: 'transcode',
    figures: results.flatMap((r) => {
      const { fp, pt, bt, pc, bc } = m(r);
      const clip = r.candidate.label;
      return [
        { name: `first playable after upload, ${clip}`, value: fp / 1000, unit: 's', goal: `≤ ${sec(FIRST_PLAYABLE_GOAL_MS)} s`, met: fp <= FIRST_PLAYABLE_GOAL_MS },
        { name: `whole ladder, wall, ${clip}`, value: pt / 1000, unit: 's', baseline: { name: 'one plain ffmpeg command', value: bt / 1000 } },
        { name: `whole ladder, CPU, ${clip}`, value: pc / 1000, unit: 's', baseline: { name: 'one plain ffmpeg command', value: bc / 1000 }, goal: `≤ ${CPU_RATIO_GOAL.toFixed(2)}× baseline`, met: pc / bc <= CPU_RATIO_GOAL },
      ];
    }),
  });

  console.log('\n=== CPU breakdown (medians; seconds): node = this process (process.cpuUsage), children = reaped ffmpeg/ffprobe (getrusage children) ===');
  console.log(
    table(
      ['clip', 'pipeline node', 'pipeline children', 'baseline node', 'baseline ffmpeg', 'extra CPU', 'children ratio', 'ladder runs', 'same codec settings', 'load at end (pipeline/baseline)'],
      results.map((r) => {
        const med = (xs: number[]): string => sec(median(xs));
        const pch = median(r.pipeline.map((s) => s.cpu.children));
        const bch = median(r.baseline.map((s) => s.cpu.children));
        return [
          r.candidate.label,
          med(r.pipeline.map((s) => s.cpu.self)),
          sec(pch),
          med(r.baseline.map((s) => s.cpu.self)),
          sec(bch),
          sec(m(r).pc - m(r).bc),
          (pch / bch).toFixed(3),
          r.pipeline.map((s) => s.ladderRuns).join(','),
          r.sameSettings ? 'yes' : 'NO',
          `${r.pipeline.map((s) => s.loadAtEnd).join(',')} / ${r.baseline.map((s) => s.loadAtEnd).join(',')}`,
        ];
      }),
    ),
  );

  console.log('\n=== First playable, where the time goes (median run by total; seconds from the end of the upload) ===');
  console.log(
    table(
      ['clip', "every rung's 1st segment uploaded", 'thumbnail uploaded', 'PublishVideo sent', 'total'],
      results.map((r) => {
        const mid = [...r.pipeline].sort((a, b) => a.totalMs - b.totalMs)[(r.pipeline.length - 1) >> 1]!;
        const ms = milestones(mid);
        return [r.candidate.label, sec(ms.firstSegments), sec(ms.thumbnail), sec(ms.published), sec(mid.totalMs)];
      }),
    ),
  );

  console.log('\n=== Pipeline phases (median run by total; wall s / CPU s) ===');
  const phaseNames = Object.keys(phases(results[0]!.pipeline[0]!));
  console.log(
    table(
      ['clip', ...phaseNames, 'uploads wall (count)'],
      results.map((r) => {
        const mid = [...r.pipeline].sort((a, b) => a.totalMs - b.totalMs)[(r.pipeline.length - 1) >> 1]!;
        const ph = phases(mid);
        return [r.candidate.label, ...phaseNames.map((n) => `${sec(ph[n]!.wall)}/${sec(ph[n]!.cpu)}`), `${sec(mid.storeMs.upload)} (${mid.storeMs.uploads})`];
      }),
    ),
  );

  console.log('\nNotes:');
  console.log(`- pipeline: one progressive ffmpeg run for the whole ladder (EVENT playlists, first segment ${FIRST_SEGMENT_SECONDS} s then ${DEFAULT_SEGMENT_SECONDS} s), segments uploaded as they appear,`);
  console.log('  published when every rung has its first segment; plus the probe, the thumbnail, the copy of the source out of the store, the master and the commands.');
  console.log(`- baseline: ONE plain ffmpeg process writing the same ladder (same rungs and codec options, VOD playlists, every segment ${DEFAULT_SEGMENT_SECONDS} s);`);
  console.log('  no probe, no thumbnail, no upload (embedded object store: the pipeline\'s uploads are local file writes).');
  console.log('- CPU: one clock on both sides, node process + reaped children, delta around the run; wall time suffers more from other load on the machine.');
  if (generated) console.log('- clips: lavfi testsrc2 + sine, far easier to encode than camera footage (flat colours, little motion): real uploads take longer to encode.');
}

async function main(): Promise<void> {
  const opts = parseOptions();
  console.log('StreamWave transcode benchmark (issue 11): pipeline (ADR 0007, whole ladder in one progressive ffmpeg run) vs one plain ffmpeg ladder command');
  for (const l of await machineInfo()) console.log(l);
  const what = opts.source.kind === 'clips' ? `generated clips of ${opts.source.seconds.join(', ')} s (${GENERATED_CLIP})` : `the ${opts.source.files} largest videos of ${opts.source.mediaDir}`;
  console.log(`bench: ${what}; runs per measurement: ${opts.runs} (median reported)`);

  const root = await mkdtemp(join(tmpdir(), 'sw-bench-transcode-'));
  const cleanup = (): void => rmSync(root, { recursive: true, force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    const candidates = await candidatesFor(opts.source, root);
    if (candidates.length === 0) throw new Error('no playable video found');
    await readClockTicks();
    log(`warm-up: fluent-ffmpeg capability probe took ${sec(await warmFluentFfmpeg())} s (once per process; excluded)`);

    const results: ClipResult[] = [];
    for (const [i, c] of candidates.entries()) results.push(await measureClip(c, i, candidates.length, opts.runs, root));
    report(results, opts.source.kind === 'clips');
    console.log(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}; benchmark elapsed ${sec(elapsedMs())} s`);
  } finally {
    cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
