/**
 * Joins the media playlists of a rung's chunks (chunk-encode.ts) into one VOD media playlist.
 * `joinMediaPlaylists` is pure; `assembleRendition` lays the joined rendition out in a local
 * directory (what the test and the benchmark play back; a transcoder uploads the same files).
 */
import { copyFile, link, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMediaPlaylist } from '../master-playlist.ts';

/** Segment file names written by the ladder run (`-hls_segment_filename <dir>/seg-%05d.m4s`). */
const SEGMENT_NAME = /^seg-(\d{5,})\.m4s$/;

/** How `joinMediaPlaylists` writes the joined playlist. */
export interface JoinOptions {
  /**
   * `VOD` (default) for a finished join; `EVENT` for the growing playlist of a chunked transcode
   * that publishes chunks as they complete (RFC 8216 §4.3.3.5: segments are only appended, and
   * the type never changes, so the finished playlist stays `EVENT` with `#EXT-X-ENDLIST`).
   */
  playlistType?: 'VOD' | 'EVENT';
  /** Whether to end it with `#EXT-X-ENDLIST`. Default true. */
  ended?: boolean;
  /** `#EXT-X-TARGETDURATION`, seconds, pinned (a growing playlist's must not change, §6.2.1); default: the longest segment, rounded. */
  targetDuration?: number;
}

/**
 * Joins chunk media playlists (in chunk order) into one VOD media playlist (RFC 8216 §4.3):
 * `#EXT-X-VERSION:7` (EXT-X-MAP with fMP4 needs 6+), `#EXT-X-TARGETDURATION` = the longest
 * segment rounded to the nearest integer (§4.3.3.1: every EXTINF rounded must be ≤ it),
 * `#EXT-X-MEDIA-SEQUENCE` = the first segment's number, `#EXT-X-PLAYLIST-TYPE:VOD`,
 * `#EXT-X-INDEPENDENT-SEGMENTS`, one `#EXT-X-MAP:URI="<initUri>"` (§4.3.2.5) for all segments,
 * each segment's EXTINF as the chunk wrote it, `#EXT-X-ENDLIST` (see JoinOptions for a growing one).
 * @param playlists the chunks' `index.m3u8` texts, first chunk first.
 * @param initUri the one init segment every segment refers to (the first chunk's, see chunk-encode.ts).
 * @throws Error when there is no segment, a segment URI is not `seg-NNNNN.m4s`, or the numbers
 *   are not consecutive across the chunks (a missing, repeated or misplaced chunk).
 */
export function joinMediaPlaylists(playlists: string[], initUri = 'init.mp4', opts: JoinOptions = {}): string {
  const segments = playlists.flatMap((p) => parseMediaPlaylist(p).segments);
  if (segments.length === 0) throw new Error('join: the chunks hold no segment');
  const numbers = segments.map((s) => {
    const m = SEGMENT_NAME.exec(s.uri);
    if (!m) throw new Error(`join: unexpected segment URI ${s.uri}`);
    return Number(m[1]);
  });
  numbers.forEach((n, i) => {
    if (i > 0 && n !== numbers[i - 1]! + 1) throw new Error(`join: segment ${s(n)} follows ${s(numbers[i - 1]!)}; the chunks are not consecutive`);
  });
  const target = opts.targetDuration ?? Math.max(1, ...segments.map((x) => Math.round(x.duration)));
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    `#EXT-X-TARGETDURATION:${target}`,
    `#EXT-X-MEDIA-SEQUENCE:${numbers[0]}`,
    `#EXT-X-PLAYLIST-TYPE:${opts.playlistType ?? 'VOD'}`,
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-MAP:URI="${initUri}"`,
    ...segments.flatMap((x) => [`#EXTINF:${x.duration.toFixed(6)},`, x.uri]),
    ...(opts.ended === false ? [] : ['#EXT-X-ENDLIST']),
  ];
  return `${lines.join('\n')}\n`;
}

const s = (n: number): string => `seg-${String(n).padStart(5, '0')}.m4s`;

/**
 * Lays out one joined rendition in `outDir` (must exist): every chunk's segments (hard links,
 * copies across file systems), the FIRST chunk's `init.mp4` as the one init segment, and the
 * joined `index.m3u8`.
 * @param chunkDirs the chunks' output directories of this rung, first chunk first.
 * @returns the joined playlist text.
 * @throws Error from `joinMediaPlaylists`; file-system errors (ENOENT…) as they come.
 */
export async function assembleRendition(chunkDirs: string[], outDir: string): Promise<string> {
  if (chunkDirs.length === 0) throw new Error('join: no chunk');
  const texts = await Promise.all(chunkDirs.map((d) => readFile(join(d, 'index.m3u8'), 'utf8')));
  const playlist = joinMediaPlaylists(texts);
  const place = async (from: string, to: string): Promise<void> => {
    await link(from, to).catch(async (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EXDEV' && err.code !== 'EPERM') throw err;
      await copyFile(from, to);
    });
  };
  await place(join(chunkDirs[0]!, 'init.mp4'), join(outDir, 'init.mp4'));
  for (const [i, text] of texts.entries()) {
    for (const seg of parseMediaPlaylist(text).segments) await place(join(chunkDirs[i]!, seg.uri), join(outDir, seg.uri));
  }
  await writeFile(join(outDir, 'index.m3u8'), playlist);
  return playlist;
}
