import { open } from 'node:fs/promises';
import type { FfprobeData, FfprobeStream } from 'fluent-ffmpeg';
import { PROCESSING_FAILURE_MESSAGES, type ProcessingFailureCode } from '../../domain/video/processing-failure.ts';
import { BoundedProcessError, runBounded, type BoundedProcessOptions } from './bounded-process.ts';
import { resolveFfmpegBinaries } from './ffmpeg-binaries.ts';

/**
 * Stable code of a permanent input rejection (sent as `FailProcessing.code`); the catalogue with
 * each code's public sentence is domain/video/processing-failure.ts.
 */
type MediaRejectionCode = ProcessingFailureCode;

/**
 * A permanent problem with the input: retrying cannot help; the video is marked failed with
 * `code` and its fixed public sentence (`reason`). `detail` says more, for the structured log
 * only: it may name server paths or quote FFmpeg's stderr.
 */
export class MediaRejectedError extends Error {
  /** The fixed public sentence of `code`, shown to the uploader by `/status`. */
  readonly reason: string;
  constructor(
    readonly code: MediaRejectionCode,
    /** What exactly went wrong (log only, never shown to clients). */
    readonly detail: string = '',
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${detail || PROCESSING_FAILURE_MESSAGES[code]}`, options);
    this.name = 'MediaRejectedError';
    this.reason = PROCESSING_FAILURE_MESSAGES[code];
  }
}

/** A rational number, e.g. a sample aspect ratio `2:1` or a frame rate `30000/1001`. */
export interface Rational {
  num: number;
  den: number;
}

/** The video stream a transcode uses (the first one that is not cover art). */
export interface VideoStreamInfo {
  /** Absolute stream index in the container (for `-map 0:<index>` / `[0:<index>]`). */
  index: number;
  /** FFmpeg codec name, e.g. `h264`, `hevc`, `vp9`. */
  codec: string;
  /** Coded (storage) size, pixels. */
  codedWidth: number;
  codedHeight: number;
  /** Sample (pixel) aspect ratio; `1:1` when absent or `0:1` (unknown). */
  sar: Rational;
  /**
   * Clockwise display rotation, degrees, one of 0/90/180/270. Read from the display-matrix side
   * data (FFmpeg 5.1 reports rotation only there, never as a `rotate` tag). FFmpeg's
   * `rotation` is counter-clockwise, so -90 (typical iPhone portrait) becomes 90 here.
   */
  rotation: 0 | 90 | 180 | 270;
  /** Display size: coded size × SAR (width is stretched), then swapped for 90/270 rotation, pixels. */
  displayWidth: number;
  displayHeight: number;
  /** Average frame rate, frames/s (falls back to r_frame_rate); 0 when unknown. */
  fps: number;
  /** The same frame rate as a rational, for exact `fps=` filter arguments. */
  fpsRational: Rational;
  /** The declared average frame rate (avg_frame_rate, uncapped), frames/s; 0 when absent. Checked against the source limits. */
  avgFps: number;
  /** True when field_order is tt/bb/tb/bt. */
  interlaced: boolean;
  /** FFmpeg pixel format, e.g. `yuv420p`, `yuv420p10le`. */
  pixFmt: string;
}

interface AudioStreamInfo {
  index: number;
  codec: string;
  channels: number;
  /** Hz. */
  sampleRate: number;
}

/** What the transcoder knows about a source after probing. */
export interface SourceInfo {
  /** Seconds. */
  duration: number;
  /** FFmpeg demuxer name(s), e.g. `mov,mp4,m4a,3gp,3g2,mj2`. */
  formatName: string;
  video: VideoStreamInfo | null;
  audio: AudioStreamInfo | null;
}

/** Demuxers that open further URLs/files named inside the input: never allowed for uploads. */
const FORBIDDEN_FORMATS = new Set(['hls', 'applehttp', 'concat', 'ffconcat', 'dash', 'tee', 'image2', 'lavfi', 'ffmetadata']);

function num(x: unknown): number {
  const n = typeof x === 'number' ? x : Number(x);
  return Number.isFinite(n) ? n : NaN;
}

function parseRational(x: unknown, sep: ':' | '/'): Rational | null {
  if (typeof x !== 'string') return null;
  const [a, b] = x.split(sep);
  const n = Number(a);
  const d = Number(b);
  if (!Number.isFinite(n) || !Number.isFinite(d) || n <= 0 || d <= 0) return null;
  return { num: n, den: d };
}

function normalizeRotation(ffmpegRotation: number): 0 | 90 | 180 | 270 {
  if (!Number.isFinite(ffmpegRotation)) return 0;
  // FFmpeg's display-matrix rotation is counter-clockwise degrees; make it clockwise, snap to 90°.
  const cw = (((-Math.round(ffmpegRotation / 90) * 90) % 360) + 360) % 360;
  return cw as 0 | 90 | 180 | 270;
}

const INTERLACED_FIELD_ORDERS = new Set(['tt', 'bb', 'tb', 'bt']);

/**
 * Turns fluent-ffmpeg's ffprobe output into a `SourceInfo`, rejecting what is not a playable
 * video. Pure (exported for tests).
 * @throws MediaRejectedError UNSUPPORTED_CONTAINER, UNREADABLE_MEDIA, NO_VIDEO_STREAM, UNDECODABLE_VIDEO, INVALID_DURATION
 */
export function interpretProbe(data: FfprobeData): SourceInfo {
  const formatName = String(data.format?.format_name ?? '');
  if (formatName.split(',').some((f) => FORBIDDEN_FORMATS.has(f))) {
    throw new MediaRejectedError('UNSUPPORTED_CONTAINER', `The file is a ${formatName} playlist or script, not a video file.`);
  }
  const streams: FfprobeStream[] = data.streams ?? [];
  if (streams.length === 0) {
    throw new MediaRejectedError('UNREADABLE_MEDIA', 'The file contains no audio or video streams.');
  }
  // Cover art (ID3 APIC, MP4 covr) shows up as an MJPEG/PNG "video" stream with
  // disposition.attached_pic=1: it is a still picture, not video.
  const videoStream = streams.find((s) => s.codec_type === 'video' && Number(s.disposition?.attached_pic ?? 0) !== 1);
  const audioStream = streams.find((s) => s.codec_type === 'audio');
  if (!videoStream) {
    const what = audioStream ? 'an audio-only file' : 'a file without a video stream';
    throw new MediaRejectedError('NO_VIDEO_STREAM', `This is ${what}; please upload a video.`);
  }
  const codec = String(videoStream.codec_name ?? '');
  const codedWidth = num(videoStream.width);
  const codedHeight = num(videoStream.height);
  const pixFmt = String(videoStream.pix_fmt ?? '');
  if (!codec || codec === 'unknown' || codec === 'none') {
    throw new MediaRejectedError('UNDECODABLE_VIDEO', 'The video uses a codec that cannot be decoded.');
  }
  if (!(codedWidth > 0 && codedHeight > 0) || !pixFmt || pixFmt === 'unknown' || pixFmt === 'none') {
    throw new MediaRejectedError('UNDECODABLE_VIDEO', `The ${codec} video stream cannot be decoded (unknown frame size or pixel format).`);
  }
  const sar = parseRational(videoStream.sample_aspect_ratio, ':') ?? { num: 1, den: 1 };
  // fluent-ffmpeg flattens [SIDE_DATA] blocks into the stream, so the display matrix's
  // `rotation=-90` appears as `stream.rotation` (a string: its number regex skips negatives).
  const rotation = normalizeRotation(num(videoStream.rotation ?? 0));
  const sarWidth = Math.round((codedWidth * sar.num) / sar.den);
  const [displayWidth, displayHeight] = rotation === 90 || rotation === 270 ? [codedHeight, sarWidth] : [sarWidth, codedHeight];

  const avg = parseRational(videoStream.avg_frame_rate, '/');
  const rFrame = parseRational(videoStream.r_frame_rate, '/');
  // avg_frame_rate is the honest rate for VFR (r_frame_rate can be 57600 fps for a VFR clip);
  // r_frame_rate is the fallback (e.g. MPEG-TS segments report avg 0/0).
  const plausible = (r: Rational | null): r is Rational => r !== null && r.num / r.den > 0 && r.num / r.den <= 1000;
  const fpsRational = plausible(avg) ? avg : plausible(rFrame) ? rFrame : { num: 0, den: 1 };
  const fieldOrder = String(videoStream.field_order ?? '');

  const duration = [data.format?.duration, videoStream.duration].map(num).find((d) => d > 0) ?? NaN;
  if (!(duration > 0)) {
    throw new MediaRejectedError('INVALID_DURATION', 'The video has no readable duration.');
  }

  return {
    duration,
    formatName,
    video: {
      index: videoStream.index,
      codec,
      codedWidth,
      codedHeight,
      sar,
      rotation,
      displayWidth,
      displayHeight,
      fps: fpsRational.num / fpsRational.den,
      fpsRational,
      avgFps: avg ? avg.num / avg.den : 0,
      interlaced: INTERLACED_FIELD_ORDERS.has(fieldOrder),
      pixFmt,
    },
    audio: audioStream
      ? {
          index: audioStream.index,
          codec: String(audioStream.codec_name ?? ''),
          channels: num(audioStream.channels) || 0,
          sampleRate: num(audioStream.sample_rate) || 0,
        }
      : null,
  };
}

/** First bytes of text formats that make FFmpeg open other files (HLS playlists, concat scripts). */
const FORBIDDEN_MAGIC = ['#EXTM3U', 'ffconcat'];

async function sniffForbidden(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(64);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead).toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
    if (FORBIDDEN_MAGIC.some((m) => head.startsWith(m))) {
      throw new MediaRejectedError('UNSUPPORTED_CONTAINER', 'The file is a playlist or script, not a video file.');
    }
  } finally {
    await fh.close();
  }
}

/** Default ffprobe time limit, ms (issue 8: 30 s). */
export const DEFAULT_PROBE_TIMEOUT_MS = 30_000;

/** ffprobe's JSON (`-of json -show_format -show_streams`) in the shape `interpretProbe` reads (fluent-ffmpeg's). */
function fromProbeJson(json: unknown): FfprobeData {
  const j = (json ?? {}) as { streams?: Record<string, unknown>[]; format?: Record<string, unknown> };
  const streams = (j.streams ?? []).map((s) => {
    // The display matrix is in side_data_list; fluent-ffmpeg flattened it to `stream.rotation`.
    const side = Array.isArray(s.side_data_list) ? (s.side_data_list as Record<string, unknown>[]) : [];
    const rotation = side.find((d) => d.rotation !== undefined)?.rotation;
    return { ...s, ...(rotation !== undefined && s.rotation === undefined ? { rotation } : {}) };
  });
  return { streams, format: j.format ?? {}, chapters: [] } as unknown as FfprobeData;
}

/**
 * Probes a local file with ffprobe (`-protocol_whitelist file`: an upload must not make FFmpeg
 * open network URLs), bounded by a time limit (default 30 s; killed past it) and the caller's
 * abort signal.
 * @param path local path of the source.
 * @param opts.bounds memory cap, kill grace, abort signal (see `runBounded`).
 * @throws MediaRejectedError when the input is not a playable video (permanent), PROCESSING_TIMEOUT
 *   when ffprobe ran past its time limit.
 * @throws BoundedProcessError when ffprobe cannot be run (spawn), was aborted, or was killed by a
 *   signal (transient/config).
 */
export async function probeMedia(path: string, opts: { ffprobePath?: string; timeoutMs?: number; bounds?: BoundedProcessOptions } = {}): Promise<SourceInfo> {
  await sniffForbidden(path);
  const ffprobePath = opts.ffprobePath ?? resolveFfmpegBinaries().ffprobe;
  const args = ['-v', 'error', '-protocol_whitelist', 'file', '-of', 'json', '-show_format', '-show_streams', path];
  let stdout: string;
  try {
    stdout = await runBounded(ffprobePath, args, { ...opts.bounds, timeoutMs: opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS, captureStdout: true });
  } catch (err) {
    if (!(err instanceof BoundedProcessError)) throw err;
    if (err.kind === 'timeout' || err.kind === 'stalled') throw new MediaRejectedError('PROCESSING_TIMEOUT', `ffprobe: ${err.message}`, { cause: err });
    if (err.kind !== 'exit') throw err; // spawn failure, abort or a signal: not the file's fault
    const detail = err.stderrTail.split('\n').map((l) => l.trim()).filter(Boolean).pop();
    throw new MediaRejectedError('UNREADABLE_MEDIA', `ffprobe: ${detail ?? err.message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch (err) {
    throw new MediaRejectedError('UNREADABLE_MEDIA', 'ffprobe printed no JSON', { cause: err });
  }
  return interpretProbe(fromProbeJson(json));
}
