/**
 * A transcode's HLS output between FFmpeg and the object store: measuring a finished rendition,
 * uploading it (media playlist last), the master playlist, and reading back what an earlier
 * attempt already uploaded (the `rendition.json` sidecar), which makes a job idempotent per
 * (video, rendition).
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RenditionInfo } from '../../domain/events.ts';
import type { ObjectStore } from '../../platform/object-store/object-store.port.ts';
import type { HlsRenditionOutput } from './ffmpeg-args.ts';
import { MediaRejectedError } from './ffprobe.ts';
import { contentTypeOf, hlsKeys } from './hls-keys.ts';
import { avc1CodecFromMp4, codecsString, measureBandwidth, parseMediaPlaylist, writeMasterPlaylist } from './master-playlist.ts';

/** Uploads running at once per rendition. */
const UPLOAD_CONCURRENCY = 4;

/** A finished rendition, as stored next to its media playlist (`rendition.json`). */
export interface EncodedRendition extends RenditionInfo {
  /** Average segment bitrate, bits/s. */
  averageBandwidth: number;
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
 * The rendition `name` of `videoId` if an earlier attempt uploaded it completely (its media
 * playlist exists), else null. A playlist without a readable sidecar counts as not done.
 */
export async function readUploadedRendition(objectStore: ObjectStore, videoId: string, name: string): Promise<EncodedRendition | null> {
  if (!(await objectStore.exists(hlsKeys.rendition(videoId, name, 'index.m3u8')))) return null;
  const obj = await objectStore.getObject(hlsKeys.rendition(videoId, name, 'rendition.json'));
  if (!obj) return null;
  const chunks: Buffer[] = [];
  for await (const c of obj.body) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as EncodedRendition;
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

/** Uploads a rendition directory; the media playlist goes last so its existence means "complete". */
export async function uploadRendition(objectStore: ObjectStore, videoId: string, out: HlsRenditionOutput, info: EncodedRendition): Promise<void> {
  const files = (await readdir(out.outputDir)).filter((f) => f !== 'index.m3u8');
  await inParallel(files, UPLOAD_CONCURRENCY, (f) => objectStore.putFile(hlsKeys.rendition(videoId, out.plan.name, f), join(out.outputDir, f), contentTypeOf(f)));
  await objectStore.putObject(hlsKeys.rendition(videoId, out.plan.name, 'rendition.json'), Buffer.from(JSON.stringify(info)), 'application/json');
  await objectStore.putFile(hlsKeys.rendition(videoId, out.plan.name, 'index.m3u8'), join(out.outputDir, 'index.m3u8'), contentTypeOf('index.m3u8'));
}

/** Writes the master playlist over the given (complete) renditions, in their order. */
export async function uploadMaster(objectStore: ObjectStore, videoId: string, done: Map<string, EncodedRendition>): Promise<void> {
  const text = writeMasterPlaylist(
    [...done.values()].map((r) => ({
      bandwidth: r.bandwidth,
      averageBandwidth: r.averageBandwidth,
      width: r.width,
      height: r.height,
      codecs: r.codecs,
      frameRate: r.frameRate,
      uri: r.playlist,
    })),
  );
  await objectStore.putObject(hlsKeys.master(videoId), Buffer.from(text), contentTypeOf('.m3u8'));
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
