/**
 * A transcode's HLS output between FFmpeg and the object store: measuring a finished rendition,
 * the master playlist, and reading back what an earlier attempt completed (the `rendition.json`
 * sidecar, uploaded last), which makes a job idempotent per (video, rendition). The segments and
 * growing playlists are uploaded by progressive-upload.ts.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RenditionInfo } from '../../domain/events.ts';
import { readObject, type ObjectStore } from '../../platform/object-store/object-store.port.ts';
import type { HlsRenditionOutput } from './ffmpeg-args.ts';
import { MediaRejectedError } from './ffprobe.ts';
import { contentTypeOf, hlsKeys } from './hls-keys.ts';
import { avc1CodecFromMp4, codecsString, measureBandwidth, parseMediaPlaylist, writeMasterPlaylist } from './master-playlist.ts';
import { parseSubtitleRenditions } from './captions-playlist.ts';

/** A finished rendition, as stored next to its media playlist (`rendition.json`). */
export interface EncodedRendition extends RenditionInfo {
  /** Average segment bitrate, bits/s; absent when not measured (a rung completed from its published playlist). */
  averageBandwidth?: number;
  /** Frames/s. */
  frameRate: number;
  /** Sum of the segment durations, seconds (what is actually playable). */
  durationSeconds: number;
}

/** Strips the sidecar-only fields (the event carries RenditionInfo exactly). */
export function toRenditionInfo(r: EncodedRendition): RenditionInfo {
  return { name: r.name, width: r.width, height: r.height, bandwidth: r.bandwidth, codecs: r.codecs, playlist: r.playlist };
}

/**
 * The rendition `name` of `videoId` if an earlier attempt completed it, else null. Its sidecar
 * (`rendition.json`, uploaded after the ended media playlist) is the mark of completion: a growing
 * playlist without a readable sidecar counts as not done.
 */
export async function readUploadedRendition(objectStore: ObjectStore, videoId: string, name: string): Promise<EncodedRendition | null> {
  if (!(await objectStore.exists(hlsKeys.rendition(videoId, name, 'index.m3u8')))) return null;
  const sidecar = await readObject(objectStore, hlsKeys.rendition(videoId, name, 'rendition.json'));
  if (!sidecar) return null;
  try {
    return JSON.parse(sidecar.toString('utf8')) as EncodedRendition;
  } catch {
    return null;
  }
}

/**
 * Measures a finished local rendition: bandwidth from the segments, codecs from the init segment
 * (`plannedCodecs` when it names none). @param fps frames/s
 * @throws MediaRejectedError UNDECODABLE_VIDEO when the rendition has no segment
 */
export async function describeRendition(out: HlsRenditionOutput, fps: number, hasAudio: boolean, plannedCodecs: string): Promise<EncodedRendition> {
  const playlist = await readFile(join(out.outputDir, 'index.m3u8'), 'utf8');
  const { segments, initUri } = parseMediaPlaylist(playlist);
  if (segments.length === 0) {
    throw new MediaRejectedError('UNDECODABLE_VIDEO', `No video frames could be decoded (the ${out.plan.name} rendition is empty).`);
  }
  const sized = await Promise.all(segments.map(async (s) => ({ duration: s.duration, bytes: (await stat(join(out.outputDir, s.uri))).size })));
  const init = initUri ? await readFile(join(out.outputDir, initUri)) : Buffer.alloc(0);
  const { peak, average } = measureBandwidth(sized, init.length);
  const avc1 = avc1CodecFromMp4(init);
  return {
    name: out.plan.name,
    width: out.plan.width,
    height: out.plan.height,
    bandwidth: peak,
    averageBandwidth: average,
    codecs: avc1 ? codecsString(avc1, hasAudio) : plannedCodecs,
    playlist: `${out.plan.name}/index.m3u8`,
    frameRate: fps,
    durationSeconds: segments.reduce((n, s) => n + s.duration, 0),
  };
}

/**
 * Writes the master playlist over `renditions` (complete ones with their measured bandwidths, or,
 * under progressive publishing, growing ones with their planned bandwidths), lowest first. The
 * subtitles group of a master already there is kept: the caption writer (captions.processor.ts)
 * adds it once processing has completed, and a transcode job that runs again after that (a
 * redelivered upload, a shutdown during the storyboard step) must not drop the captions.
 */
export async function uploadMaster(
  objectStore: ObjectStore,
  videoId: string,
  renditions: Iterable<RenditionInfo & { averageBandwidth?: number; frameRate?: number }>,
): Promise<void> {
  const existing = await readObject(objectStore, hlsKeys.master(videoId));
  const subtitles = existing ? parseSubtitleRenditions(existing.toString('utf8')) : [];
  const text = writeMasterPlaylist(
    [...renditions].map((r) => ({
      bandwidth: r.bandwidth,
      averageBandwidth: r.averageBandwidth,
      width: r.width,
      height: r.height,
      codecs: r.codecs,
      frameRate: r.frameRate,
      uri: r.playlist,
    })),
    subtitles,
  );
  await objectStore.putObject(hlsKeys.master(videoId), Buffer.from(text), contentTypeOf('.m3u8'));
}
