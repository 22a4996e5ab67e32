/**
 * Chunk planning for segment-parallel (chunked) HLS encoding. Pure; no I/O.
 *
 * Design. A ladder run (ffmpeg-args.ts) makes the output constant-frame-rate with the `fps`
 * filter and forces a keyframe on the first output frame at or after every t = k·S seconds
 * (`-force_key_frames expr:gte(t,n_forced*S)`, S = segment duration); the HLS muxer cuts a
 * segment at each of those keyframes. So the segment boundaries of a single run are a pure
 * function of the OUTPUT timeline: frame `firstFrameAtOrAfter(k·S, fps)`. When every chunk
 * boundary is a multiple of S, a chunk [a, b) holds exactly the output frames
 * [firstFrameAtOrAfter(a), firstFrameAtOrAfter(b)) and therefore exactly the segments
 * a/S + 1 … b/S of the single run, with the same cut points: the chunks' segments can be
 * listed one after the other in one media playlist (chunk-join.ts). The chunk's keyframe
 * placement depends only on the source, never on where the source's own keyframes (GOP) are.
 *
 * Audio is cut on the AAC packet grid of the single run (multiples of 1024 samples in output
 * time, see `audioPacketBoundary`), next to the video boundary, so the chunks' AAC packets
 * continue each other without a gap or an overlap (see chunk-encode.ts).
 */
import type { Rational } from '../ffprobe.ts';

/** Samples per AAC-LC frame (ISO/IEC 14496-3: 1024 samples per raw_data_block). */
export const AAC_FRAME_SAMPLES = 1024;

/** Default chunk length, seconds (5 segments of 4 s). */
export const DEFAULT_CHUNK_SECONDS = 20;

/** One chunk of a source, in output-timeline seconds (the single run's timeline). */
export interface ChunkSpan {
  /** 0-based position in the plan. */
  index: number;
  /** Start, seconds, a multiple of the segment duration. */
  startSeconds: number;
  /** End, seconds (exclusive): a multiple of the segment duration, or the source duration for the last chunk. */
  endSeconds: number;
  /** True for the last chunk: it runs to the end of the source (no end trim). */
  last: boolean;
  /** 0-based index of its first segment in the whole playlist (= startSeconds / S); FFmpeg's `-start_number` is this + 1. */
  firstSegmentIndex: number;
}

/** The parameters of `planChunks`. */
export interface ChunkPlanOptions {
  /** Target chunk length, seconds; rounded down to a multiple of `segmentSeconds` (at least one segment). Default 20. */
  chunkSeconds?: number;
  /** Segment duration S, seconds (positive). */
  segmentSeconds: number;
  /**
   * A tail shorter than this, seconds, is merged into the chunk before it instead of becoming a
   * chunk of its own (a job whose start-up cost exceeds its work). Default half a chunk.
   */
  minLastChunkSeconds?: number;
  /**
   * Length of the FIRST chunk, seconds, rounded down to a multiple of `segmentSeconds` (at least
   * one segment); the rest are `chunkSeconds` long. A short first chunk is encoded and published
   * first, so a chunked video becomes playable after a few seconds of video are encoded, not a
   * whole chunk. Default: `chunkSeconds`.
   */
  firstChunkSeconds?: number;
}

/**
 * Whether a source is long enough to be encoded in chunks: strictly longer than the threshold.
 * Below or at it the single run is used (the chunk start-up and the join cost more than they save).
 * @param durationSeconds source duration, seconds.
 * @param thresholdSeconds configured threshold, seconds (≥ 0; `Infinity`: never, standalone's default).
 * @throws RangeError on a negative or non-finite argument.
 */
export function shouldChunk(durationSeconds: number, thresholdSeconds: number): boolean {
  if (!(Number.isFinite(durationSeconds) && durationSeconds >= 0)) throw new RangeError(`invalid duration ${durationSeconds}`);
  if (!(thresholdSeconds >= 0)) throw new RangeError(`invalid threshold ${thresholdSeconds}`);
  return durationSeconds > thresholdSeconds;
}

/**
 * Plans the chunks of a source of `durationSeconds`: a first span of `firstChunkSeconds`, then
 * consecutive spans of `chunkSeconds` (multiples of S) covering [0, duration), the last one
 * running to the end. Every boundary is a
 * multiple of S, hence a segment boundary of the single run (see the file comment).
 * @returns at least one chunk (a source shorter than one chunk gives a single chunk).
 * @throws RangeError when the duration or the segment duration is not a positive finite number,
 *   or the chunk length is shorter than one segment.
 */
export function planChunks(durationSeconds: number, opts: ChunkPlanOptions): ChunkSpan[] {
  const S = opts.segmentSeconds;
  if (!(Number.isFinite(durationSeconds) && durationSeconds > 0)) throw new RangeError(`invalid duration ${durationSeconds}`);
  if (!(Number.isFinite(S) && S > 0)) throw new RangeError(`invalid segment duration ${S}`);
  const requested = opts.chunkSeconds ?? DEFAULT_CHUNK_SECONDS;
  const segmentsPerChunk = Math.floor(requested / S + 1e-9);
  if (!(segmentsPerChunk >= 1)) throw new RangeError(`chunk length ${requested} s is shorter than one ${S} s segment`);
  const C = segmentsPerChunk * S;
  const firstSegments = Math.floor((opts.firstChunkSeconds ?? C) / S + 1e-9);
  if (!(firstSegments >= 1)) throw new RangeError(`first chunk length ${opts.firstChunkSeconds} s is shorter than one ${S} s segment`);
  const F = firstSegments * S;
  const minLast = opts.minLastChunkSeconds ?? C / 2;
  const starts: number[] = [0];
  for (let at = F; at < durationSeconds; at += C) starts.push(at);
  // A short tail joins the chunk before it.
  if (starts.length > 1 && durationSeconds - starts[starts.length - 1]! < minLast) starts.pop();
  return starts.map((start, index) => {
    const last = index === starts.length - 1;
    return {
      index,
      startSeconds: start,
      endSeconds: last ? durationSeconds : starts[index + 1]!,
      last,
      firstSegmentIndex: Math.round(start / S),
    };
  });
}

/**
 * Index of the first output frame whose time is at or after `seconds` at a constant `fps`: the
 * frame FFmpeg's `-force_key_frames expr:gte(t,…)` makes a keyframe. Computed as FFmpeg does,
 * t = n × (den/num) in double precision (the encoder time base is 1/fps), so the two agree even
 * for 30000/1001.
 * @throws RangeError on a non-positive frame rate or a negative time.
 */
export function firstFrameAtOrAfter(seconds: number, fps: Rational): number {
  if (!(fps.num > 0 && fps.den > 0)) throw new RangeError(`invalid frame rate ${fps.num}/${fps.den}`);
  if (!(seconds >= 0)) throw new RangeError(`invalid time ${seconds}`);
  const tb = fps.den / fps.num;
  let n = Math.max(0, Math.floor(seconds / tb) - 2);
  while (n * tb < seconds) n++;
  return n;
}

/**
 * The AAC packet boundary used as the audio cut at `seconds`, in output samples: the multiple
 * of 1024 nearest to seconds × sampleRate. FFmpeg's AAC encoder starts at pts -1024 (its
 * priming) and steps by 1024, so packet starts are the multiples of 1024 on the whole-video
 * timeline; cutting there makes the chunks' packets continue the single run's grid.
 * @param sampleRate output sample rate, Hz.
 */
export function audioPacketBoundary(seconds: number, sampleRate: number): number {
  return Math.round((seconds * sampleRate) / AAC_FRAME_SAMPLES) * AAC_FRAME_SAMPLES;
}
