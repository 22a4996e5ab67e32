/**
 * The storyboard (seek previews) of a video, pure: how often a tile is taken, how big a tile is,
 * how tiles are laid out on JPEG sprite sheets, and the WebVTT thumbnails track that maps each
 * time range to its tile as `sprite-N.jpg#xywh=x,y,w,h` (the media-fragment form JW Player,
 * Video.js and Vidstack read for thumbnail tracks; W3C Media Fragments URI 1.0 §4.2.1 for `xywh`,
 * W3C WebVTT for the cue syntax).
 */

/** Tiles wanted for a long video at most: one every max(1, ceil(duration / 100)) seconds. */
export const STORYBOARD_TARGET_TILES = 100;
/** Widest tile, pixels (narrower sources keep their width: never upscaled). */
export const STORYBOARD_TILE_WIDTH = 160;
/** Tiles per row and rows per sheet at most: a sheet holds up to 10 × 10 tiles. */
export const STORYBOARD_GRID = 10;

/** The layout of a storyboard. Sizes in pixels, times in seconds. */
export interface StoryboardLayout {
  /** Time each tile stands for, seconds (whole, ≥ 1): tile i shows the frame at i × interval. */
  intervalSeconds: number;
  /** Number of tiles: ceil(duration / interval), ≥ 1. */
  tiles: number;
  /** Size of one tile, pixels (even, ≥ 2), display orientation and square pixels. */
  tileWidth: number;
  tileHeight: number;
  /** Tiles per row and rows per sheet (every sheet has this grid; the last may be partly empty). */
  columns: number;
  rows: number;
  /** Number of sprite sheets: ceil(tiles / (columns × rows)). */
  sheets: number;
}

/**
 * Plans the storyboard of a video of `durationSeconds` (seconds, > 0) whose frames display at
 * `displayWidth` × `displayHeight` (pixels). A video of 0 s or an unknown duration gets 1 tile.
 * @throws RangeError when a display size is not a positive number
 */
export function planStoryboard(durationSeconds: number, displayWidth: number, displayHeight: number): StoryboardLayout {
  if (!(displayWidth > 0) || !(displayHeight > 0)) throw new RangeError(`display size must be positive (got ${displayWidth}x${displayHeight})`);
  const duration = Number.isFinite(durationSeconds) && durationSeconds > 0 ? durationSeconds : 0;
  const intervalSeconds = Math.max(1, Math.ceil(duration / STORYBOARD_TARGET_TILES));
  const tiles = Math.max(1, Math.ceil(duration / intervalSeconds));
  const even = (n: number) => Math.max(2, 2 * Math.round(n / 2));
  const tileWidth = even(Math.min(STORYBOARD_TILE_WIDTH, displayWidth));
  const tileHeight = even((tileWidth * displayHeight) / displayWidth);
  const columns = Math.min(STORYBOARD_GRID, tiles);
  const rows = Math.min(STORYBOARD_GRID, Math.ceil(tiles / columns));
  return { intervalSeconds, tiles, tileWidth, tileHeight, columns, rows, sheets: Math.ceil(tiles / (columns * rows)) };
}

/** File name of sprite sheet `n` (1-based), as FFmpeg's image2 muxer writes it (`sprite-%d.jpg`, start 1). */
export function spriteName(n: number): string {
  return `sprite-${n}.jpg`;
}

/** Where tile `i` (0-based) is: its sheet (1-based) and its top-left corner on that sheet, pixels. */
export function tilePosition(layout: StoryboardLayout, i: number): { sheet: number; x: number; y: number } {
  const perSheet = layout.columns * layout.rows;
  const onSheet = i % perSheet;
  return {
    sheet: Math.floor(i / perSheet) + 1,
    x: (onSheet % layout.columns) * layout.tileWidth,
    y: Math.floor(onSheet / layout.columns) * layout.tileHeight,
  };
}

/** `HH:MM:SS.mmm`, the WebVTT cue timestamp of `seconds`. */
export function vttTimestamp(seconds: number): string {
  const ms = Math.round(Math.max(0, seconds) * 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}.${pad(ms % 1000, 3)}`;
}

/**
 * The WebVTT thumbnails track: one cue per tile, tile i from i × interval to the next tile (the
 * last one ends at `durationSeconds`, seconds), its payload the sprite sheet's name relative to the
 * track with `#xywh=x,y,w,h` (pixels). Ends with a newline.
 */
export function storyboardVtt(layout: StoryboardLayout, durationSeconds: number): string {
  const cues: string[] = [];
  for (let i = 0; i < layout.tiles; i++) {
    const start = i * layout.intervalSeconds;
    const end = i === layout.tiles - 1 ? Math.max(durationSeconds, start + 0.001) : (i + 1) * layout.intervalSeconds;
    const { sheet, x, y } = tilePosition(layout, i);
    cues.push(`${vttTimestamp(start)} --> ${vttTimestamp(end)}\n${spriteName(sheet)}#xywh=${x},${y},${layout.tileWidth},${layout.tileHeight}`);
  }
  return `WEBVTT\n\n${cues.join('\n\n')}\n`;
}

/**
 * What a storyboard track records (for RecordStoryboard), read back from its WebVTT text: the
 * interval (the first cue's length, seconds), the number of cues, and the tile size (pixels) of
 * the first cue's `#xywh`. null when the text is not a thumbnails track this module wrote.
 */
export function readStoryboardVtt(text: string): { intervalSeconds: number; tiles: number; tileWidth: number; tileHeight: number } | null {
  if (!text.startsWith('WEBVTT')) return null;
  const ts = '(\\d{2}):(\\d{2}):(\\d{2})\\.(\\d{3})';
  const cues = [...text.matchAll(new RegExp(`${ts} --> ${ts}\\n[^\\n#]+#xywh=\\d+,\\d+,(\\d+),(\\d+)`, 'g'))];
  const first = cues[0];
  if (!first) return null;
  const seconds = (m: RegExpMatchArray, at: number) => Number(m[at]) * 3600 + Number(m[at + 1]) * 60 + Number(m[at + 2]) + Number(m[at + 3]) / 1000;
  const intervalSeconds = cues.length > 1 ? seconds(first, 5) - seconds(first, 1) : Math.max(1, Math.ceil(seconds(first, 5)));
  return { intervalSeconds, tiles: cues.length, tileWidth: Number(first[9]), tileHeight: Number(first[10]) };
}
