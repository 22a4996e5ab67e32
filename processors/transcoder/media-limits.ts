/**
 * Media limits of the transcoder (issue 8, finding 3): what a source may be (checked after
 * ffprobe, before any encode) and how long FFmpeg may run on it. Pure; no I/O.
 * Defaults follow PeerTube's (8K at most, 6 h, up to 240 fps) and are configurable through
 * `STREAMWAVE_MEDIA_*` / `STREAMWAVE_TRANSCODE_*` (deploy/config/config.ts).
 */
import { MediaRejectedError, type SourceInfo } from './ffprobe.ts';

/** What a source may be. */
export interface SourceLimits {
  /** Longest side, coded or displayed (after SAR and rotation), pixels. */
  maxSidePx: number;
  /** Most pixels per frame (width × height), coded or displayed. */
  maxPixels: number;
  /** Display aspect ratio (after SAR) must lie within 1:maxAspectRatio … maxAspectRatio:1. */
  maxAspectRatio: number;
  /** Longest duration, seconds. */
  maxDurationSeconds: number;
  /** Highest declared average frame rate, frames/s. */
  maxFps: number;
}

/** Defaults: 8192 px per side, 8192×4320 pixels (8K), 1:4 … 4:1, 6 h, 240 fps. */
export const DEFAULT_SOURCE_LIMITS: SourceLimits = {
  maxSidePx: 8192,
  maxPixels: 8192 * 4320,
  maxAspectRatio: 4,
  maxDurationSeconds: 6 * 3600,
  maxFps: 240,
};

/**
 * Checks a probed source against `limits`, in this order: coded size, display aspect ratio,
 * display size, frame rate, duration.
 * @throws MediaRejectedError RESOLUTION_TOO_HIGH, ASPECT_RATIO_UNSUPPORTED, FRAME_RATE_TOO_HIGH or
 *   DURATION_TOO_LONG (the detail, for the log, gives the figures and the limit).
 */
export function checkSourceLimits(info: SourceInfo, limits: SourceLimits = DEFAULT_SOURCE_LIMITS): void {
  const v = info.video;
  if (v) {
    const size = (w: number, h: number, what: string): void => {
      if (Math.max(w, h) > limits.maxSidePx || w * h > limits.maxPixels) {
        throw new MediaRejectedError('RESOLUTION_TOO_HIGH', `${what} ${w}x${h} exceeds ${limits.maxSidePx} px per side or ${limits.maxPixels} pixels`);
      }
    };
    size(v.codedWidth, v.codedHeight, 'coded size');
    const aspect = v.displayWidth / v.displayHeight;
    if (!(aspect <= limits.maxAspectRatio && aspect >= 1 / limits.maxAspectRatio)) {
      throw new MediaRejectedError('ASPECT_RATIO_UNSUPPORTED', `display ${v.displayWidth}x${v.displayHeight} (SAR ${v.sar.num}:${v.sar.den}) is outside 1:${limits.maxAspectRatio} … ${limits.maxAspectRatio}:1`);
    }
    size(v.displayWidth, v.displayHeight, 'display size');
    if (v.avgFps > limits.maxFps) {
      throw new MediaRejectedError('FRAME_RATE_TOO_HIGH', `${v.avgFps.toFixed(2)} fps exceeds ${limits.maxFps} fps`);
    }
  }
  if (info.duration > limits.maxDurationSeconds) {
    throw new MediaRejectedError('DURATION_TOO_LONG', `${info.duration.toFixed(1)} s exceeds ${limits.maxDurationSeconds} s`);
  }
}

/** Default address-space cap of one FFmpeg/ffprobe process (`prlimit --as`), bytes: 4 GiB. */
export const DEFAULT_TRANSCODE_MEMORY_LIMIT_BYTES = 4 * 1024 ** 3;

/** How long FFmpeg and ffprobe may run. */
export interface TimeLimits {
  /** ffprobe's limit, seconds (default 30). */
  probeSeconds: number;
  /** An FFmpeg run's limit is `factor × source duration`, within [floorSeconds, ceilingSeconds]. */
  encodeFactor: number;
  floorSeconds: number;
  ceilingSeconds: number;
  /** An FFmpeg run reporting no progress for this long is killed, seconds. */
  stallSeconds: number;
  /** Between SIGTERM and SIGKILL, seconds. */
  killGraceSeconds: number;
}

/** Defaults (issue 8): ffprobe 30 s; FFmpeg min(12 h, max(120 s, 10 × duration)); stall 10 min; grace 5 s. */
export const DEFAULT_TIME_LIMITS: TimeLimits = {
  probeSeconds: 30,
  encodeFactor: 10,
  floorSeconds: 120,
  ceilingSeconds: 12 * 3600,
  stallSeconds: 600,
  killGraceSeconds: 5,
};

/**
 * Time limit of one FFmpeg run over a source of `durationSeconds`:
 * `min(ceiling, max(floor, factor × duration))`, seconds. A non-finite or negative duration gets
 * the floor.
 */
export function encodeTimeLimitSeconds(durationSeconds: number, limits: TimeLimits = DEFAULT_TIME_LIMITS): number {
  const d = Number.isFinite(durationSeconds) && durationSeconds > 0 ? durationSeconds : 0;
  return Math.min(limits.ceilingSeconds, Math.max(limits.floorSeconds, limits.encodeFactor * d));
}
