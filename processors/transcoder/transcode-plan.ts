/**
 * What a transcode will produce for a probed source: the output frame rate, the ladder of
 * renditions (announced by StartProcessing with planned bandwidths and codecs) and the FFmpeg job
 * that encodes a set of rungs from one decode.
 */
import type { RenditionInfo } from '../../domain/events.ts';
import { AUDIO_BITRATE, outputFps } from './ffmpeg-args.ts';
import type { FfmpegJob, HlsRenditionOutput } from './ffmpeg-args.ts';
import type { Rational, SourceInfo, VideoStreamInfo } from './ffprobe.ts';
import { planLadder } from './ladder.ts';
import type { RenditionPlan } from './ladder.ts';
import { H264_HIGH_PROFILE_IDC, avc1Codec, codecsString, h264LevelFor } from './master-playlist.ts';

/** The plan of one transcode (see `planTranscode`). */
export interface TranscodePlan {
  /** The local source file. */
  src: string;
  info: SourceInfo;
  video: VideoStreamInfo;
  /** Output frame rate, exact and as frames/s. */
  fps: Rational;
  fpsValue: number;
  hasAudio: boolean;
  /** The rungs, lowest first. */
  rungs: [RenditionPlan, ...RenditionPlan[]];
  /** The ladder as StartProcessing announces it (bandwidth = maxrate + audio, bits/s). */
  ladder: RenditionInfo[];
}

/**
 * Plans the ladder of a probed source at `src`; no rendition is wider or taller than `maxSidePx`
 * (pixels, the source limit; default 8192).
 */
export function planTranscode(src: string, info: SourceInfo, maxSidePx?: number): TranscodePlan {
  const video = info.video!; // interpretProbe rejects sources without video
  const fps = outputFps(video.fpsRational);
  const fpsValue = fps.num / fps.den;
  const hasAudio = info.audio !== null;
  const rungs = planLadder({ displayWidth: video.displayWidth, displayHeight: video.displayHeight, fps: fpsValue, maxSidePx }) as [RenditionPlan, ...RenditionPlan[]];
  const plan: TranscodePlan = { src, info, video, fps, fpsValue, hasAudio, rungs, ladder: [] };
  plan.ladder = rungs.map((p) => ({
    name: p.name,
    width: p.width,
    height: p.height,
    bandwidth: p.maxrate + (hasAudio ? AUDIO_BITRATE : 0),
    codecs: plannedCodecs(plan, p),
    playlist: `${p.name}/index.m3u8`,
  }));
  return plan;
}

/** RFC 6381 `CODECS` of a rung before encoding (High profile, the level its size and rate need). */
export function plannedCodecs(plan: TranscodePlan, rung: RenditionPlan): string {
  return codecsString(avc1Codec(H264_HIGH_PROFILE_IDC, 0, h264LevelFor(rung.width, rung.height, plan.fpsValue)), plan.hasAudio);
}

/** One FFmpeg run encoding `outs` from a single decode of the source. */
export function ladderJob(plan: TranscodePlan, segmentSeconds: number, outs: [HlsRenditionOutput, ...HlsRenditionOutput[]]): FfmpegJob {
  const { info, video } = plan;
  return {
    type: 'hls-ladder',
    input: plan.src,
    videoStreamIndex: video.index,
    audio: info.audio ? { streamIndex: info.audio.index, sampleRate: info.audio.sampleRate } : null,
    interlaced: video.interlaced,
    fps: plan.fps,
    segmentSeconds,
    renditions: outs,
  };
}
