/**
 * Custom thumbnails of a video (issue 15): the rules an uploaded image must meet, where the
 * re-encoded thumbnail lives, and the decision on SetCustomThumbnail. Pure; used by the gateway (to
 * refuse bad input with a 4xx before anything is encoded or stored), the video decider and the
 * video-detail projection.
 *
 * The uploaded bytes are never stored nor served: the gateway re-encodes them to a baseline JPEG
 * without metadata (processors/thumbnails/thumbnail-encoder.port.ts) and stores only that.
 */
import { DomainError } from '../shared/event.ts';
import type { CustomThumbnailSet } from './video.events.ts';
import type { SetCustomThumbnail } from './video.commands.ts';

/** Largest image accepted, bytes (5 MiB; issue 15). */
export const THUMBNAIL_MAX_BYTES = 5 * 1024 * 1024;

/** Largest width and height of an uploaded image, pixels (issue 15: at most 4096×4096). */
export const THUMBNAIL_MAX_PIXELS = 4096;

/** Largest width of the re-encoded thumbnail, pixels: a bigger image is scaled down, keeping its aspect ratio. */
export const THUMBNAIL_OUTPUT_MAX_WIDTH = 1280;

/**
 * The image formats accepted (issue 15: JPEG, PNG or WebP), as sniffThumbnailFormat names them.
 * Their HTTP Content-Types are the gateway's (gateway/routes/videos/thumbnail.ts THUMBNAIL_CONTENT_TYPES).
 */
export type ThumbnailFormat = 'jpeg' | 'png' | 'webp';

/** An uploaded image that breaks a rule: code INVALID_THUMBNAIL (invalid), the message says which. */
export const invalidThumbnail = (reason: string) => new DomainError('INVALID_THUMBNAIL', `invalid thumbnail: ${reason}`, 'invalid');

/**
 * The format of an image by its signature (magic bytes), or null for anything else:
 * JPEG `FF D8 FF` (ITU T.81 SOI marker then a marker), PNG `89 50 4E 47 0D 0A 1A 0A` (RFC 2083 §3.1),
 * WebP `RIFF <size> WEBP` (RFC 9649 §2.5). A GIF (`GIF8`) or anything else is null.
 */
export function sniffThumbnailFormat(bytes: Uint8Array): ThumbnailFormat | null {
  const at = (i: number, ...sig: number[]) => sig.every((b, k) => bytes[i + k] === b);
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  return null;
}

/**
 * Checks the pixel size read from the image's header against THUMBNAIL_MAX_PIXELS.
 * @throws DomainError `INVALID_THUMBNAIL` (invalid) when a side is not a positive integer or exceeds the maximum.
 */
export function assertThumbnailDimensions(width: number, height: number): void {
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width <= 0 || height <= 0) {
    throw invalidThumbnail('the image has no valid width and height');
  }
  if (width > THUMBNAIL_MAX_PIXELS || height > THUMBNAIL_MAX_PIXELS) {
    throw invalidThumbnail(`${width}×${height} px is larger than ${THUMBNAIL_MAX_PIXELS}×${THUMBNAIL_MAX_PIXELS} px`);
  }
}

/**
 * Object key of a re-encoded custom thumbnail, under the video's media prefix so media delivery
 * applies the video's visibility and cache rules to it, like the generated `videos/<id>/thumbnail.jpg`
 * (platform/object-store/http/media.plugin.ts):
 *
 *   videos/<videoId>/thumbnail-<digest>.jpg
 *
 * `digest`: hex of the JPEG's SHA-256, first 16 characters: a new image gets a new key, so no cache
 * serves the old one (the file is served `immutable`), and the media collector removes it with the video.
 */
export const customThumbnailKey = (videoId: string, digest: string): string => `videos/${videoId}/thumbnail-${digest.slice(0, 16)}.jpg`;

/** Whether `key` is a custom thumbnail key of `videoId` (customThumbnailKey). */
export function isCustomThumbnailKey(key: unknown, videoId: string): key is string {
  const prefix = `videos/${videoId}/thumbnail-`;
  return typeof key === 'string' && key.startsWith(prefix) && /^[0-9a-f]{16}\.jpg$/.test(key.slice(prefix.length));
}

/** What the custom thumbnail rule reads of a live (not deleted) video's state. */
export interface ThumbnailVideoView {
  readonly ownerId: string;
  /** Key of the current custom thumbnail; null/absent when the video has none. */
  readonly customThumbnailKey?: string | null;
}

/**
 * Decides SetCustomThumbnail on a live video `v` (the caller checked it exists and is not deleted).
 * Any status is fine: a custom thumbnail set before publication is shown once the video is, and a
 * later generated thumbnail (VideoPublished) does not replace it. The same image again: `[]`.
 * @throws DomainError `NOT_OWNER` (forbidden) unless `metadata.actorId` owns the video;
 *   `INVALID_THUMBNAIL` (invalid) for a key that is not one of the video's custom thumbnail keys,
 *   sizes outside 1..THUMBNAIL_OUTPUT_MAX_WIDTH × 1..THUMBNAIL_MAX_PIXELS px or 1..THUMBNAIL_MAX_BYTES bytes.
 */
export function decideCustomThumbnail(command: SetCustomThumbnail, v: ThumbnailVideoView): CustomThumbnailSet[] {
  const d = command.data;
  const actorId = command.metadata.actorId;
  if (actorId !== v.ownerId) throw new DomainError('NOT_OWNER', 'only the owner may set the thumbnail of a video', 'forbidden');
  if (!isCustomThumbnailKey(d.key, d.videoId)) throw invalidThumbnail('the key is not a thumbnail key of the video');
  const inRange = (x: number, max: number) => Number.isSafeInteger(x) && x > 0 && x <= max;
  if (!inRange(d.width, THUMBNAIL_OUTPUT_MAX_WIDTH) || !inRange(d.height, THUMBNAIL_MAX_PIXELS)) {
    throw invalidThumbnail(`width must be 1..${THUMBNAIL_OUTPUT_MAX_WIDTH} and height 1..${THUMBNAIL_MAX_PIXELS} px`);
  }
  if (!inRange(d.sizeBytes, THUMBNAIL_MAX_BYTES)) throw invalidThumbnail(`sizeBytes must be 1..${THUMBNAIL_MAX_BYTES} bytes`);
  if (v.customThumbnailKey === d.key) return [];
  return [{
    type: 'CustomThumbnailSet',
    data: { videoId: d.videoId, key: d.key, width: d.width, height: d.height, sizeBytes: d.sizeBytes, setBy: actorId, setAt: command.metadata.now },
  }];
}
