/**
 * The FFmpeg thumbnail encoder (port: thumbnail-encoder.port.ts). Each image is written to a
 * private temporary directory, decoded by FFmpeg's image2 demuxer with the decoder its extension
 * names (so no other demuxer or protocol can be reached through a crafted file), scaled down to
 * THUMBNAIL_OUTPUT_MAX_WIDTH px wide at most, and encoded as a JPEG without metadata
 * (`-map_metadata -1`; the JPEG muxer writes no EXIF). Transparent pixels of PNG/WebP become black
 * (JPEG has no alpha). FFmpeg runs bounded (processors/transcoder/bounded-process.ts): a time limit,
 * an address-space cap where util-linux prlimit exists, and at most `concurrency` at once.
 *
 * The composition roots give it the transcoder's settings (deploy/shared/wiring.ts
 * thumbnailEncoderOf): the same memory cap (STREAMWAVE_TRANSCODE_MEMORY_LIMIT_BYTES) and the same
 * scratch folder (`<data dir>/work`), whose direct entries the upload reaper removes once untouched
 * for STREAMWAVE_UPLOAD_EXPIRY_SECONDS: so a `thumbnail-XXXXXX` folder left by a crash mid-encode
 * is swept like the transcoder's `<videoId>` folders. Running out of memory is sorted by the
 * transcoder's own rule (ffmpeg-steps.ts isOutOfMemoryFailure) and is never blamed on the image.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { imageSize } from 'image-size';
import pLimit from 'p-limit';
import { THUMBNAIL_OUTPUT_MAX_WIDTH, type ThumbnailFormat } from '../../domain/video/thumbnails.ts';
import { BoundedProcessError, prlimitFor, runBounded } from '../transcoder/bounded-process.ts';
import { isOutOfMemoryFailure } from '../transcoder/ffmpeg-steps.ts';
import { ThumbnailDecodeError, ThumbnailEncoderOutOfMemoryError, type EncodedThumbnail, type ThumbnailEncoder } from './thumbnail-encoder.port.ts';

/** Options of createFfmpegThumbnailEncoder. */
export interface FfmpegThumbnailEncoderOptions {
  /** Path of the ffmpeg binary (processors/transcoder/ffmpeg-binaries.ts resolveFfmpegBinaries). */
  ffmpegPath: string;
  /**
   * Scratch folder: each encode works in its own `<workDir>/thumbnail-XXXXXX/` (mkdtemp), removed
   * when it ends, failed or not. Give it a folder the upload reaper sweeps (the transcoder's), so a
   * crash mid-encode leaves nothing for good.
   */
  workDir: string;
  /** Encodes at once in this process; more wait their turn. Default 2. */
  concurrency?: number;
  /** Time limit of one FFmpeg run, ms. Default 15 000. */
  timeoutMs?: number;
  /**
   * Address-space cap of one FFmpeg run (`prlimit --as`), bytes; 0: none. The transcoder's
   * (STREAMWAVE_TRANSCODE_MEMORY_LIMIT_BYTES, default 4 GiB): a 4096×4096 RGBA frame is 64 MiB.
   */
  memoryLimitBytes: number;
}

/** The FFmpeg arguments that re-encode `input` (its extension names the decoder) to the JPEG `output`. */
export function thumbnailFfmpegArgs(input: string, output: string): string[] {
  return [
    '-hide_banner', '-nostdin', '-loglevel', 'error', '-protocol_whitelist', 'file',
    '-f', 'image2', '-i', input,
    '-frames:v', '1', '-map_metadata', '-1',
    '-vf', `scale='min(${THUMBNAIL_OUTPUT_MAX_WIDTH},iw)':-2:flags=lanczos,format=yuvj420p`,
    '-c:v', 'mjpeg', '-q:v', '3', '-f', 'image2', '-update', '1', '-y', output,
  ];
}

const EXTENSION: Record<ThumbnailFormat, string> = { jpeg: 'jpg', png: 'png', webp: 'webp' };

/**
 * A ThumbnailEncoder running FFmpeg (see the file comment). `encode` rejects with
 * ThumbnailDecodeError when FFmpeg fails on the image, ThumbnailEncoderOutOfMemoryError when it ran
 * out of memory (isOutOfMemoryFailure), and the BoundedProcessError as is for the rest (spawn
 * failure, time limit, another signal) or the file system's error.
 */
export function createFfmpegThumbnailEncoder(opts: FfmpegThumbnailEncoderOptions): ThumbnailEncoder {
  const limit = pLimit(opts.concurrency ?? 2);
  const { memoryLimitBytes } = opts;
  const prlimitPath = prlimitFor(memoryLimitBytes);
  return {
    encode: (image, format) => limit(async (): Promise<EncodedThumbnail> => {
      await mkdir(opts.workDir, { recursive: true });
      const dir = await mkdtemp(join(opts.workDir, 'thumbnail-'));
      try {
        const input = join(dir, `in.${EXTENSION[format]}`);
        const output = join(dir, 'out.jpg');
        await writeFile(input, image);
        try {
          await runBounded(opts.ffmpegPath, thumbnailFfmpegArgs(input, output), {
            timeoutMs: opts.timeoutMs ?? 15_000, memoryLimitBytes, prlimitPath, killGraceMs: 1_000,
          });
        } catch (e) {
          // Out of memory first: FFmpeg then exits non-zero too, but the image is not at fault.
          if (e instanceof BoundedProcessError && isOutOfMemoryFailure(e)) {
            throw new ThumbnailEncoderOutOfMemoryError(`ffmpeg ran out of memory re-encoding a ${format} image (cap ${memoryLimitBytes} bytes)`, e.stderrTail, { cause: e });
          }
          // FFmpeg exiting non-zero is otherwise its verdict on the image; any other failure is ours.
          if (e instanceof BoundedProcessError && e.kind === 'exit') throw new ThumbnailDecodeError(`the image does not decode as ${format}`);
          throw e;
        }
        const jpeg = await readFile(output).catch(() => null);
        if (!jpeg || jpeg.byteLength === 0) throw new ThumbnailDecodeError(`the image does not decode as ${format}`);
        const { width, height } = imageSize(jpeg);
        return { jpeg, width, height };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
  };
}
