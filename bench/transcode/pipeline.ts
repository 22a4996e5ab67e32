/** (a) The pipeline: the transcoder on the real wiring, timed phase by phase through its log and spies. */
import { basename, dirname } from 'node:path';
import pino from 'pino';
import type { ObjectStore } from '../../platform/object-store/object-store.port.ts';
import { createTranscoderWorld } from '../../processors/transcoder/testing/transcoder-world.ts';
import { BINARIES, cpuNowMs } from './support.ts';

interface Mark {
  /** ms since the start of `process()`. */
  at: number;
  /** CPU ms (see cpuNowMs) since the start of `process()`; a child's time counts once it has exited. */
  cpu: number;
  what: string;
}

/** One pipeline run: its timings (ms) and what it produced. */
export interface PipelineSample {
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

/**
 * One pipeline run on `src` (see the benchmark's file comment): the transcoder world uploads it,
 * then `process()` is timed. @throws Error when the video does not end ready
 */
export async function measurePipeline(src: string, runId: string): Promise<PipelineSample> {
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
export function phases(s: PipelineSample): Record<string, { wall: number; cpu: number }> {
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
