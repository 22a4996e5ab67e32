/**
 * The HLS side of captions (issue "Creators: a studio…"): the subtitle media playlist that wraps a
 * WebVTT file, and the subtitles renditions of a master playlist. Pure; no I/O.
 * Rules: RFC 8216 §3.5 (WebVTT segments), §4.3.3 (media playlist tags), §4.3.4.1 (EXT-X-MEDIA).
 */
import { SUBTITLES_GROUP_ID, type SubtitleRendition } from './master-playlist.ts';

/**
 * The subtitle media playlist of one WebVTT file, as one segment spanning the whole video:
 * `#EXT-X-TARGETDURATION` is the duration rounded up (at least 1; RFC 8216 §4.3.3.1: every EXTINF
 * rounded to the nearest integer must be ≤ it), `#EXT-X-PLAYLIST-TYPE:VOD` and `#EXT-X-ENDLIST`
 * (the file does not grow). Version 3: EXTINF is a decimal (RFC 8216 §7).
 * @param vttUri URI of the .vtt relative to the playlist, e.g. `en.0123456789abcdef.vtt`.
 * @param durationSeconds the video's duration, seconds (≥ 0).
 * @throws RangeError when the duration is not a finite number ≥ 0.
 */
export function writeSubtitlePlaylist(vttUri: string, durationSeconds: number): string {
  if (!Number.isFinite(durationSeconds) || durationSeconds < 0) throw new RangeError(`not a duration: ${durationSeconds}`);
  const target = Math.max(1, Math.ceil(durationSeconds));
  return [
    '#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD',
    `#EXTINF:${durationSeconds.toFixed(3)},`, vttUri, '#EXT-X-ENDLIST', '',
  ].join('\n');
}

/** The subtitles renditions of group SUBTITLES_GROUP_ID a master playlist lists (as writeMasterPlaylist writes them). */
export function parseSubtitleRenditions(master: string): SubtitleRendition[] {
  const out: SubtitleRendition[] = [];
  for (const raw of master.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line.startsWith('#EXT-X-MEDIA:')) continue;
    const attrs = new Map<string, string>();
    for (const m of line.slice('#EXT-X-MEDIA:'.length).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) attrs.set(m[1]!, m[2]!.replace(/^"|"$/g, ''));
    const [language, name, uri] = [attrs.get('LANGUAGE'), attrs.get('NAME'), attrs.get('URI')];
    if (attrs.get('TYPE') !== 'SUBTITLES' || attrs.get('GROUP-ID') !== SUBTITLES_GROUP_ID || !language || !name || !uri) continue;
    out.push({ language, name, uri });
  }
  return out;
}

/**
 * NAME of a language's subtitles: the language's name in itself (`en` → "English", `fr` →
 * "français"), or the tag when the runtime does not know it; never holds `"` or a line break.
 */
export function subtitleName(language: string): string {
  let name: string | undefined;
  try {
    name = new Intl.DisplayNames([language], { type: 'language' }).of(language);
  } catch {
    name = undefined;
  }
  return (name ?? language).replace(/["\r\n]/g, '');
}

/**
 * The subtitles renditions after publishing (`uri` given) or removing (`uri` null) `language`'s
 * captions; names made unique in the group (RFC 8216 §4.3.4.1.1) by adding the tag where two clash.
 */
export function withSubtitles(current: readonly SubtitleRendition[], language: string, uri: string | null): SubtitleRendition[] {
  const others = current.filter((s) => s.language !== language).map((s) => ({ ...s, name: subtitleName(s.language) }));
  const all = uri === null ? others : [...others, { language, name: subtitleName(language), uri }];
  return all.map((s) => (all.filter((o) => o.name === s.name).length > 1 ? { ...s, name: `${s.name} (${s.language})` } : s));
}
