/**
 * Transcoding benchmark: the StreamWave pipeline (publish at the lowest rendition, then every
 * remaining rung in one FFmpeg run; ADR 0002) against ONE plain FFmpeg command that writes the
 * same HLS ladder, side by side on the same files in the same process.
 *
 *   npm run bench:transcode -- [--files N] [--runs R] [--media DIR] [--rank-by playable|header]
 *
 * Env: BENCH_FILES (default for --files, 3), STREAMWAVE_BENCH_MEDIA (media folder; default
 * `../shared/media` relative to the repo root). When the folder is absent a 20 s 1080p clip is
 * generated with FFmpeg (lavfi testsrc2 + sine) into a temp dir and benchmarked instead.
 *
 * What is measured, wall clock, seconds:
 * - pipeline: the transcoder on the real wiring (processors/transcoder/testing/transcoder-world.ts:
 *   real command bus and video aggregate on an in-memory log, the embedded object store in a temp
 *   dir), run by the topology test driver on one completed upload. "first playable" is when the
 *   `PublishVideo` command is sent, "total" is when the driver has nothing left to deliver, both
 *   from the start of `process()` (so they include the download of the source from the store, the
 *   probe, uploads, the thumbnail and the deletion of the work dir).
 * - baseline: one `ffmpeg` process (plain spawn) running `buildFfmpegInvocation` of a single
 *   `hls-ladder` job holding every rung (same rungs, same codec settings). No thumbnail, no probe,
 *   no upload: it is the floor the pipeline is compared with.
 *
 * Fairness: order alternates (file 1 pipeline first, file 2 baseline first, …, and flips again on
 * every repeat) so neither side always gets the warm page cache; fluent-ffmpeg's one-time
 * capability probe (`ffmpeg -formats`, `ffmpeg -encoders`, cached per process) is paid before
 * measuring, as a long-running processor pays it once. Each figure is the median over `--runs`.
 *
 * It is a benchmark, not a test: exits 0 when goals are missed (exit 1 only on a broken setup,
 * e.g. no FFmpeg or a pipeline failure).
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ffmpeg from 'fluent-ffmpeg';
import { probeMedia } from '../processors/transcoder/ffprobe.ts';
import { DEFAULT_SEGMENT_SECONDS } from '../processors/transcoder/transcoder.processor.ts';
import { measureBaseline, measureDecode, plansFor, type BaselineSample } from './transcode/baseline.ts';
import { generateClip, pickLargest, type Candidate, type PickOptions } from './transcode/pick-files.ts';
import { measurePipeline, phases, type PipelineSample } from './transcode/pipeline.ts';
import { BINARIES, elapsedMs, execFileP, log, median, readClockTicks, sec, table } from './transcode/support.ts';

/** Goal: pipeline total ≤ 1.10 × the plain single command. */
const TOTAL_RATIO_GOAL = 1.1;
/** Goal: first playable ≤ 0.5 × the pipeline total. */
const FIRST_PLAYABLE_RATIO_GOAL = 0.5;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

// ---------------------------------------------------------------------------------------------
// Options

interface BenchOptions extends PickOptions {
  /** Runs per measurement (the median is reported). */
  runs: number;
}

function parseOptions(): BenchOptions {
  const { values } = parseArgs({
    options: {
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
  const rankBy = values['rank-by'] ?? 'playable';
  if (rankBy !== 'playable' && rankBy !== 'header') throw new Error(`--rank-by must be playable or header, got ${rankBy}`);
  return {
    files: int(values.files ?? process.env.BENCH_FILES, 3, '--files / BENCH_FILES'),
    runs: int(values.runs, 1, '--runs'),
    mediaDir: resolve(values.media ?? process.env.STREAMWAVE_BENCH_MEDIA ?? join(REPO_ROOT, '..', 'shared', 'media')),
    rankBy,
  };
}

// ---------------------------------------------------------------------------------------------
// Main

async function machineInfo(): Promise<string[]> {
  const c = cpus();
  const ffmpegVersion = (await execFileP(BINARIES.ffmpeg, ['-version'])).stdout.split('\n')[0] ?? '?';
  return [
    `cpus: ${c.length} × ${c[0]?.model.trim() ?? '?'}, memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
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

interface FileResult {
  candidate: Candidate;
  rungs: string[];
  pipeline: PipelineSample[];
  baseline: BaselineSample[];
  decode: { wall: number; cpu: number };
  sameSettings: boolean;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  console.log('StreamWave transcode benchmark: pipeline (publish at lowest rung, then the rest in one run) vs one plain ffmpeg ladder command');
  for (const l of await machineInfo()) console.log(l);
  console.log(`files: ${opts.files}, runs per measurement: ${opts.runs} (median reported), segment ${DEFAULT_SEGMENT_SECONDS} s\n`);

  const root = await mkdtemp(join(tmpdir(), 'sw-bench-transcode-'));
  const cleanup = (): void => rmSync(root, { recursive: true, force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    let candidates: Candidate[];
    if (existsSync(opts.mediaDir)) {
      candidates = await pickLargest(opts);
    } else {
      log(`media folder ${opts.mediaDir} not found: generating a 20 s 1080p30 clip (lavfi testsrc2 + sine 440 Hz, H.264/AAC) into ${root}`);
      const clip = await generateClip(root);
      const info = await probeMedia(clip, { ffprobePath: BINARIES.ffprobe });
      const v = info.video!;
      candidates = [{ path: clip, label: `${basename(clip)} (generated)`, info, playableSeconds: info.duration, weight: v.displayWidth * v.displayHeight * info.duration }];
    }
    if (candidates.length === 0) throw new Error('no playable video found');
    await readClockTicks();
    log(`warm-up: fluent-ffmpeg capability probe took ${sec(await warmFluentFfmpeg())} s (once per process; excluded)`);

    const results: FileResult[] = [];
    for (const [i, c] of candidates.entries()) {
      const plans = plansFor(c.info);
      const rungs = plans.map((p) => p.name);
      const v = c.info.video!;
      log(`file ${i + 1}/${candidates.length}: ${c.label} ${v.displayWidth}x${v.displayHeight} ${c.info.duration.toFixed(2)} s, ${v.codec}, audio ${c.info.audio?.codec ?? 'none'}, ladder ${rungs.join(' ')}`);
      const r: FileResult = { candidate: c, rungs, pipeline: [], baseline: [], decode: { wall: NaN, cpu: NaN }, sameSettings: false };
      for (let run = 0; run < opts.runs; run++) {
        const pipelineFirst = (i + run) % 2 === 0;
        const order = pipelineFirst ? (['pipeline', 'baseline'] as const) : (['baseline', 'pipeline'] as const);
        for (const which of order) {
          if (which === 'pipeline') {
            log(`  run ${run + 1}/${opts.runs}: pipeline …`);
            const s = await measurePipeline(c.path, `${i}-${run}`);
            r.pipeline.push(s);
            log(`  run ${run + 1}/${opts.runs}: pipeline first playable ${sec(s.firstPlayableMs)} s, total ${sec(s.totalMs)} s (CPU ${sec(s.cpuMs)} s), renditions ${s.renditions.join(' ')}`);
          } else {
            log(`  run ${run + 1}/${opts.runs}: baseline (one ffmpeg, ${rungs.length} rungs) …`);
            const s = await measureBaseline(c.path, c.info, root);
            r.baseline.push(s);
            log(`  run ${run + 1}/${opts.runs}: baseline total ${sec(s.totalMs)} s (CPU ${sec(s.cpuMs)} s), output ${(s.bytes / 1024).toFixed(0)} KiB`);
          }
        }
      }
      r.decode = await measureDecode(c.path, c.info);
      log(`  decode-only pass of the video stream: ${sec(r.decode.wall)} s (CPU ${sec(r.decode.cpu)} s)`);
      // Same rungs and same per-rung codec settings on both sides?
      const p = r.pipeline[0]!.rungOptions;
      const b = r.baseline[0]!.rungOptions;
      r.sameSettings = p.size === b.size && [...b].every(([k, opt]) => p.get(k) === opt) && r.pipeline.every((s) => s.renditions.join() === rungs.join());
      log(`  same rungs and per-rung ffmpeg output options on both sides: ${r.sameSettings ? 'yes' : 'NO'}`);
      results.push(r);
    }

    // -------------------------------------------------------------------------------- report
    console.log('\n=== Results (medians; seconds, wall clock) ===');
    const rows = results.map((r) => {
      const v = r.candidate.info.video!;
      const fp = median(r.pipeline.map((s) => s.firstPlayableMs));
      const pt = median(r.pipeline.map((s) => s.totalMs));
      const bt = median(r.baseline.map((s) => s.totalMs));
      return [
        r.candidate.label,
        `${v.displayWidth}x${v.displayHeight}`,
        r.candidate.info.duration.toFixed(2),
        r.rungs.join(','),
        sec(fp),
        sec(pt),
        sec(bt),
        (pt / bt).toFixed(2),
        (fp / pt).toFixed(2),
      ];
    });
    console.log(
      table(
        ['file', 'source WxH', 'duration s', 'rungs', 'pipeline first-playable s', 'pipeline total s', 'baseline total s', 'total/baseline', 'first-playable/total'],
        rows,
      ),
    );
    console.log(`\nGoals: total/baseline ≤ ${TOTAL_RATIO_GOAL.toFixed(2)}, first-playable/total ≤ ${FIRST_PLAYABLE_RATIO_GOAL.toFixed(2)}`);
    for (const r of results) {
      const fp = median(r.pipeline.map((s) => s.firstPlayableMs));
      const pt = median(r.pipeline.map((s) => s.totalMs));
      const bt = median(r.baseline.map((s) => s.totalMs));
      const verdict = (ok: boolean): string => (ok ? 'goal met' : 'goal missed');
      console.log(
        `  ${r.candidate.label}: total/baseline ${(pt / bt).toFixed(2)} → ${verdict(pt / bt <= TOTAL_RATIO_GOAL)}; first-playable/total ${(fp / pt).toFixed(2)} → ${verdict(fp / pt <= FIRST_PLAYABLE_RATIO_GOAL)}`,
      );
    }
    console.log('\nNotes: the baseline is ONE ffmpeg process writing the same ladder (same rungs, same per-rung options, checked below);');
    console.log('it does NOT include a thumbnail, the probe, the copy of the source out of the object store, or any upload.');
    console.log('The pipeline figures include all of those (embedded object store: uploads are local file writes).');

    console.log('\n=== CPU time (ffmpeg/ffprobe children + node; medians; seconds) — less sensitive to other load than wall time ===');
    const cpuRows = results.map((r) => {
      const pc = median(r.pipeline.map((s) => s.cpuMs));
      const bc = median(r.baseline.map((s) => s.cpuMs));
      return [r.candidate.label, sec(pc), sec(bc), (pc / bc).toFixed(2), sec(pc - bc), sec(r.decode.cpu)];
    });
    console.log(table(['file', 'pipeline CPU s', 'baseline CPU s', 'CPU ratio', 'extra CPU s', 'decode-only CPU s'], cpuRows));

    console.log('\n=== Pipeline phases (median run by total; wall s / CPU s) ===');
    const phaseNames = Object.keys(phases(results[0]!.pipeline[0]!));
    const phaseRows = results.map((r) => {
      const mid = [...r.pipeline].sort((a, b) => a.totalMs - b.totalMs)[(r.pipeline.length - 1) >> 1]!;
      const ph = phases(mid);
      const b = [...r.baseline].sort((x, y) => x.totalMs - y.totalMs)[(r.baseline.length - 1) >> 1]!;
      return [
        r.candidate.label,
        ...phaseNames.map((n) => `${sec(ph[n]!.wall)}/${sec(ph[n]!.cpu)}`),
        `${sec(mid.storeMs.upload)} (${mid.storeMs.uploads})`,
        `${sec(b.totalMs)}/${sec(b.cpuMs)}`,
        `${sec(r.decode.wall)}/${sec(r.decode.cpu)}`,
        r.sameSettings ? 'yes' : 'NO',
      ];
    });
    console.log(table(['file', ...phaseNames, 'uploads wall (count)', 'baseline', 'decode-only', 'same settings'], phaseRows));
    console.log(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}; elapsed ${sec(elapsedMs())} s`);
  } finally {
    cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
