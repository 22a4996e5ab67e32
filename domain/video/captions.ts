/**
 * Captions of a video (issue "Creators: a studio…"): the rules a caption file and its language
 * must meet, and where its objects live. Pure; used by the gateway (to refuse bad input with a 4xx
 * before anything is stored), the video decider and the transcoder's caption writer.
 */
import { DomainError } from '../shared/event.ts';

/** Largest caption file accepted, bytes (1 MiB). */
export const CAPTIONS_MAX_BYTES = 1024 * 1024;

/** Longest language tag accepted, characters (RFC 5646 §4.4.1 asks implementations to support at least 35). */
const LANGUAGE_MAX_CHARS = 35;

/**
 * A conservative subset of BCP 47 (RFC 5646 §2.1 `langtag`): a 2–3 letter primary language, an
 * optional 4-letter script, an optional region (2 letters or 3 digits), then variants (5–8
 * alphanumerics, or a digit and 3 alphanumerics). No extlang, extensions, private use or
 * grandfathered tags: none is needed to name the language of a subtitle track.
 */
const LANGTAG = /^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-(?:[A-Za-z]{2}|[0-9]{3}))?(-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$/;

/**
 * The canonical form of a BCP 47 language tag (`en-us` → `en-US`, `EN` → `en`), or null when the
 * tag is not in the subset LANGTAG accepts or Intl.getCanonicalLocales refuses it. The canonical
 * form is what keys, events and playlists carry, so one language has one caption track.
 */
export function canonicalCaptionLanguage(tag: string): string | null {
  if (typeof tag !== 'string' || tag.length > LANGUAGE_MAX_CHARS || !LANGTAG.test(tag)) return null;
  try {
    const [canonical] = Intl.getCanonicalLocales(tag);
    return canonical !== undefined && LANGTAG.test(canonical) ? canonical : null;
  } catch {
    return null;
  }
}

/** A caption file that breaks a rule: code INVALID_CAPTIONS (invalid), the message says which and where. */
const invalidCaptions = (reason: string) => new DomainError('INVALID_CAPTIONS', `invalid WebVTT: ${reason}`, 'invalid');

/**
 * A WebVTT timestamp (W3C WebVTT §4.2 "WebVTT timestamp"): optional hours (2+ digits), minutes
 * and seconds (2 digits, 00–59), `.` and milliseconds (3 digits).
 */
const TIMESTAMP = /^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$/;

/** Milliseconds of a WebVTT timestamp, or null when it is malformed. */
function timestampMs(text: string): number | null {
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  return ((Number(m[1] ?? 0) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
}

/** A cue timings line (W3C WebVTT §4.3 "WebVTT cue timings"): start, whitespace, `-->`, whitespace, end, then optional settings. */
const TIMINGS = /^(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t]+.*)?$/;

/**
 * Checks a caption file against the W3C WebVTT syntax (https://www.w3.org/TR/webvtt1/):
 * - UTF-8 (§4.1: "WebVTT files must be encoded using UTF-8"), at most CAPTIONS_MAX_BYTES bytes;
 * - the file signature (§4.1): an optional BOM, `WEBVTT`, then a space, a tab, a line terminator
 *   or the end of the file;
 * - every line holding `-->` is a well-formed cue timings line (§4.3) with start ≤ end (the spec
 *   wants end > start for a cue to show; a zero-length cue is harmless, so it is accepted);
 * - every block after the header is a cue (timings on its first or second line), or a NOTE, STYLE
 *   or REGION block (§4.1). Cue payloads are not parsed: players render them as text.
 * Returns the number of cues.
 * @throws DomainError `INVALID_CAPTIONS` (invalid) naming the rule and the line (1-based).
 */
export function validateWebVtt(bytes: Uint8Array): number {
  if (bytes.byteLength > CAPTIONS_MAX_BYTES) throw invalidCaptions(`larger than ${CAPTIONS_MAX_BYTES} bytes`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw invalidCaptions('not UTF-8');
  }
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  if (!/^WEBVTT(?:$|[ \t\r\n])/.test(text)) throw invalidCaptions('the file must start with the signature WEBVTT');
  const lines = text.split(/\r\n|\r|\n/);
  // The header runs to the first blank line (§4.1).
  let i = 0;
  while (i < lines.length && lines[i] !== '') {
    if (lines[i]!.includes('-->')) throw invalidCaptions(`line ${i + 1}: a cue needs a blank line after the header`);
    i++;
  }
  let cues = 0;
  while (i < lines.length) {
    if (lines[i] === '') { i++; continue; }
    const start = i;
    while (i < lines.length && lines[i] !== '') i++;
    const block = lines.slice(start, i);
    const timingAt = block.findIndex((l) => l.includes('-->'));
    if (timingAt === -1) {
      if (/^(NOTE|STYLE|REGION)(?:$|[ \t])/.test(block[0]!)) continue;
      throw invalidCaptions(`line ${start + 1}: a block that is not a cue, NOTE, STYLE or REGION`);
    }
    if (timingAt > 1) throw invalidCaptions(`line ${start + timingAt + 1}: cue timings must be on the cue's first or second line`);
    const line = start + timingAt + 1;
    const m = TIMINGS.exec(block[timingAt]!);
    const from = m ? timestampMs(m[1]!) : null;
    const to = m ? timestampMs(m[2]!) : null;
    if (from === null || to === null) throw invalidCaptions(`line ${line}: cue timings must read hh:mm:ss.ttt --> hh:mm:ss.ttt`);
    if (from > to) throw invalidCaptions(`line ${line}: the cue ends before it starts`);
    const stray = block.findIndex((l, k) => k > timingAt && l.includes('-->'));
    if (stray !== -1) throw invalidCaptions(`line ${start + stray + 1}: a cue's text must not contain -->`);
    cues++;
  }
  return cues;
}

/**
 * Object keys of a video's captions, under its HLS prefix so media delivery applies the video's
 * visibility to them (platform/object-store/http/media.plugin.ts):
 *
 *   videos/<videoId>/hls/captions/<language>.<digest>.vtt   the file, never rewritten (served immutable)
 *   videos/<videoId>/hls/captions/<language>.m3u8           its subtitle media playlist (rewritten on change)
 *
 * `digest`: hex of the file's SHA-256 (16 characters are enough to tell versions apart), so a new
 * file for a language gets a new key and no cache serves the old one.
 */
export const captionKeys = {
  prefix: (videoId: string): string => `videos/${videoId}/hls/captions/`,
  file: (videoId: string, language: string, digest: string): string => `videos/${videoId}/hls/captions/${language}.${digest.slice(0, 16)}.vtt`,
  playlist: (videoId: string, language: string): string => `videos/${videoId}/hls/captions/${language}.m3u8`,
};

/** Whether `key` is a caption file key of `videoId` for `language` (captionKeys.file). */
export function isCaptionFileKey(key: unknown, videoId: string, language: string): key is string {
  if (typeof key !== 'string') return false;
  const prefix = `${captionKeys.prefix(videoId)}${language}.`;
  return key.startsWith(prefix) && /^[0-9a-f]{16}\.vtt$/.test(key.slice(prefix.length));
}
