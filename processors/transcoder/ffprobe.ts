import { open } from 'node:fs/promises';
import ffmpeg from 'fluent-ffmpeg';
import type { FfprobeData, FfprobeStream } from 'fluent-ffmpeg';
import { resolveFfmpegBinaries } from './ffmpeg-binaries.ts';

/**
 * Stable codes of a permanent input rejection (sent as `FailProcessing.code`):
 * - `UNREADABLE_MEDIA`: ffprobe cannot open the file, or it holds no media stream;
 * - `UNSUPPORTED_CONTAINER`: a playlist/concat script that would make FFmpeg open other files;
 * - `NO_VIDEO_STREAM`: audio only (a cover-art picture is not video);
 * - `UNDECODABLE_VIDEO`: a video stream FFmpeg cannot decode (unknown codec/size/pixel format),
 *   or decoding failed during the encode;
 * - `INVALID_DURATION`: no usable duration;
 * - `ENCODE_FAILED`: FFmpeg failed for another reason on this input;
 * - `SOURCE_NOT_FOUND`: the uploaded object is gone.
 */
type MediaRejectionCode =
  | 'UNREADABLE_MEDIA'
  | 'UNSUPPORTED_CONTAINER'
  | 'NO_VIDEO_STREAM'
  | 'UNDECODABLE_VIDEO'
  | 'INVALID_DURATION'
  | 'ENCODE_FAILED'
  | 'SOURCE_NOT_FOUND';

/** A permanent problem with the input: retrying cannot help; the video is marked failed. */
export class MediaRejectedError extends Error {
  constructor(
    readonly code: MediaRejectionCode,
    /** Human-readable reason, shown to the uploader in the status endpoint. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${reason}`, options);
    this.name = 'MediaRejectedError';
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

/**
 * Probes a local file with ffprobe (`-protocol_whitelist file`: an upload must not make FFmpeg
 * open network URLs) through fluent-ffmpeg.
 * @param path local path of the source.
 * @throws MediaRejectedError when the input is not a playable video (permanent).
 * @throws Error when ffprobe itself cannot be run (ENOENT/EACCES; transient/config).
 */
export async function probeMedia(path: string, opts: { ffprobePath?: string } = {}): Promise<SourceInfo> {
  await sniffForbidden(path);
  const ffprobePath = opts.ffprobePath ?? resolveFfmpegBinaries().ffprobe;
  const data = await new Promise<FfprobeData>((resolve, reject) => {
    ffmpeg(path)
      .setFfprobePath(ffprobePath)
      .ffprobe(['-v', 'error', '-protocol_whitelist', 'file'], (err: unknown, d: FfprobeData) => {
        if (!err) return resolve(d);
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string') return reject(err); // spawn failure (ENOENT…), not the file's fault
        const detail = String((err as Error).message ?? err)
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l && !l.startsWith('ffprobe exited'))
          .pop();
        reject(
          new MediaRejectedError('UNREADABLE_MEDIA', `The file could not be read as audio or video${detail ? ` (${detail.replace(path, 'input')})` : ''}.`, {
            cause: err,
          }),
        );
      });
  });
  return interpretProbe(data);
}
