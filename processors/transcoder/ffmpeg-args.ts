/**
 * Typed FFmpeg jobs → FFmpeg arguments. Pure; no I/O. The runner (ffmpeg-runner.ts) feeds the
 * resulting invocation to fluent-ffmpeg; `toArgv` flattens it for tests and logs.
 */
import { assertNever } from '../../domain/shared/event.ts';
import type { Rational } from './ffprobe.ts';
import type { RenditionPlan } from './ladder.ts';

/**
 * Highest output frame rate, frames/s: faster sources are decimated to it, since more frames cost
 * bits on every rung and HLS players and devices commonly stop at 60.
 */
const MAX_OUTPUT_FPS = 60;
/** Lowest output frame rate, frames/s: keeps a keyframe available at every segment boundary. */
const MIN_OUTPUT_FPS = 1;
/** x264 constant-rate factor, capped by each rung's VBV maxrate/bufsize. */
const X264_CRF = 23;
/** AAC bitrate, bits/s (stereo). */
export const AUDIO_BITRATE = 128_000;
/** Sample rates kept as they are; anything else is resampled to 48 kHz. */
const KEPT_SAMPLE_RATES = new Set([44_100, 48_000]);

/** One HLS output of a ladder run. */
export interface HlsRenditionOutput {
  plan: RenditionPlan;
  /** Local directory receiving `index.m3u8`, `init.mp4` and `seg-NNNNN.m4s` (must exist). */
  outputDir: string;
}

/** Encode 1..n rungs from one decode (split filter), one HLS (fMP4/CMAF) output per rung. */
export interface HlsLadderJob {
  type: 'hls-ladder';
  /** Local source path. */
  input: string;
  /** Absolute index of the video stream in the source. */
  videoStreamIndex: number;
  /** Source audio, or null for video-only renditions. */
  audio: { streamIndex: number; sampleRate: number } | null;
  /** Deinterlace (bwdif) before scaling. */
  interlaced: boolean;
  /** Output frame rate (see `outputFps`). */
  fps: Rational;
  /** Target segment duration, seconds (keyframes are forced on these boundaries). */
  segmentSeconds: number;
  /**
   * Progressive output (docs/adr/0007-progressive-publishing-in-one-ffmpeg-run.md): HLS EVENT
   * playlists rewritten after every segment, and a first segment of `firstSegmentSeconds`
   * (seconds, ≤ segmentSeconds) so the first segments appear sooner; the later ones keep
   * `segmentSeconds`. Absent: VOD playlists written at the end, every segment `segmentSeconds`.
   */
  progressive?: { firstSegmentSeconds: number };
  renditions: [HlsRenditionOutput, ...HlsRenditionOutput[]];
}

/** Grab one JPEG frame. */
interface ThumbnailJob {
  type: 'thumbnail';
  input: string;
  videoStreamIndex: number;
  interlaced: boolean;
  /** Seek position, seconds. */
  atSeconds: number;
  /** Output size, pixels (even), already in display orientation and square pixels. */
  width: number;
  height: number;
  /** Local output path (.jpg). */
  output: string;
}

/**
 * The storyboard's sprite sheets (storyboard/storyboard-layout.ts): one frame every
 * `intervalSeconds`, scaled to a tile, tiled `columns` × `rows` per JPEG.
 */
export interface StoryboardJob {
  type: 'storyboard';
  input: string;
  videoStreamIndex: number;
  interlaced: boolean;
  /** Seconds between tiles (> 0). */
  intervalSeconds: number;
  /** Tile size, pixels (even), display orientation and square pixels. */
  tileWidth: number;
  tileHeight: number;
  columns: number;
  rows: number;
  /** Local folder (must exist) receiving `sprite-1.jpg`, `sprite-2.jpg`… */
  outputDir: string;
}

export type FfmpegJob = HlsLadderJob | ThumbnailJob | StoryboardJob;

/** An FFmpeg command line in the shape fluent-ffmpeg builds it: input options, input, -filter_complex, outputs. */
export interface FfmpegInvocation {
  inputOptions: string[];
  input: string;
  complexFilter: string | null;
  outputs: { options: string[]; target: string }[];
}

/** Options on every run: no stdin, and only local files may be opened (an upload must not reach the network). */
const COMMON_INPUT_OPTIONS = ['-hide_banner', '-nostdin', '-stats_period', '0.5', '-protocol_whitelist', 'file'];

/** Metadata stripping (GPS, device, capture date, chapters): `-map_metadata -1 -map_chapters -1`. */
const STRIP_METADATA = ['-map_metadata', '-1', '-map_chapters', '-1'];

/**
 * The HLS muxer flags, defined once: VOD (or EVENT) playlist, fMP4/CMAF segments, every segment
 * starts with a keyframe (`independent_segments`), files named `init.mp4` and `seg-00001.m4s`.
 * FFmpeg's hlsenc cuts a segment at the first keyframe at or after `hls_time × segments so far`,
 * so with `hls_time` set to the first segment's length, the forced keyframes alone place the cuts.
 */
function hlsMuxerOptions(outputDir: string, segmentSeconds: number, playlistType: 'vod' | 'event' = 'vod'): string[] {
  return [
    '-f', 'hls',
    '-hls_time', String(segmentSeconds),
    '-hls_playlist_type', playlistType,
    '-hls_segment_type', 'fmp4',
    '-hls_flags', 'independent_segments',
    '-hls_fmp4_init_filename', 'init.mp4',
    '-hls_segment_filename', `${outputDir}/seg-%05d.m4s`,
    '-start_number', '1',
  ];
}

/** Output frame rate: the source rate capped at 60 and floored at 1 frames/s; 30 when unknown. */
export function outputFps(source: Rational): Rational {
  const fps = source.den > 0 ? source.num / source.den : 0;
  if (!(fps > 0)) return { num: 30, den: 1 };
  if (fps > MAX_OUTPUT_FPS) return { num: MAX_OUTPUT_FPS, den: 1 };
  if (fps < MIN_OUTPUT_FPS) return { num: MIN_OUTPUT_FPS, den: 1 };
  return source;
}

/** AAC output sample rate, Hz: the source rate when it is 44.1/48 kHz, else 48 kHz. */
export function audioSampleRate(sourceRate: number): number {
  return KEPT_SAMPLE_RATES.has(sourceRate) ? sourceRate : 48_000;
}

/**
 * Where and how big the thumbnail is: at 1 s, or the mid-point of videos shorter than 2 s;
 * at most 640 pixels wide, never upscaled, display orientation.
 */
export function planThumbnail(durationSeconds: number, displayWidth: number, displayHeight: number): { atSeconds: number; width: number; height: number } {
  const atSeconds = durationSeconds >= 2 ? 1 : Math.max(0, durationSeconds / 2);
  const width = Math.max(2, 2 * Math.floor(Math.min(640, displayWidth) / 2));
  const height = Math.max(2, 2 * Math.round((width * displayHeight) / displayWidth / 2));
  return { atSeconds, width, height };
}

function deinterlace(interlaced: boolean): string[] {
  // bwdif (motion-adaptive, better than yadif); one frame per frame so the frame rate is kept.
  return interlaced ? ['bwdif=mode=send_frame:parity=auto:deint=all'] : [];
}

function ladderInvocation(job: HlsLadderJob): FfmpegInvocation {
  const n = job.renditions.length;
  const fps = `${job.fps.num}/${job.fps.den}`;
  // Constant frame rate so forced keyframes (hence segment cuts) fall on exact segment boundaries
  // even for VFR sources.
  const head = [...deinterlace(job.interlaced), `fps=${fps}`].join(',');
  const scale = (p: RenditionPlan): string => `scale=${p.width}:${p.height}:flags=bicubic,setsar=1,format=yuv420p`;
  const complexFilter =
    n === 1
      ? `[0:${job.videoStreamIndex}]${head},${scale(job.renditions[0].plan)}[v0]`
      : [
          `[0:${job.videoStreamIndex}]${head},split=${n}${job.renditions.map((_, i) => `[s${i}]`).join('')}`,
          ...job.renditions.map((r, i) => `[s${i}]${scale(r.plan)}[v${i}]`),
        ].join(';');
  const fpsValue = job.fps.num / job.fps.den;
  const gop = Math.max(1, Math.round(fpsValue * job.segmentSeconds));
  const first = job.progressive ? Math.min(job.progressive.firstSegmentSeconds, job.segmentSeconds) : job.segmentSeconds;
  // Keyframes at 0, then every segment boundary: 0, S, 2S… or, progressive, 0, F, F+S, F+2S…
  const forcedKeyframes = first === job.segmentSeconds
    ? `expr:gte(t,n_forced*${job.segmentSeconds})`
    : `expr:gte(t,if(eq(n_forced,0),0,${first}+(n_forced-1)*${job.segmentSeconds}))`;
  const outputs = job.renditions.map((r, i) => {
    const p = r.plan;
    const options = [
      '-map', `[v${i}]`,
      ...(job.audio ? ['-map', `0:${job.audio.streamIndex}`] : []),
      '-c:v', 'libx264',
      '-preset', 'veryfast',
      '-profile:v', 'high',
      '-pix_fmt', 'yuv420p',
      '-crf', String(X264_CRF),
      '-maxrate', String(p.maxrate),
      '-bufsize', String(p.bufsize),
      '-g', String(gop),
      '-sc_threshold', '0',
      '-force_key_frames', forcedKeyframes,
      '-fps_mode', 'cfr',
      ...(job.audio
        ? ['-c:a', 'aac', '-b:a', String(AUDIO_BITRATE), '-ac', '2', '-ar', String(audioSampleRate(job.audio.sampleRate))]
        : []),
      ...STRIP_METADATA,
      ...hlsMuxerOptions(r.outputDir, first, job.progressive ? 'event' : 'vod'),
    ];
    return { options, target: `${r.outputDir}/index.m3u8` };
  });
  return { inputOptions: [...COMMON_INPUT_OPTIONS], input: job.input, complexFilter, outputs };
}

function thumbnailInvocation(job: ThumbnailJob): FfmpegInvocation {
  const filters = [...deinterlace(job.interlaced), `scale=${job.width}:${job.height}`, 'setsar=1'].join(',');
  return {
    // Input seeking (-ss before -i): fast, lands on the first frame at/after the position.
    inputOptions: [...COMMON_INPUT_OPTIONS, '-ss', job.atSeconds.toFixed(3)],
    input: job.input,
    complexFilter: null,
    outputs: [
      {
        options: ['-map', `0:${job.videoStreamIndex}`, '-frames:v', '1', '-vf', filters, '-q:v', '3', ...STRIP_METADATA, '-f', 'image2', '-update', '1'],
        target: job.output,
      },
    ],
  };
}

function storyboardInvocation(job: StoryboardJob): FfmpegInvocation {
  // fps=1/N keeps the frame nearest each multiple of N s; the tile filter emits a sheet per
  // columns × rows frames and the last, partly filled one (black padding) at the end of input.
  const filters = [
    ...deinterlace(job.interlaced), `fps=1/${job.intervalSeconds}`, `scale=${job.tileWidth}:${job.tileHeight}:flags=bicubic`, 'setsar=1',
    `tile=${job.columns}x${job.rows}`,
  ].join(',');
  return {
    inputOptions: [...COMMON_INPUT_OPTIONS],
    input: job.input,
    complexFilter: null,
    outputs: [
      {
        options: ['-map', `0:${job.videoStreamIndex}`, '-an', '-sn', '-dn', '-vf', filters, '-fps_mode', 'vfr', '-q:v', '4', ...STRIP_METADATA, '-f', 'image2', '-start_number', '1'],
        target: `${job.outputDir}/sprite-%d.jpg`,
      },
    ],
  };
}

/** Builds the invocation of one job. */
export function buildFfmpegInvocation(job: FfmpegJob): FfmpegInvocation {
  switch (job.type) {
    case 'hls-ladder':
      return ladderInvocation(job);
    case 'thumbnail':
      return thumbnailInvocation(job);
    case 'storyboard':
      return storyboardInvocation(job);
    default:
      return assertNever(job);
  }
}

/** Flattens an invocation into FFmpeg's argv (without the binary), as fluent-ffmpeg orders it. */
export function toArgv(inv: FfmpegInvocation): string[] {
  return [
    ...inv.inputOptions,
    '-i', inv.input,
    '-y',
    ...(inv.complexFilter ? ['-filter_complex', inv.complexFilter] : []),
    ...inv.outputs.flatMap((o) => [...o.options, o.target]),
  ];
}
