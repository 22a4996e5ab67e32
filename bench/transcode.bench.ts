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
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import ffmpeg from 'fluent-ffmpeg';
import pino from 'pino';
import type { ObjectStore } from '../platform/object-store/object-store.port.ts';
import { buildFfmpegInvocation, outputFps, toArgv } from '../processors/transcoder/ffmpeg-args.ts';
import type { HlsLadderJob, HlsRenditionOutput } from '../processors/transcoder/ffmpeg-args.ts';
import { resolveFfmpegBinaries } from '../processors/transcoder/ffmpeg-binaries.ts';
import { MediaRejectedError, probeMedia } from '../processors/transcoder/ffprobe.ts';
import type { SourceInfo } from '../processors/transcoder/ffprobe.ts';
import { planLadder } from '../processors/transcoder/ladder.ts';
import type { RenditionPlan } from '../processors/transcoder/ladder.ts';
import { createTranscoderWorld } from '../processors/transcoder/testing/transcoder-world.ts';
import { DEFAULT_SEGMENT_SECONDS } from '../processors/transcoder/transcoder.processor.ts';

const execFileP = promisify(execFile);

/** Goal: pipeline total ≤ 1.10 × the plain single command. */
export const TOTAL_RATIO_GOAL = 1.1;
/** Goal: first playable ≤ 0.5 × the pipeline total. */
export const FIRST_PLAYABLE_RATIO_GOAL = 0.5;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BINARIES = resolveFfmpegBinaries();

// ---------------------------------------------------------------------------------------------
// Small helpers

const log = (msg: string): void => {
  const t = ((performance.now() - START) / 1000).toFixed(1).padStart(6);
  console.log(`[${t}s] ${msg}`);
};
const START = performance.now();
const sec = (ms: number): string => (ms / 1000).toFixed(2);

/** Kernel clock ticks per second (`getconf CLK_TCK`), the unit of /proc/<pid>/stat times. */
let clockTicks = 100;

/**
 * CPU time, ms: this process (user+system) plus every child it has reaped (cutime+cstime from
 * /proc/self/stat, Linux). Children = ffprobe/ffmpeg runs, so this is the work done, which a busy
 * shared machine distorts far less than wall time. NaN where /proc is unavailable.
 */
function cpuNowMs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after "(comm)": state is field 3, so cutime (16) and cstime (17) are at 13 and 14.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const children = ((Number(f[13]) + Number(f[14])) * 1000) / clockTicks;
    const self = process.cpuUsage();
    return children + (self.user + self.system) / 1000;
  } catch {
    return NaN;
  }
}

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Left-pads/right-pads cells into an aligned text table. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Options

interface BenchOptions {
  files: number;
  runs: number;
  mediaDir: string;
  /** `playable`: duration = what the video stream's packets cover (truncated files rank by what decodes); `header`: the container's claim. */
  rankBy: 'playable' | 'header';
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
// Picking the files

interface Candidate {
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

async function pickLargest(opts: BenchOptions): Promise<Candidate[]> {
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

/** Generates a 20 s 1080p30 H.264 + AAC clip (lavfi testsrc2 + sine) when no media folder exists. */
async function generateClip(dir: string): Promise<string> {
  const out = join(dir, 'testsrc2-1080p-20s.mp4');
  await execFileP(BINARIES.ffmpeg, [
    '-hide_banner', '-v', 'error', '-nostdin',
    '-f', 'lavfi', '-i', 'testsrc2=size=1920x1080:rate=30',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '20', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-y', out,
  ]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// (a) The pipeline

interface Mark {
  /** ms since the start of `process()`. */
  at: number;
  /** CPU ms (see cpuNowMs) since the start of `process()`; a child's time counts once it has exited. */
  cpu: number;
  what: string;
}

interface PipelineSample {
  firstPlayableMs: number;
  totalMs: number;
  /** CPU ms of the whole `process()` (node + ffprobe + every ffmpeg run). */
  cpuMs: number;
  renditions: string[];
  /** ms spent in object-store calls, by kind. */
  storeMs: { download: number; upload: number; uploads: number };
  marks: Mark[];
  /** Per-rung output options of every ladder run (paths normalised), for the same-settings check. */
  rungOptions: Map<string, string>;
}

/** Per-rung output options of a ladder argv, keyed by rung name; the output dir becomes `<out>`. */
export function rungOptionsOf(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const fc = argv.indexOf('-filter_complex');
  if (fc < 0) return out;
  let opts: string[] = [];
  for (const tok of argv.slice(fc + 2)) {
    if (tok.endsWith('/index.m3u8')) {
      const dir = dirname(tok);
      const name = basename(dir);
      out.set(name, opts.map((o) => o.split(dir).join('<out>').replace(/^\[v\d+\]$/, '[v]')).join(' '));
      opts = [];
    } else opts.push(tok);
  }
  return out;
}

/** Wraps an ObjectStore to time downloads and uploads (and mark when each upload starts). */
function timedStore(store: ObjectStore, acc: PipelineSample['storeMs'], mark: (what: string) => void): ObjectStore {
  const timed =
    <A extends unknown[], R>(kind: 'download' | 'upload', fn: (...a: A) => Promise<R>, name: (...a: A) => string) =>
    async (...a: A): Promise<R> => {
      const t = performance.now();
      mark(`${kind}:${name(...a)}`);
      try {
        return await fn(...a);
      } finally {
        acc[kind] += performance.now() - t;
        if (kind === 'upload') acc.uploads++;
      }
    };
  return {
    ...store,
    downloadToFile: timed('download', store.downloadToFile.bind(store), (k) => k),
    putFile: timed('upload', store.putFile.bind(store), (k) => k),
    putObject: timed('upload', store.putObject.bind(store), (k) => k),
  };
}

async function measurePipeline(src: string, runId: string): Promise<PipelineSample> {
  let t0 = 0;
  let c0 = 0;
  const marks: Mark[] = [];
  const mark = (what: string): void => {
    if (t0) marks.push({ at: performance.now() - t0, cpu: cpuNowMs() - c0, what });
  };
  const storeMs = { download: 0, upload: 0, uploads: 0 };
  const rungOptions = new Map<string, string>();
  let firstPlayableMs = NaN;
  // The processor logs `ffmpeg start` (debug, with argv) and its milestones: they time the phases.
  const logger = pino(
    { level: 'debug', base: undefined, timestamp: false },
    {
      write(line: string) {
        const entry = JSON.parse(line) as { msg?: string; argv?: string[] };
        if (entry.msg === 'ffmpeg start' && entry.argv) {
          const rungs = rungOptionsOf(entry.argv);
          for (const [k, v] of rungs) rungOptions.set(k, v);
          mark(rungs.size ? `ffmpeg:ladder ${[...rungs.keys()].join(',')}` : 'ffmpeg:thumbnail');
        } else if (entry.msg) mark(`log:${entry.msg}`);
      },
    },
  );
  const world = await createTranscoderWorld({
    objectStore: (store) => timedStore(store, storeMs, mark),
    commandBus: (bus) => ({
      async send(c) {
        if (c.type === 'PublishVideo' && Number.isNaN(firstPlayableMs)) firstPlayableMs = performance.now() - t0;
        if (c.type !== 'ReportProcessingProgress') mark(`command:${c.type}`);
        return bus.send(c);
      },
    }),
    transcoder: { logger, ffmpegPath: BINARIES.ffmpeg, ffprobePath: BINARIES.ffprobe },
  });
  try {
    const videoId = `bench-${runId}`;
    // The upload itself happened before UploadCompleted: not measured.
    await world.upload(videoId, src);

    c0 = cpuNowMs();
    t0 = performance.now();
    await world.process();
    const totalMs = performance.now() - t0;
    const cpuMs = cpuNowMs() - c0;

    const video = await world.video(videoId);
    if (video.status !== 'ready') throw new Error(`pipeline failed: ${video.status} ${video.errorCode ?? ''} ${video.error ?? ''}`);
    if (Number.isNaN(firstPlayableMs)) throw new Error('pipeline never sent PublishVideo');
    const renditions = (await world.videoEvents(videoId)).flatMap((e) => (e.type === 'RenditionEncoded' ? [e.data.rendition.name] : []));
    return { firstPlayableMs, totalMs, cpuMs, renditions, storeMs, marks, rungOptions };
  } finally {
    await world.close();
  }
}

/** Phase durations (wall ms, CPU ms) read off a pipeline timeline; NaN when a mark is missing. */
function phases(s: PipelineSample): Record<string, { wall: number; cpu: number }> {
  const none: Mark = { at: NaN, cpu: NaN, what: '' };
  const find = (pred: (w: string) => boolean, from = 0): Mark => s.marks.find((m) => m.at >= from && pred(m.what)) ?? none;
  const ladders = s.marks.filter((m) => m.what.startsWith('ffmpeg:ladder'));
  const start: Mark = { at: 0, cpu: 0, what: 'start' };
  const end: Mark = { at: s.totalMs, cpu: s.cpuMs, what: 'end' };
  const lowestStart = ladders[0] ?? none;
  const restStart = ladders[1] ?? none;
  const started = find((w) => w === 'command:StartProcessing');
  const lowestUpload = find((w) => w.startsWith('upload:'), lowestStart.at);
  const lowestDone = find((w) => w === 'log:lowest rendition encoded');
  const thumbStart = find((w) => w === 'ffmpeg:thumbnail');
  const thumbUpload = find((w) => w.startsWith('upload:') && w.endsWith('thumbnail.jpg'));
  const published = find((w) => w === 'command:PublishVideo');
  const restUpload = find((w) => w.startsWith('upload:'), restStart.at);
  const finished = find((w) => w === 'log:transcode finished');
  const span = (a: Mark, b: Mark): { wall: number; cpu: number } => ({ wall: b.at - a.at, cpu: b.cpu - a.cpu });
  return {
    'download+probe': span(start, started),
    'lowest encode': span(lowestStart, lowestUpload),
    'lowest upload': span(lowestUpload, lowestDone),
    thumbnail: span(thumbStart, thumbUpload),
    'publish (master+cmds)': span(thumbUpload, published),
    'rest encode': span(restStart, restUpload),
    'rest upload+master': span(restUpload, finished),
    'cleanup (rm work dir)': span(finished, end),
  };
}

// ---------------------------------------------------------------------------------------------
// (b) The baseline: one plain ffmpeg command with the whole ladder

interface BaselineSample {
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
function plansFor(info: SourceInfo): RenditionPlan[] {
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

async function measureBaseline(src: string, info: SourceInfo, root: string): Promise<BaselineSample> {
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
async function measureDecode(src: string, info: SourceInfo): Promise<{ wall: number; cpu: number }> {
  const c0 = cpuNowMs();
  const wall = await spawnFfmpeg(['-hide_banner', '-nostdin', '-v', 'error', '-protocol_whitelist', 'file', '-i', src, '-map', `0:${info.video!.index}`, '-f', 'null', '-']);
  return { wall, cpu: cpuNowMs() - c0 };
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
    clockTicks = Number((await execFileP('getconf', ['CLK_TCK']).catch(() => ({ stdout: '100' }))).stdout.trim()) || 100;
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
    console.log(`\nload average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}; elapsed ${sec(performance.now() - START)} s`);
  } finally {
    cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
