/**
 * Port of the thumbnail encoder (issue 15, custom thumbnails): turns an uploaded image the gateway
 * has already checked (format by its magic bytes, at most 5 MiB and 4096×4096 px by its header;
 * domain/video/thumbnails.ts) into the JPEG that is stored and served. The uploaded bytes are never
 * stored nor served: only what this returns.
 *
 * Synchronous in the request (not a processor on the log, as captions' playlist writer is): one
 * still image of at most 4096×4096 px re-encodes in well under a second, every role's image ships
 * FFmpeg (deploy/compose/Dockerfile), and the owner gets the final thumbnail in the answer, with no
 * raw upload to keep private, collect or reject later. The adapter bounds time, memory and
 * concurrency (processors/thumbnails/ffmpeg-thumbnail-encoder.ts).
 */
import type { ThumbnailFormat } from '../../domain/video/thumbnails.ts';

/** A re-encoded thumbnail: a baseline JPEG without metadata, `width`×`height` pixels. */
export interface EncodedThumbnail {
  readonly jpeg: Buffer;
  readonly width: number;
  readonly height: number;
}

/** The image could not be decoded as `format` (truncated, corrupt, animated WebP…): the client's fault (400). */
export class ThumbnailDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ThumbnailDecodeError';
  }
}

/**
 * The encoder ran out of memory (its address-space cap, STREAMWAVE_TRANSCODE_MEMORY_LIMIT_BYTES, or
 * the machine's): the server's fault, not the image's, since the gateway already refused anything
 * over 4096×4096 px. The gateway answers 503 THUMBNAIL_ENCODER_UNAVAILABLE with Retry-After
 * (gateway/errors.ts), and logs this error: its message, `diagnostics` and `cause` are for the log only.
 */
export class ThumbnailEncoderOutOfMemoryError extends Error {
  constructor(
    message: string,
    /** The encoder's last diagnostic lines (FFmpeg's stderr tail; may hold server paths). */
    readonly diagnostics: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ThumbnailEncoderOutOfMemoryError';
  }
}

/** Re-encodes uploaded images to the served thumbnail JPEG. */
export interface ThumbnailEncoder {
  /**
   * Decodes `image` as `format` (its first frame) and re-encodes it as a JPEG at most
   * THUMBNAIL_OUTPUT_MAX_WIDTH px wide (aspect ratio kept; never enlarged), metadata stripped.
   * @throws ThumbnailDecodeError when the image does not decode; ThumbnailEncoderOutOfMemoryError
   *   when the encoder ran out of memory; any other error is the server's (FFmpeg missing, time limit…).
   */
  encode(image: Uint8Array, format: ThumbnailFormat): Promise<EncodedThumbnail>;
}
