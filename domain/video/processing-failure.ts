/**
 * Why processing a video failed, as the uploader sees it: a stable code and ONE fixed sentence per
 * code. The sentence is all the public `/status` shows (issue 8, finding 10): never FFmpeg's
 * stderr, a server path or a dead-letter message; those go to the structured log only.
 */

/**
 * Stable codes of a processing failure (`VideoProcessingFailed.code`, `FailProcessing.code`):
 * - input problems: `UNREADABLE_MEDIA`, `UNSUPPORTED_CONTAINER`, `NO_VIDEO_STREAM`,
 *   `UNDECODABLE_VIDEO`, `INVALID_DURATION`, `ENCODE_FAILED`, `SOURCE_NOT_FOUND`;
 * - source limits (issue 8, finding 3; PeerTube-like defaults): `RESOLUTION_TOO_HIGH`,
 *   `ASPECT_RATIO_UNSUPPORTED`, `DURATION_TOO_LONG`, `FRAME_RATE_TOO_HIGH`;
 * - resource limits: `PROCESSING_TIMEOUT` (FFmpeg/ffprobe ran past its time limit or stalled),
 *   `OUT_OF_MEMORY` (killed for memory twice);
 * - `PROCESSING_FAILED`: failed after every retry for another reason (dead-lettered).
 */
export const PROCESSING_FAILURE_MESSAGES = {
  UNREADABLE_MEDIA: 'The file could not be read as audio or video.',
  UNSUPPORTED_CONTAINER: 'The file is a playlist or script, not a video file.',
  NO_VIDEO_STREAM: 'The file has no video stream; please upload a video.',
  UNDECODABLE_VIDEO: 'The video could not be decoded.',
  INVALID_DURATION: 'The video has no readable duration.',
  ENCODE_FAILED: 'The video could not be encoded.',
  SOURCE_NOT_FOUND: 'The uploaded file is no longer available.',
  RESOLUTION_TOO_HIGH: 'The video resolution is higher than this server accepts.',
  ASPECT_RATIO_UNSUPPORTED: 'The video aspect ratio is more extreme than this server accepts.',
  DURATION_TOO_LONG: 'The video is longer than this server accepts.',
  FRAME_RATE_TOO_HIGH: 'The video frame rate is higher than this server accepts.',
  PROCESSING_TIMEOUT: 'Processing the video took longer than its time limit.',
  OUT_OF_MEMORY: 'Processing the video needed more memory than this server allows.',
  PROCESSING_FAILED: 'Processing failed; please try again later.',
} as const;

/** A code of `PROCESSING_FAILURE_MESSAGES`. */
export type ProcessingFailureCode = keyof typeof PROCESSING_FAILURE_MESSAGES;

/** True when `code` is one of the catalogue's codes. */
export function isProcessingFailureCode(code: unknown): code is ProcessingFailureCode {
  return typeof code === 'string' && Object.hasOwn(PROCESSING_FAILURE_MESSAGES, code);
}

/**
 * The fixed public sentence of a failure code; an unknown or missing code (older history) gets the
 * generic `PROCESSING_FAILED` sentence, so no stored free text ever reaches a client.
 */
export function processingFailureMessage(code: string | null | undefined): string {
  return isProcessingFailureCode(code) ? PROCESSING_FAILURE_MESSAGES[code] : PROCESSING_FAILURE_MESSAGES.PROCESSING_FAILED;
}
