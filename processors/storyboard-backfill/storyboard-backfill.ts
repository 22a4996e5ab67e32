/**
 * The storyboard backfill: seek previews for the videos published before the transcoder made
 * them. It reads the videos topic from its first offset (a replay of the published videos), keeps
 * those published, not deleted and without a StoryboardGenerated, and gives each its storyboard
 * (processors/transcoder/storyboard/storyboard-step.ts) from the stored source, or, when the source
 * is gone, from the top rendition of its master playlist (init segment + media segments joined
 * into one fragmented MP4).
 *
 * Guarantee: at-least-once and idempotent, hence resumable: a video whose StoryboardGenerated is
 * on the log is not looked at again; one whose track is already in the object store (a run
 * stopped between the upload and the command) is only recorded; RecordStoryboard with the same
 * key is a no-op in the aggregate. Stopping it (`signal`) and running it again resumes.
 */
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { DomainEvent } from '../../domain/events.ts';
import { inAttemptFolder } from '../../platform/files/attempt-folder.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { readObject, type ObjectStore } from '../../platform/object-store/object-store.port.ts';
import { CodecError, type EventCodec } from '../../schemas/event-codec.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { downloadSource } from '../transcoder/ffmpeg-steps.ts';
import { MediaRejectedError, probeMedia } from '../transcoder/ffprobe.ts';
import { hlsKeys } from '../transcoder/hls-keys.ts';
import { parseMasterPlaylist, parseMediaPlaylist } from '../transcoder/master-playlist.ts';
import { addStoryboard, type StoryboardEnv, type StoryboardOutcome } from '../transcoder/storyboard/storyboard-step.ts';

/** The backfill's stable name (log lines). */
export const STORYBOARD_BACKFILL_NAME = 'storyboard-backfill';
/** Records read per `read` call while scanning the log. */
const SCAN_BATCH = 1_000;

/** A published video without a storyboard, as the log tells it. */
export interface BackfillCandidate {
  videoId: string;
  /** Object key of the uploaded source. */
  objectKey: string;
  /** Seconds (the playable duration when processing corrected it). */
  durationSeconds: number;
}

/** Where a backfill run is: videos done out of `total`, by outcome. */
export interface BackfillProgress {
  total: number;
  done: number;
  outcomes: Record<StoryboardOutcome, number>;
}

export interface StoryboardBackfillDeps extends StoryboardEnv {
  log: EventLog;
  codec: EventCodec;
  ffprobePath: string;
  /** Local scratch folder; each video works in its own `<workDir>/<videoId>.<pid>.<random>/` (platform/files/attempt-folder.ts; deleted after it). */
  workDir: string;
}

/**
 * The published, not deleted videos of the videos topic without a StoryboardGenerated, in log
 * order (per partition). Records the codec cannot decode are skipped.
 * @throws the log's errors, or the codec's outage errors (not CodecError)
 */
export async function findVideosWithoutStoryboard(log: EventLog, codec: EventCodec): Promise<BackfillCandidate[]> {
  const videos = new Map<string, { objectKey: string; duration: number; published: boolean; gone: boolean }>();
  const [begin, end] = await Promise.all([log.beginningOffsets(TOPICS.videos), log.endOffsets(TOPICS.videos)]);
  for (let p = 0; p < end.length; p++) {
    for (let offset = begin[p] ?? 0; offset < end[p]!;) {
      const records = await log.read(TOPICS.videos, p, offset, SCAN_BATCH);
      if (records.length === 0) break;
      for (const r of records) {
        offset = r.offset + 1;
        if (r.value === null) continue;
        let e: DomainEvent;
        try {
          e = await codec.decode(r.value);
        } catch (err) {
          if (err instanceof CodecError) continue;
          throw err;
        }
        apply(videos, e);
      }
    }
  }
  return [...videos].filter(([, v]) => v.published && !v.gone).map(([videoId, v]) => ({ videoId, objectKey: v.objectKey, durationSeconds: v.duration }));
}

function apply(videos: Map<string, { objectKey: string; duration: number; published: boolean; gone: boolean }>, e: DomainEvent): void {
  if (e.type === 'UploadStarted') {
    if (!videos.has(e.data.videoId)) videos.set(e.data.videoId, { objectKey: e.data.objectKey, duration: 0, published: false, gone: false });
    return;
  }
  if (!('videoId' in e.data)) return;
  const v = videos.get(e.data.videoId);
  if (!v) return;
  if (e.type === 'VideoPublished') Object.assign(v, { published: true, duration: e.data.durationSeconds });
  else if (e.type === 'VideoProcessingCompleted' && e.data.durationSeconds != null) v.duration = e.data.durationSeconds;
  else if (e.type === 'StoryboardGenerated' || e.type === 'VideoDeleted') v.gone = true;
}

/**
 * A local media file of the video to take tiles from: its source, else its top rendition joined
 * into `<dir>/rendition.mp4`; null when neither is in the object store.
 * @throws the object store's errors
 */
async function localMedia(store: ObjectStore, c: BackfillCandidate, dir: string): Promise<string | null> {
  try {
    return await downloadSource(store, c.objectKey, dir);
  } catch (err) {
    if (!(err instanceof MediaRejectedError && err.code === 'SOURCE_NOT_FOUND')) throw err;
  }
  const master = await readObject(store, hlsKeys.master(c.videoId));
  const top = master ? parseMasterPlaylist(master.toString('utf8')).sort((a, b) => b.height - a.height || b.bandwidth - a.bandwidth)[0] : undefined;
  if (!top) return null;
  // Playlist URIs are relative: the media playlist's to the master's folder, the segments' to the playlist's.
  const hls = hlsKeys.master(c.videoId).replace(/master\.m3u8$/, '');
  const folder = `${hls}${top.uri.slice(0, top.uri.lastIndexOf('/') + 1)}`;
  const playlist = await readObject(store, `${hls}${top.uri}`);
  if (!playlist) return null;
  const { initUri, segments } = parseMediaPlaylist(playlist.toString('utf8'));
  // Appended one object at a time: a long video's rendition is gigabytes, more than one Buffer holds.
  const path = join(dir, 'rendition.mp4');
  await writeFile(path, Buffer.alloc(0));
  let written = 0;
  for (const uri of [...(initUri ? [initUri] : []), ...segments.map((s) => s.uri)]) {
    const body = await readObject(store, `${folder}${uri}`);
    if (body) { await appendFile(path, body); written++; }
  }
  return written === 0 ? null : path;
}

/**
 * Gives every published video without a storyboard its storyboard, one at a time, calling
 * `onProgress` after each (and once before the first). Never throws for one video (its outcome is
 * `failed` or `skipped` and the run goes on), except on shutdown (`deps.signal` aborted).
 * @returns the final progress
 * @throws the scan's errors (the log, a codec outage), or the abort
 */
export async function runStoryboardBackfill(deps: StoryboardBackfillDeps, onProgress?: (p: BackfillProgress) => void): Promise<BackfillProgress> {
  const logger: Logger = (deps.logger ?? pino({ level: 'silent' })).child({ processor: STORYBOARD_BACKFILL_NAME });
  const candidates = await findVideosWithoutStoryboard(deps.log, deps.codec);
  const progress: BackfillProgress = { total: candidates.length, done: 0, outcomes: { generated: 0, existing: 0, skipped: 0, failed: 0 } };
  onProgress?.(progress);
  for (const c of candidates) {
    deps.signal?.throwIfAborted();
    const log = logger.child({ videoId: c.videoId });
    const outcome = await inAttemptFolder(deps.workDir, c.videoId, async (dir): Promise<StoryboardOutcome> => {
      try {
        return await backfillOne(deps, c, dir, log);
      } catch (err) {
        if (deps.signal?.aborted) throw err;
        log.error({ err }, 'storyboard backfill failed for this video');
        return 'failed';
      }
    });
    progress.done++;
    progress.outcomes[outcome]++;
    onProgress?.(progress);
  }
  return progress;
}

async function backfillOne(deps: StoryboardBackfillDeps, c: BackfillCandidate, dir: string, log: Logger): Promise<StoryboardOutcome> {
  // A track already uploaded (a run stopped before its command) needs no media: only recording.
  const tracked = await deps.objectStore.exists(hlsKeys.storyboard(c.videoId, 'storyboard.vtt'));
  const file = tracked ? null : await localMedia(deps.objectStore, c, dir);
  if (!tracked && !file) {
    log.warn('no source and no rendition in the object store: no storyboard');
    return 'skipped';
  }
  let video = null;
  if (file) {
    try {
      video = (await probeMedia(file, { ffprobePath: deps.ffprobePath, bounds: { signal: deps.signal } })).video;
    } catch (err) {
      if (!(err instanceof MediaRejectedError)) throw err;
      log.warn({ code: err.code }, 'the media cannot be probed: no storyboard');
      return err.code === 'NO_VIDEO_STREAM' ? 'skipped' : 'failed';
    }
  }
  return addStoryboard(deps, c.videoId, file ?? '', video, c.durationSeconds, dir, log);
}
