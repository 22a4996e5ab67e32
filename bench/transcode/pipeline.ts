/** (a) The pipeline: the transcoder on the real wiring (ADR 0007: one progressive FFmpeg run), timed phase by phase through its log and spies. */
import { basename, dirname } from 'node:path';
import pino from 'pino';
import type { ObjectStore } from '../../platform/object-store/object-store.port.ts';
import { createTranscoderWorld } from '../../processors/transcoder/testing/transcoder-world.ts';
import { BINARIES, cpuNow, cpuSince, cpuTotal, load1, ticker, type CpuTime } from './support.ts';

interface Mark {
  /** ms since the start of `process()`. */
  at: number;
  /** CPU ms (self + children, see cpuNow) since the start of `process()`; a child's time counts once it has exited. */
  cpu: number;
  what: string;
}

/** One pipeline run: its timings (ms) and what it produced. */
export interface PipelineSample {
  firstPlayableMs: number;
  totalMs: number;
  /** CPU ms of the whole `process()`: this node process (self) and every ffprobe/ffmpeg run (children). */
  cpu: CpuTime;
  renditions: string[];
  /** ms spent in object-store calls, by kind. */
  storeMs: { download: number; upload: number; uploads: number };
  marks: Mark[];
  /** Per-rung output options of every ladder run (paths normalised), for the same-settings check. */
  rungOptions: Map<string, string>;
  /** FFmpeg ladder runs started (1 unless a rung failed and the rest ran again). */
  ladderRuns: number;
  /** 1-minute load average when the run ended. */
  loadAtEnd: string;
}

/** Options whose values differ by design between the progressive pipeline and the plain baseline. */
const SEGMENTING_OPTIONS = new Set(['-force_key_frames', '-hls_time', '-hls_playlist_type']);

/**
 * Per-rung output options without the segmenting ones (first segment length, forced keyframes,
 * playlist type): the codec settings, to compare the pipeline with the baseline.
 */
export function codecOptionsOf(rungOptions: string): string {
  const tokens = rungOptions.split(' ');
  return tokens.filter((_, i) => !SEGMENTING_OPTIONS.has(tokens[i]!) && !SEGMENTING_OPTIONS.has(tokens[i - 1] ?? '')).join(' ');
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

/**
 * One pipeline run on `src` (see the benchmark's file comment): the transcoder world uploads it,
 * then `process()` is timed; progress every 10 s on stderr.
 * @throws Error when the video does not end ready or was never published
 */
export async function measurePipeline(src: string, runId: string, label: string): Promise<PipelineSample> {
  let t0 = 0;
  let c0 = cpuNow();
  const marks: Mark[] = [];
  const mark = (what: string): void => {
    if (t0) marks.push({ at: performance.now() - t0, cpu: cpuTotal(cpuSince(c0)), what });
  };
  const storeMs = { download: 0, upload: 0, uploads: 0 };
  const rungOptions = new Map<string, string>();
  let ladderRuns = 0;
  let firstPlayableMs = NaN;
  let percent = 0;
  // The processor logs `ffmpeg start` (debug, with argv) and its milestones: they time the phases.
  const logger = pino(
    { level: 'debug', base: undefined, timestamp: false },
    {
      write(line: string) {
        const entry = JSON.parse(line) as { msg?: string; argv?: string[]; level?: number };
        if (entry.msg === 'ffmpeg start' && entry.argv) {
          const rungs = rungOptionsOf(entry.argv);
          for (const [k, v] of rungs) rungOptions.set(k, v);
          if (rungs.size) ladderRuns++;
          mark(rungs.size ? `ffmpeg:ladder ${[...rungs.keys()].join(',')}` : 'ffmpeg:thumbnail');
        } else if (entry.msg) {
          mark(`log:${entry.msg}`);
          // Warnings and errors of the transcoder are shown as they are: they explain a failed run.
          if ((entry.level ?? 0) >= 40) process.stderr.write(`    transcoder log: ${line.trimEnd()}\n`);
        }
      },
    },
  );
  const world = await createTranscoderWorld({
    objectStore: (store) => timedStore(store, storeMs, mark),
    commandBus: (bus) => ({
      async send(c) {
        if (c.type === 'PublishVideo' && Number.isNaN(firstPlayableMs)) firstPlayableMs = performance.now() - t0;
        if (c.type === 'ReportProcessingProgress') percent = c.data.progress;
        else mark(`command:${c.type}`);
        return bus.send(c);
      },
    }),
    transcoder: { logger, ffmpegPath: BINARIES.ffmpeg, ffprobePath: BINARIES.ffprobe },
  });
  const stop = ticker(`pipeline ${label}`, () => `, progress ${percent}%, ${Number.isNaN(firstPlayableMs) ? 'not published yet' : `published at ${(firstPlayableMs / 1000).toFixed(2)} s`}`);
  try {
    const videoId = `bench-${runId}`;
    // The upload itself happened before UploadCompleted: not measured.
    await world.upload(videoId, src);

    c0 = cpuNow();
    t0 = performance.now();
    await world.process();
    const totalMs = performance.now() - t0;
    const cpu = cpuSince(c0);

    const video = await world.video(videoId);
    if (video.status !== 'ready') throw new Error(`pipeline failed: ${video.status} ${video.errorCode ?? ''} ${video.error ?? ''}`);
    if (Number.isNaN(firstPlayableMs)) throw new Error('pipeline never sent PublishVideo');
    const renditions = (await world.videoEvents(videoId)).flatMap((e) => (e.type === 'RenditionEncoded' ? [e.data.rendition.name] : []));
    return { firstPlayableMs, totalMs, cpu, renditions, storeMs, marks, rungOptions, ladderRuns, loadAtEnd: load1() };
  } finally {
    stop();
    await world.close();
  }
}

/**
 * Milestones of a pipeline run, ms from the start of `process()` (NaN when missing): when every
 * rung had its first segment uploaded, when the thumbnail was uploaded, when PublishVideo was sent.
 */
export function milestones(s: PipelineSample): { firstSegments: number; thumbnail: number; published: number } {
  const at = (pred: (w: string) => boolean): number => s.marks.find((m) => pred(m.what))?.at ?? NaN;
  const firsts = [...s.rungOptions.keys()].map((name) => at((w) => w.startsWith('upload:') && w.endsWith(`/${name}/seg-00001.m4s`)));
  return {
    firstSegments: firsts.length ? Math.max(...firsts) : NaN,
    thumbnail: at((w) => w.startsWith('upload:') && w.endsWith('/thumbnail.jpg')),
    published: s.firstPlayableMs,
  };
}

/** Phase durations (wall ms, CPU ms) read off a pipeline timeline; NaN when a mark is missing. */
export function phases(s: PipelineSample): Record<string, { wall: number; cpu: number }> {
  const none: Mark = { at: NaN, cpu: NaN, what: '' };
  const find = (pred: (w: string) => boolean, from = 0): Mark => s.marks.find((m) => m.at >= from && pred(m.what)) ?? none;
  const start: Mark = { at: 0, cpu: 0, what: 'start' };
  const end: Mark = { at: s.totalMs, cpu: s.cpu.self + s.cpu.children, what: 'end' };
  const started = find((w) => w === 'command:StartProcessing');
  const ladder = find((w) => w.startsWith('ffmpeg:ladder'));
  const firstUpload = find((w) => w.startsWith('upload:') && /\/(init\.mp4|seg-[^/]*)$/.test(w), ladder.at);
  const published = find((w) => w === 'command:PublishVideo');
  // A rung's sidecar is uploaded once its run has ended and its playlist is ended: the first one marks the end of the run.
  const runDone = find((w) => w.startsWith('upload:') && w.endsWith('/rendition.json'), published.at);
  const finished = find((w) => w === 'log:transcode finished');
  const span = (a: Mark, b: Mark): { wall: number; cpu: number } => ({ wall: b.at - a.at, cpu: b.cpu - a.cpu });
  return {
    'download+probe': span(start, started),
    'to ffmpeg start': span(started, ladder),
    'to 1st upload': span(ladder, firstUpload),
    'to publish': span(firstUpload, published),
    'rest of run': span(published, runDone),
    'finish (playlists, master, cmds)': span(runDone, finished),
    'cleanup (rm work dir)': span(finished, end),
  };
}
