/**
 * Reading a storyboard's WebVTT thumbnails track (the seek previews of `storyboard_url`): cues of
 * `HH:MM:SS.mmm --> HH:MM:SS.mmm` whose payload is an image URL relative to the track with a
 * `#xywh=x,y,w,h` media fragment (pixels; W3C Media Fragments URI 1.0 §4.2.1). Pure, no DOM.
 */

/** One tile: shown from `start` to `end` (seconds); the sprite's absolute URL and the tile's rectangle on it (pixels). */
export interface StoryboardCue {
  start: number;
  end: number;
  url: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

const seconds = (ts: string): number => {
  const parts = ts.split(':').map(Number);
  return parts.reduce((n, p) => n * 60 + p, 0);
};

/**
 * The cues of `text`, in order, with sprite URLs resolved against `trackUrl` (so a signed track
 * URL's prefix carries over). Cues without `#xywh` or with malformed times are left out; text that
 * is not WebVTT gives [].
 */
export function parseStoryboardTrack(text: string, trackUrl: string): StoryboardCue[] {
  if (!text.startsWith('WEBVTT')) return [];
  const cues: StoryboardCue[] = [];
  const re = /((?:\d+:)?\d{2}:\d{2}\.\d{3})\s+-->\s+((?:\d+:)?\d{2}:\d{2}\.\d{3})[^\n]*\n([^\n#]+)#xywh=(\d+),(\d+),(\d+),(\d+)/g;
  for (const m of text.matchAll(re)) {
    cues.push({
      start: seconds(m[1]!), end: seconds(m[2]!), url: new URL(m[3]!.trim(), trackUrl).href,
      x: Number(m[4]), y: Number(m[5]), w: Number(m[6]), h: Number(m[7]),
    });
  }
  return cues;
}

/** The cue shown at `t` seconds (the last one past the end), or null when there are none. */
export function cueAt(cues: readonly StoryboardCue[], t: number): StoryboardCue | null {
  if (cues.length === 0) return null;
  let lo = 0;
  let hi = cues.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (cues[mid]!.start <= t) lo = mid;
    else hi = mid - 1;
  }
  return cues[lo]!;
}
