/**
 * Producing a video's storyboard (seek previews) with FFmpeg and recording it: sprite sheets and
 * the WebVTT track (storyboard-layout.ts) rendered from a local source, uploaded under
 * `videos/<videoId>/storyboard/` (hls-keys.ts; the track last: the mark of completion), then
 * RecordStoryboard. Shared by the transcoder (after a video's processing completes) and the
 * storyboard backfill (processors/storyboard-backfill/).
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DomainError } from '../../../domain/shared/event.ts';
import type { RecordStoryboard } from '../../../domain/video/video.commands.ts';
import { readObject, supportsDeletion, type ObjectStore } from '../../../platform/object-store/object-store.port.ts';
import { runJob, type FfmpegEnv } from '../ffmpeg-steps.ts';
import type { VideoStreamInfo } from '../ffprobe.ts';
import { MediaRejectedError } from '../ffprobe.ts';
import { contentTypeOf, hlsKeys } from '../hls-keys.ts';
import { planStoryboard, readStoryboardVtt, spriteName, storyboardVtt, type StoryboardLayout } from './storyboard-layout.ts';

/** File name of the WebVTT thumbnails track, next to the sprite sheets. */
export const STORYBOARD_TRACK = 'storyboard.vtt';

/** A storyboard rendered into a local folder. */
export interface RenderedStoryboard {
  layout: StoryboardLayout;
  /** The WebVTT text (cues only for tiles on sheets FFmpeg wrote). */
  vtt: string;
  /** Local paths of the sprite sheets, sheet 1 first. */
  sprites: string[];
}

/**
 * Renders the storyboard of `src` (a local media file; `video` its probed video stream, or null
 * for an audio-only source; `durationSeconds` seconds) into `<dir>/storyboard/`. Returns null for
 * an audio-only source (no storyboard, not an error). When FFmpeg writes fewer sheets than planned
 * (a header that claims more than decodes), the track covers the tiles of the sheets written.
 * @throws MediaRejectedError UNDECODABLE_VIDEO when no sheet is written, or runJob's errors
 *   (PROCESSING_TIMEOUT, ENCODE_FAILED, OutOfMemoryError, transient ones)
 */
export async function renderStoryboard(env: FfmpegEnv, src: string, video: VideoStreamInfo | null, durationSeconds: number, dir: string): Promise<RenderedStoryboard | null> {
  if (!video) return null;
  const planned = planStoryboard(durationSeconds, video.displayWidth, video.displayHeight);
  const outputDir = join(dir, 'storyboard');
  await rm(outputDir, { recursive: true, force: true });
  await mkdir(outputDir, { recursive: true });
  await runJob(env, {
    type: 'storyboard', input: src, videoStreamIndex: video.index, interlaced: video.interlaced, intervalSeconds: planned.intervalSeconds,
    tileWidth: planned.tileWidth, tileHeight: planned.tileHeight, columns: planned.columns, rows: planned.rows, outputDir,
  }, 'the storyboard', undefined, durationSeconds);
  const written = new Set(await readdir(outputDir));
  let sheets = 0;
  while (sheets < planned.sheets && written.has(spriteName(sheets + 1))) sheets++;
  if (sheets === 0) throw new MediaRejectedError('UNDECODABLE_VIDEO', 'No video frame could be decoded for the storyboard.');
  const tiles = Math.min(planned.tiles, sheets * planned.columns * planned.rows);
  const layout = { ...planned, tiles, sheets };
  const covered = tiles < planned.tiles ? tiles * planned.intervalSeconds : durationSeconds;
  return { layout, vtt: storyboardVtt(layout, covered), sprites: Array.from({ length: sheets }, (_, i) => join(outputDir, spriteName(i + 1))) };
}

/** Uploads a rendered storyboard of `videoId`: the sheets, then the track (last: the mark of completion); returns the track's key. */
export async function uploadStoryboard(store: ObjectStore, videoId: string, rendered: RenderedStoryboard): Promise<string> {
  for (const [i, path] of rendered.sprites.entries()) await store.putFile(hlsKeys.storyboard(videoId, spriteName(i + 1)), path, 'image/jpeg');
  const key = hlsKeys.storyboard(videoId, STORYBOARD_TRACK);
  await store.putObject(key, Buffer.from(rendered.vtt), contentTypeOf(STORYBOARD_TRACK));
  return key;
}

/** How a storyboard attempt ended (metric label `outcome`). */
export type StoryboardOutcome = 'generated' | 'existing' | 'skipped' | 'failed';

/** What `addStoryboard` needs: FFmpeg, the object store and the command sender. */
export interface StoryboardEnv extends FfmpegEnv {
  objectStore: ObjectStore;
  /** Sends RecordStoryboard to the video aggregate (metadata added by the sender). */
  send: (type: 'RecordStoryboard', data: RecordStoryboard['data']) => Promise<void>;
}

/**
 * Gives the published video `videoId` its storyboard from the local source `src` and records it
 * (RecordStoryboard), unless its track is already in the object store: then only records it again
 * (idempotent: the aggregate ignores the same key). Never fails the video: every error is logged
 * and returned as `failed` (a video deleted meanwhile, or an audio-only source: `skipped`), except
 * a shutdown (`env.signal` aborted), rethrown so the job runs again.
 * @returns the outcome, for the caller's metric
 */
export async function addStoryboard(env: StoryboardEnv, videoId: string, src: string, video: VideoStreamInfo | null, durationSeconds: number, dir: string, log: Logger): Promise<StoryboardOutcome> {
  try {
    const key = hlsKeys.storyboard(videoId, STORYBOARD_TRACK);
    const existing = await readObject(env.objectStore, key);
    const recorded = existing ? readStoryboardVtt(existing.toString('utf8')) : null;
    let outcome: StoryboardOutcome = 'existing';
    let info = recorded;
    if (!info) {
      const rendered = await renderStoryboard(env, src, video, durationSeconds, dir);
      if (!rendered) {
        log.info('no storyboard: the source has no video');
        return 'skipped';
      }
      await uploadStoryboard(env.objectStore, videoId, rendered);
      const { intervalSeconds, tiles, tileWidth, tileHeight } = rendered.layout;
      info = { intervalSeconds, tiles, tileWidth, tileHeight };
      outcome = 'generated';
    }
    await env.send('RecordStoryboard', { videoId, storyboardKey: key, ...info });
    log.info({ storyboard: info, outcome }, 'storyboard recorded');
    return outcome;
  } catch (err) {
    if (env.signal?.aborted) throw err;
    if (err instanceof DomainError) {
      log.warn({ err, code: err.code }, 'storyboard not recorded: the aggregate refused it');
      // Deleted while the storyboard was rendered: the media collector may already have emptied the
      // video's prefix, so what was just uploaded would stay behind; it is removed here.
      if (err.code === 'VIDEO_DELETED' || err.code === 'VIDEO_NOT_FOUND') {
        // A store that cannot delete leaves the objects to an operator (logged).
        const store = env.objectStore;
        if (supportsDeletion(store)) await store.deletePrefix(hlsKeys.storyboard(videoId, '')).catch((e: unknown) => log.warn({ err: e }, 'storyboard of a deleted video not removed'));
        else log.warn('storyboard of a deleted video left in the object store: this store cannot delete');
      }
      return 'skipped';
    }
    log.error({ err }, 'storyboard failed; the video stays published without seek previews');
    return 'failed';
  }
}
