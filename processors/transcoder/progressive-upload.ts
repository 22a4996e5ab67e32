/**
 * Progressive publishing's upload side (docs/adr/0007-progressive-publishing-in-one-ffmpeg-run.md):
 * while one FFmpeg run writes every rung's HLS output locally, segments are uploaded as they
 * appear and each rung's media playlist is republished as an HLS EVENT playlist that only grows
 * (RFC 8216 §6.2.1: segments are only appended, the target duration never changes), with
 * `#EXT-X-ENDLIST` once the rung is complete.
 *
 * A redelivered job (after a crash mid-run) encodes its unfinished rungs again from the start;
 * segments its predecessor already published are not uploaded again, and the playlist is not
 * republished until the new run has gone past it, so a player that loaded it never sees it shrink
 * or a segment replaced.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { readObject, type ObjectStore } from '../../platform/object-store/object-store.port.ts';
import type { HlsRenditionOutput } from './ffmpeg-args.ts';
import { contentTypeOf, hlsKeys } from './hls-keys.ts';
import { parseMediaPlaylist } from './master-playlist.ts';

/** How often the local output is looked at while FFmpeg runs, ms. */
export const PROGRESSIVE_POLL_MS = 100;

/**
 * The growing media playlist to publish: FFmpeg's local playlist `text` cut after its first
 * `segments` segments, with `#EXT-X-TARGETDURATION` set to `targetDuration` (seconds, integer;
 * FFmpeg raises it as longer segments appear, which a growing playlist must not do) and
 * `#EXT-X-ENDLIST` only when `ended`.
 */
export function growingPlaylist(text: string, segments: number, targetDuration: number, ended: boolean): string {
  const out: string[] = [];
  let uris = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line === '#EXT-X-ENDLIST') continue;
    if (uris >= segments && (line.startsWith('#EXTINF:') || !line.startsWith('#'))) break;
    if (line.startsWith('#EXT-X-TARGETDURATION:')) out.push(`#EXT-X-TARGETDURATION:${targetDuration}`);
    else out.push(line);
    if (!line.startsWith('#')) uris++;
  }
  if (ended) out.push('#EXT-X-ENDLIST');
  return `${out.join('\n')}\n`;
}

/** One rung's upload state. */
interface RungState {
  out: HlsRenditionOutput;
  /** Segments already uploaded by this run or listed by an earlier attempt's published playlist. */
  uploaded: number;
  /** Segments the published playlist lists (never goes down). */
  listed: number;
  initUploaded: boolean;
}

/**
 * Uploads the growing output of one FFmpeg run. Not re-entrant: `sync` calls are serialised by
 * the caller (`ProgressiveUpload.run`).
 */
export class ProgressiveUpload {
  private readonly rungs: RungState[];

  /**
   * @param targetDuration `#EXT-X-TARGETDURATION` of every growing playlist, seconds (integer ≥ the longest segment)
   * @param alreadyListed segments per rung name that an earlier attempt's published playlist lists
   */
  constructor(
    private readonly objectStore: ObjectStore,
    private readonly videoId: string,
    outs: readonly HlsRenditionOutput[],
    private readonly targetDuration: number,
    alreadyListed: ReadonlyMap<string, number>,
    private readonly log: Logger,
  ) {
    this.rungs = outs.map((out) => {
      const listed = alreadyListed.get(out.plan.name) ?? 0;
      return { out, uploaded: listed, listed, initUploaded: listed > 0 };
    });
  }

  /** Whether every rung's published playlist lists at least one segment (the master may list them all). */
  firstSegmentsPublished(): boolean {
    return this.rungs.every((r) => r.listed > 0);
  }

  /**
   * One pass over the local output: uploads the init segment once, every new complete segment,
   * then the rung's growing playlist when it lists more than before (never ended here: the job
   * ends each rung's playlist once the rung is measured, `endedPlaylist`).
   * @throws ObjectStoreError from the uploads (the job is retried)
   */
  async sync(): Promise<void> {
    for (const r of this.rungs) {
      const dir = r.out.outputDir;
      const text = await readFile(join(dir, 'index.m3u8'), 'utf8').catch(() => null);
      if (text === null) continue;
      const { segments, initUri } = parseMediaPlaylist(text);
      if (segments.length <= r.listed) continue;
      if (!r.initUploaded && initUri) {
        await this.put(r, initUri);
        r.initUploaded = true;
      }
      for (let i = r.uploaded; i < segments.length; i++) {
        await this.put(r, segments[i]!.uri);
        r.uploaded = i + 1;
      }
      await this.objectStore.putObject(
        hlsKeys.rendition(this.videoId, r.out.plan.name, 'index.m3u8'),
        Buffer.from(growingPlaylist(text, segments.length, this.targetDuration, false)),
        contentTypeOf('index.m3u8'),
      );
      r.listed = segments.length;
      this.log.debug({ rendition: r.out.plan.name, segments: r.listed }, 'segments published');
    }
  }

  /** The local playlist of `out`, ended (`#EXT-X-ENDLIST`), to upload last once the rung is complete. */
  async endedPlaylist(out: HlsRenditionOutput): Promise<Buffer> {
    const text = await readFile(join(out.outputDir, 'index.m3u8'), 'utf8');
    return Buffer.from(growingPlaylist(text, Number.MAX_SAFE_INTEGER, this.targetDuration, true));
  }

  /**
   * Runs `sync` every PROGRESSIVE_POLL_MS while FFmpeg (`done`) runs, then once more after it
   * succeeded. `hooks.beforeFirstUpload` is awaited once before anything is uploaded (the job
   * checks the video is still live), `hooks.onFirstSegments` once every rung has published its
   * first segment (the job publishes the video); `hooks.check` before every pass (it throws when
   * the job must stop, e.g. the video was deleted meanwhile). When an upload or a hook fails,
   * `hooks.abort` is called (the job kills FFmpeg) and that failure is thrown; otherwise FFmpeg's
   * failure is.
   */
  async run<T>(done: Promise<T>, hooks: { beforeFirstUpload(): Promise<void>; onFirstSegments(): Promise<void>; check(): void; abort(): void }): Promise<T> {
    let finished = false;
    let checked = false;
    let announced = false;
    const settled = done.then(() => { finished = true; }, () => { finished = true; });
    const pass = async (): Promise<void> => {
      hooks.check();
      if (!checked) {
        if (!(await this.hasOutput())) return;
        await hooks.beforeFirstUpload();
        checked = true;
      }
      await this.sync();
      if (!announced && this.firstSegmentsPublished()) {
        announced = true;
        await hooks.onFirstSegments();
      }
    };
    try {
      while (!finished) {
        await pass();
        await Promise.race([settled, new Promise((r) => setTimeout(r, PROGRESSIVE_POLL_MS))]);
      }
    } catch (err) {
      hooks.abort();
      await settled;
      throw err;
    }
    const result = await done;
    await pass();
    return result;
  }

  /** Whether FFmpeg has written any rung's playlist yet. */
  private async hasOutput(): Promise<boolean> {
    for (const r of this.rungs) {
      if (await readFile(join(r.out.outputDir, 'index.m3u8'), 'utf8').then(() => true, () => false)) return true;
    }
    return false;
  }

  private async put(r: RungState, file: string): Promise<void> {
    if (file.includes('/') || file.includes('..')) throw new Error(`unexpected HLS file name ${file}`);
    await this.objectStore.putFile(hlsKeys.rendition(this.videoId, r.out.plan.name, file), join(r.out.outputDir, file), contentTypeOf(file));
  }
}

/** A rung's published media playlist: its text, its segments and whether it is ended (`#EXT-X-ENDLIST`). */
export interface PublishedPlaylist {
  text: string;
  segments: { duration: number; uri: string }[];
  ended: boolean;
}

/** The published media playlist of rung `name`, or null when there is none. */
export async function readPublishedPlaylist(objectStore: ObjectStore, videoId: string, name: string): Promise<PublishedPlaylist | null> {
  const text = (await readObject(objectStore, hlsKeys.rendition(videoId, name, 'index.m3u8')))?.toString('utf8');
  if (text === undefined) return null;
  return { text, segments: parseMediaPlaylist(text).segments, ended: /^#EXT-X-ENDLIST\s*$/m.test(text) };
}

/**
 * Ends the published playlist of rung `name` where it stopped (a rung whose run failed after
 * publication: a shorter rendition rather than a playlist players reload for ever), unless it
 * already is. `targetDuration`: seconds.
 * @returns the published playlist as it now is, or null when there is none
 */
export async function endPublishedPlaylist(objectStore: ObjectStore, videoId: string, name: string, targetDuration: number): Promise<PublishedPlaylist | null> {
  const published = await readPublishedPlaylist(objectStore, videoId, name);
  if (!published || published.ended) return published;
  const text = growingPlaylist(published.text, published.segments.length, targetDuration, true);
  await objectStore.putObject(hlsKeys.rendition(videoId, name, 'index.m3u8'), Buffer.from(text), contentTypeOf('index.m3u8'));
  return { ...published, text, ended: true };
}
