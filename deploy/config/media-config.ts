/**
 * The transcoder's settings from `STREAMWAVE_*` variables (part of loadConfig in config.ts, split
 * out for size): media limits (issue 8, finding 3) and segment-parallel encoding (docs/adr/0008).
 */
import { DEFAULT_SOURCE_LIMITS, DEFAULT_TIME_LIMITS, DEFAULT_TRANSCODE_MEMORY_LIMIT_BYTES, type SourceLimits, type TimeLimits } from '../../processors/transcoder/media-limits.ts';

/**
 * Media limits of the transcoder: source limits checked after ffprobe, FFmpeg/ffprobe time
 * limits, and the address-space cap per FFmpeg process (bytes; 0: none).
 */
export interface MediaSettings { sourceLimits: SourceLimits; timeLimits: TimeLimits; memoryLimitBytes: number }

/**
 * Segment-parallel encoding over the chunk topic, seconds: sources longer than
 * `thresholdSeconds` (STREAMWAVE_CHUNK_THRESHOLD_SECONDS; default DEFAULT_CLUSTER_CHUNK_THRESHOLD_SECONDS
 * in cluster mode, never (Infinity) in standalone, where one machine gains nothing from it) are
 * split into a first chunk of `firstChunkSeconds` (STREAMWAVE_FIRST_CHUNK_SECONDS, default 4:
 * playable after one segment is encoded) and chunks of `chunkSeconds` (STREAMWAVE_CHUNK_SECONDS,
 * default 20), encoded by every transcoder instance's chunk encoder.
 */
export interface ChunkingSettings { thresholdSeconds: number; chunkSeconds: number; firstChunkSeconds: number }

/** Sources longer than this are chunked in cluster mode unless STREAMWAVE_CHUNK_THRESHOLD_SECONDS says otherwise, seconds. */
export const DEFAULT_CLUSTER_CHUNK_THRESHOLD_SECONDS = 600;

/** env-schema properties of the transcoder variables (merged into config.ts's schema). */
export const MEDIA_ENV_SCHEMA = {
  STREAMWAVE_MEDIA_MAX_SIDE_PX: { type: 'integer', minimum: 16, default: DEFAULT_SOURCE_LIMITS.maxSidePx },
  STREAMWAVE_MEDIA_MAX_PIXELS: { type: 'integer', minimum: 256, default: DEFAULT_SOURCE_LIMITS.maxPixels },
  STREAMWAVE_MEDIA_MAX_ASPECT_RATIO: { type: 'number', minimum: 1, default: DEFAULT_SOURCE_LIMITS.maxAspectRatio },
  STREAMWAVE_MEDIA_MAX_DURATION_SECONDS: { type: 'number', exclusiveMinimum: 0, default: DEFAULT_SOURCE_LIMITS.maxDurationSeconds },
  STREAMWAVE_MEDIA_MAX_FPS: { type: 'number', exclusiveMinimum: 0, default: DEFAULT_SOURCE_LIMITS.maxFps },
  STREAMWAVE_PROBE_TIMEOUT_SECONDS: { type: 'number', exclusiveMinimum: 0, default: DEFAULT_TIME_LIMITS.probeSeconds },
  STREAMWAVE_TRANSCODE_TIMEOUT_FACTOR: { type: 'number', exclusiveMinimum: 0, default: DEFAULT_TIME_LIMITS.encodeFactor },
  STREAMWAVE_TRANSCODE_TIMEOUT_MIN_SECONDS: { type: 'number', exclusiveMinimum: 0, default: DEFAULT_TIME_LIMITS.floorSeconds },
  STREAMWAVE_TRANSCODE_TIMEOUT_MAX_SECONDS: { type: 'number', exclusiveMinimum: 0, default: DEFAULT_TIME_LIMITS.ceilingSeconds },
  STREAMWAVE_TRANSCODE_STALL_SECONDS: { type: 'number', exclusiveMinimum: 0, default: DEFAULT_TIME_LIMITS.stallSeconds },
  STREAMWAVE_TRANSCODE_KILL_GRACE_SECONDS: { type: 'number', minimum: 0, default: DEFAULT_TIME_LIMITS.killGraceSeconds },
  STREAMWAVE_TRANSCODE_MEMORY_LIMIT_BYTES: { type: 'integer', minimum: 0, default: DEFAULT_TRANSCODE_MEMORY_LIMIT_BYTES },
  STREAMWAVE_CHUNK_THRESHOLD_SECONDS: { type: 'number', minimum: 0 },
  // At least one 4 s segment (DEFAULT_SEGMENT_SECONDS of the transcoder).
  STREAMWAVE_CHUNK_SECONDS: { type: 'number', minimum: 4, maximum: 3600, default: 20 },
  STREAMWAVE_FIRST_CHUNK_SECONDS: { type: 'number', minimum: 4, maximum: 3600, default: 4 },
} as const;

/** The variables of MEDIA_ENV_SCHEMA, validated. */
export interface MediaEnv {
  STREAMWAVE_KAFKA_BROKERS?: string;
  STREAMWAVE_MEDIA_MAX_SIDE_PX: number;
  STREAMWAVE_MEDIA_MAX_PIXELS: number;
  STREAMWAVE_MEDIA_MAX_ASPECT_RATIO: number;
  STREAMWAVE_MEDIA_MAX_DURATION_SECONDS: number;
  STREAMWAVE_MEDIA_MAX_FPS: number;
  STREAMWAVE_PROBE_TIMEOUT_SECONDS: number;
  STREAMWAVE_TRANSCODE_TIMEOUT_FACTOR: number;
  STREAMWAVE_TRANSCODE_TIMEOUT_MIN_SECONDS: number;
  STREAMWAVE_TRANSCODE_TIMEOUT_MAX_SECONDS: number;
  STREAMWAVE_TRANSCODE_STALL_SECONDS: number;
  STREAMWAVE_TRANSCODE_KILL_GRACE_SECONDS: number;
  STREAMWAVE_TRANSCODE_MEMORY_LIMIT_BYTES: number;
  STREAMWAVE_CHUNK_THRESHOLD_SECONDS?: number;
  STREAMWAVE_CHUNK_SECONDS: number;
  STREAMWAVE_FIRST_CHUNK_SECONDS: number;
}

/** The media limits from the validated variables. */
export function mediaOf(e: MediaEnv): MediaSettings {
  return {
    sourceLimits: {
      maxSidePx: e.STREAMWAVE_MEDIA_MAX_SIDE_PX,
      maxPixels: e.STREAMWAVE_MEDIA_MAX_PIXELS,
      maxAspectRatio: e.STREAMWAVE_MEDIA_MAX_ASPECT_RATIO,
      maxDurationSeconds: e.STREAMWAVE_MEDIA_MAX_DURATION_SECONDS,
      maxFps: e.STREAMWAVE_MEDIA_MAX_FPS,
    },
    timeLimits: {
      probeSeconds: e.STREAMWAVE_PROBE_TIMEOUT_SECONDS,
      encodeFactor: e.STREAMWAVE_TRANSCODE_TIMEOUT_FACTOR,
      floorSeconds: e.STREAMWAVE_TRANSCODE_TIMEOUT_MIN_SECONDS,
      ceilingSeconds: Math.max(e.STREAMWAVE_TRANSCODE_TIMEOUT_MIN_SECONDS, e.STREAMWAVE_TRANSCODE_TIMEOUT_MAX_SECONDS),
      stallSeconds: e.STREAMWAVE_TRANSCODE_STALL_SECONDS,
      killGraceSeconds: e.STREAMWAVE_TRANSCODE_KILL_GRACE_SECONDS,
    },
    memoryLimitBytes: e.STREAMWAVE_TRANSCODE_MEMORY_LIMIT_BYTES,
  };
}

/** The chunking settings from the validated variables (cluster mode: STREAMWAVE_KAFKA_BROKERS set). */
export function chunkingOf(e: MediaEnv): ChunkingSettings {
  const cluster = (e.STREAMWAVE_KAFKA_BROKERS ?? '').trim() !== '';
  return {
    thresholdSeconds: e.STREAMWAVE_CHUNK_THRESHOLD_SECONDS ?? (cluster ? DEFAULT_CLUSTER_CHUNK_THRESHOLD_SECONDS : Infinity),
    chunkSeconds: e.STREAMWAVE_CHUNK_SECONDS,
    firstChunkSeconds: e.STREAMWAVE_FIRST_CHUNK_SECONDS,
  };
}
