/**
 * Encodes ONE chunk [start, end) of one or more rungs (one decode, split filter) into fMP4 HLS
 * segments that continue the whole video's timeline, so the chunks' media playlists can be
 * joined into one (chunk-join.ts).
 *
 * The chunk invocation is the single run's (`buildFfmpegInvocation` of the same `hls-ladder` job,
 * so codec settings, scaling and muxer flags stay the same by construction) with these changes:
 *
 * Timestamps (video). `-copyts -start_at_zero` keep the source timeline (minus its start time,
 * as the single run does), and `-ss` seeks to 1 s BEFORE the chunk (`PREROLL_SECONDS`: the `fps`
 * filter and bwdif see the frames before the boundary, so they pick the same frames as the single
 * run). The `fps` filter's output timestamps are then frame indices of the whole video (time base
 * 1/fps), and `trim=start_pts=F0:end_pts=F1` right after it keeps exactly the single run's output
 * frames [F0, F1), F = `firstFrameAtOrAfter(boundary)`. The forced-keyframe expression becomes
 * `gte(t,(n_forced+K)*S)` (K = first segment index of the chunk): t is absolute, so keyframes land
 * on the same frames as in the single run. `-fps_mode passthrough` replaces `cfr` (the `fps`
 * filter already makes the stream constant-rate; `cfr` would fill 0…start with copies of the
 * first frame when timestamps start at `start`). `-start_number K+1` continues the segment names.
 *
 * Timestamps (fMP4). FFmpeg's mp4 muxer rebases each track to 0 at its first packet and writes the
 * start offset into the init segment's edit list, which would make every chunk start at 0 with a
 * different init.mp4. Chunks after the first therefore run with `movflags=+frag_discont`: the
 * first `tfdt` (baseMediaDecodeTime, ISO/IEC 14496-12 §8.8.12) is the first packet's own
 * timestamp. For video that is the keyframe's pts = its dts + the B-frame delay, which is what
 * the single run's rebasing gives too (there the first dts is -delay); for audio the single run's
 * rebasing adds the encoder priming (its first packet is at -1024), so the chunk adds the same
 * `AAC_PRIMING_SAMPLES` to its audio packets (`setts` bitstream filter). Result: every segment's
 * `tfdt` equals the single run's (the test checks it), and the first chunk's init.mp4, byte-identical
 * to the single run's, is valid for all chunks (later chunks' own init.mp4 differ only in the
 * edit list: no leading empty edit).
 *
 * Audio. The chunk's audio is cut on the AAC packet grid of the single run (`audioPacketBoundary`,
 * multiples of 1024 output samples): the encoder is fed from two packets before the cut G0
 * (`aresample` to the output rate, then `atrim=start_pts=G0-2048`, exact to the sample), so the
 * packets it makes lie on the same grid; its priming packet and the two pre-roll packets are
 * then dropped (`noise=drop=lt(pts,G0)` bitstream filter), and likewise the packets from the next
 * chunk's cut G1 on (the encoder is fed two packets past G1, so the last kept packets are coded
 * with their real successors, not with the encoder's end padding). Each chunk keeps exactly the
 * packets [G0, G1) of the grid: no gap, no overlap, no per-chunk priming or padding offset.
 * The AAC frames at a join come from two encoders of the same signal, so the MDCT overlap-add
 * there is the same signal coded twice, not a silence or a click.
 *
 * Assumption: after `-start_at_zero` the source's video and audio both start at 0 (as FFmpeg's
 * own encodes and camera files nearly always do); a source whose audio starts later than its
 * video would need that offset added to the audio `tfdt` shift.
 */
import { buildFfmpegInvocation, audioSampleRate, type FfmpegInvocation, type HlsLadderJob } from '../ffmpeg-args.ts';
import { runFfmpeg } from '../ffmpeg-runner.ts';
import { AAC_FRAME_SAMPLES, audioPacketBoundary, firstFrameAtOrAfter, type ChunkSpan } from './chunk-plan.ts';

/** Seconds decoded before the chunk start (frame-rate conversion, deinterlacing and the audio pre-roll need them). */
export const PREROLL_SECONDS = 1;
/** Seconds decoded past the chunk end (audio post-roll), seconds. */
const POSTROLL_SECONDS = 1;
/** AAC packets fed to the encoder before the cut and after the next cut, then dropped. */
const AUDIO_ROLL_PACKETS = 2;
/**
 * Encoder delay of FFmpeg's native AAC encoder, samples (`initial_padding` = 1024: its first
 * packet has pts -1024). The single run's mp4 rebasing adds it to every audio timestamp.
 */
export const AAC_PRIMING_SAMPLES = 1024;

/** Where a chunk's frames and samples start and end on the whole video's timeline. */
export interface ChunkBounds {
  /** First output frame of the chunk (index at the output frame rate). */
  startFrame: number;
  /** First output frame of the next chunk; null for the last chunk (to the end). */
  endFrame: number | null;
  /** First AAC packet of the chunk, output samples (a multiple of 1024); null without audio. */
  audioStart: number | null;
  /** First AAC packet of the next chunk, output samples; null for the last chunk or without audio. */
  audioEnd: number | null;
}

/** The frame and sample bounds of `chunk` for the frame rate and audio of `job`. Pure. */
export function chunkBounds(job: HlsLadderJob, chunk: ChunkSpan): ChunkBounds {
  const rate = job.audio ? audioSampleRate(job.audio.sampleRate) : null;
  return {
    startFrame: firstFrameAtOrAfter(chunk.startSeconds, job.fps),
    endFrame: chunk.last ? null : firstFrameAtOrAfter(chunk.endSeconds, job.fps),
    audioStart: rate === null ? null : audioPacketBoundary(chunk.startSeconds, rate),
    audioEnd: rate === null || chunk.last ? null : audioPacketBoundary(chunk.endSeconds, rate),
  };
}

/** Replaces the value after `flag` in an option list; throws when the flag is absent or its value is not `expected`. */
function replaceOption(options: string[], flag: string, expected: string | null, value: string): void {
  const at = options.indexOf(flag);
  if (at < 0 || at + 1 >= options.length) throw new Error(`chunk encode: the ladder run has no ${flag} option`);
  if (expected !== null && options[at + 1] !== expected) {
    throw new Error(`chunk encode: the ladder run's ${flag} is ${options[at + 1]}, expected ${expected}`);
  }
  options[at + 1] = value;
}

/**
 * The FFmpeg invocation encoding `chunk` of every rung of `job` (a single-run `hls-ladder` job
 * whose output directories are the chunk's own). Pure. See the file comment for how timestamps
 * and audio stay continuous.
 * @throws Error when the single run's invocation no longer has the shape this transform expects
 *   (one `fps=` filter, `-force_key_frames expr:gte(t,n_forced*S)`, `-fps_mode cfr`,
 *   `-start_number 1`, `-map 0:<audio>`): ffmpeg-args.ts changed and this file must follow.
 * @throws RangeError for a job with a progressive first segment or a thumbnail output (chunks
 *   need every segment to be `segmentSeconds` long, and the thumbnail belongs to one run only).
 */
export function buildChunkInvocation(job: HlsLadderJob, chunk: ChunkSpan): FfmpegInvocation {
  const extras = job as { progressive?: unknown; thumbnail?: unknown };
  if (extras.progressive !== undefined || extras.thumbnail !== undefined) {
    throw new RangeError('chunk encode: a chunked job has neither a progressive first segment nor a thumbnail output');
  }
  const base = buildFfmpegInvocation(job);
  const b = chunkBounds(job, chunk);
  const n = job.renditions.length;
  const seekFrom = Math.max(0, chunk.startSeconds - PREROLL_SECONDS);
  const inputOptions = [
    ...base.inputOptions,
    ...(seekFrom > 0 ? ['-ss', seekFrom.toFixed(6)] : []),
    ...(b.endFrame === null ? [] : ['-t', (chunk.endSeconds + POSTROLL_SECONDS - seekFrom).toFixed(6)]),
    '-copyts', '-start_at_zero',
  ];

  const fpsFilter = `fps=${job.fps.num}/${job.fps.den}`;
  const graph = base.complexFilter ?? '';
  if (graph.split(fpsFilter).length !== 2) throw new Error(`chunk encode: expected one ${fpsFilter} in the ladder filter graph`);
  const trim = `trim=start_pts=${b.startFrame}${b.endFrame === null ? '' : `:end_pts=${b.endFrame}`}`;
  const filters = [graph.replace(fpsFilter, `${fpsFilter},${trim}`)];
  if (job.audio && b.audioStart !== null) {
    const rate = audioSampleRate(job.audio.sampleRate);
    const from = Math.max(0, b.audioStart - AUDIO_ROLL_PACKETS * AAC_FRAME_SAMPLES);
    const to = b.audioEnd === null ? '' : `:end_pts=${b.audioEnd + AUDIO_ROLL_PACKETS * AAC_FRAME_SAMPLES}`;
    const labels = job.renditions.map((_, i) => `[a${i}]`).join('');
    filters.push(`[0:${job.audio.streamIndex}]aresample=${rate},atrim=start_pts=${from}${to}${n > 1 ? `,asplit=${n}` : ''}${labels}`);
  }

  const audioBsf = (): string[] => {
    if (!job.audio || b.audioStart === null) return [];
    const drops = [...(chunk.startSeconds > 0 ? [`lt(pts\\,${b.audioStart})`] : []), ...(b.audioEnd === null ? [] : [`gte(pts\\,${b.audioEnd})`])];
    const chain = [
      ...(drops.length ? [`noise=drop=${drops.join('+')}`] : []),
      ...(chunk.startSeconds > 0 ? [`setts=pts=PTS+${AAC_PRIMING_SAMPLES}:dts=DTS+${AAC_PRIMING_SAMPLES}`] : []),
    ];
    return chain.length ? ['-bsf:a', chain.join(',')] : [];
  };

  const outputs = base.outputs.map((o, i) => {
    const options = [...o.options];
    if (job.audio) {
      const at = options.findIndex((x, j) => x === `0:${job.audio!.streamIndex}` && options[j - 1] === '-map');
      if (at < 0) throw new Error('chunk encode: the ladder run does not map the audio stream');
      options[at] = `[a${i}]`;
    }
    replaceOption(options, '-force_key_frames', `expr:gte(t,n_forced*${job.segmentSeconds})`, `expr:gte(t,(n_forced+${chunk.firstSegmentIndex})*${job.segmentSeconds})`);
    replaceOption(options, '-fps_mode', 'cfr', 'passthrough');
    replaceOption(options, '-start_number', '1', String(chunk.firstSegmentIndex + 1));
    options.push(...audioBsf(), ...(chunk.startSeconds > 0 ? ['-hls_segment_options', 'movflags=+frag_discont'] : []));
    return { options, target: o.target };
  });
  return { inputOptions, input: base.input, complexFilter: filters.join(';'), outputs };
}

/** Options of `encodeChunk`: FFmpeg binary, progress callback and process bounds, as for `runFfmpeg`. */
export type EncodeChunkOptions = Parameters<typeof runFfmpeg>[1];

/**
 * Encodes one chunk (see `buildChunkInvocation`): each rung's output directory (must exist)
 * receives `index.m3u8` (the chunk's segments only), `init.mp4` and `seg-NNNNN.m4s` numbered
 * from `chunk.firstSegmentIndex + 1`.
 * @throws BoundedProcessError when FFmpeg fails, is killed by a bound, or cannot be spawned.
 * @throws Error when the ladder invocation's shape is not the expected one (see `buildChunkInvocation`).
 */
export async function encodeChunk(job: HlsLadderJob, chunk: ChunkSpan, opts: EncodeChunkOptions): Promise<void> {
  await runFfmpeg(buildChunkInvocation(job, chunk), opts);
}
