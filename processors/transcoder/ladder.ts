/**
 * Ladder planning: which HLS renditions to encode for a source, at which size and bitrate cap.
 * Pure; no I/O.
 */

/** Standard rung heights, pixels, lowest first: the common 16:9 ladder from 144p to 2160p (4K UHD). */
export const LADDER_HEIGHTS = [144, 240, 360, 480, 720, 1080, 1440, 2160] as const;

/**
 * Reference peak video bitrate per rung for a 16:9 frame at ≤ 30 fps, bits/s.
 * Roughly Apple's HLS authoring spec (§2.2 bit-rate ladder) and YouTube's recommended upload
 * bitrates scaled down for CRF-capped VOD; it is a cap (VBV maxrate), CRF usually stays below it.
 */
const REFERENCE_MAXRATE: Record<(typeof LADDER_HEIGHTS)[number], number> = {
  144: 200_000,
  240: 400_000,
  360: 800_000,
  480: 1_400_000,
  720: 2_800_000,
  1080: 5_000_000,
  1440: 9_000_000,
  2160: 16_000_000,
};

/** Smallest cap we ever use, bits/s (tiny `source` renditions still need room for keyframes). */
const MIN_MAXRATE = 64_000;

/** Frame rates above this get more bits (Apple HLS authoring spec: high-frame-rate variants). */
const HIGH_FPS_THRESHOLD = 30.5;
const HIGH_FPS_FACTOR = 1.5;

/** What the planner needs to know about the source (from `probeMedia`). */
interface LadderSource {
  /** Display width after SAR and rotation, pixels. */
  displayWidth: number;
  /** Display height after SAR and rotation, pixels. */
  displayHeight: number;
  /** Output frame rate, frames/s (already capped at 60); scales the bitrate caps. */
  fps?: number;
  /** Longest side a rendition may have, pixels (the source limit; default 8192). */
  maxSidePx?: number;
}

/** One planned rendition. */
export interface RenditionPlan {
  /** `144p` … `2160p`, or `source` when the source is below 144 pixels tall. */
  name: string;
  /** Output width, pixels, even, ≥ 2. */
  width: number;
  /** Output height, pixels, even, ≥ 2. */
  height: number;
  /** VBV peak video bitrate (`-maxrate`), bits/s. */
  maxrate: number;
  /** VBV buffer size (`-bufsize`), bits (2 s at maxrate). */
  bufsize: number;
}

/** Rounds to the nearest even integer ≥ 2 (yuv420p needs even dimensions). */
function toEven(x: number): number {
  return Math.max(2, 2 * Math.round(x / 2));
}

function maxrateFor(width: number, height: number, referenceHeight: (typeof LADDER_HEIGHTS)[number], fps: number | undefined): number {
  // Scale the 16:9 reference by the actual pixel count, so a portrait 608x1080 gets fewer bits
  // than 1920x1080 and an ultra-wide frame more.
  const referencePixels = ((referenceHeight * 16) / 9) * referenceHeight;
  const pixelFactor = Math.min(2, Math.max(0.25, (width * height) / referencePixels));
  const fpsFactor = fps !== undefined && fps > HIGH_FPS_THRESHOLD ? HIGH_FPS_FACTOR : 1;
  const rate = REFERENCE_MAXRATE[referenceHeight] * pixelFactor * fpsFactor;
  // Round to whole kbit/s to keep ffmpeg arguments readable.
  return Math.max(MIN_MAXRATE, Math.round(rate / 1000) * 1000);
}

/**
 * Plans the ladder, lowest first.
 *
 * Rules:
 * - a rung is kept only when its height ≤ the source's DISPLAY height (no upscaling);
 * - a source whose display height is < 144 gets a single rendition named `source` at its own
 *   (even-rounded) display size;
 * - width = height × display aspect ratio, rounded to an even number; output pixels are square;
 * - no rendition is wider or taller than `maxSidePx` (issue 8: a 1000:1 SAR once planned a
 *   256000-pixel-wide "144p"); rungs beyond it are left out.
 *
 * @throws RangeError when the display size is not a positive finite number, or when even the
 *   lowest rung would exceed `maxSidePx` (the source limits reject such a source first).
 */
export function planLadder(source: LadderSource): RenditionPlan[] {
  const { displayWidth, displayHeight, fps } = source;
  if (!(Number.isFinite(displayWidth) && Number.isFinite(displayHeight) && displayWidth > 0 && displayHeight > 0)) {
    throw new RangeError(`invalid display size ${displayWidth}x${displayHeight}`);
  }
  const aspect = displayWidth / displayHeight;
  const plan = (name: string, height: number, ref: (typeof LADDER_HEIGHTS)[number]): RenditionPlan => {
    const h = toEven(height);
    const w = toEven(h * aspect);
    const maxrate = maxrateFor(w, h, ref, fps);
    return { name, width: w, height: h, maxrate, bufsize: 2 * maxrate };
  };
  const maxSide = source.maxSidePx ?? 8192;
  const rungs = displayHeight < LADDER_HEIGHTS[0]
    // Floor, not round: never upscale a tiny source, even by one pixel.
    ? [plan('source', Math.max(2, 2 * Math.floor(displayHeight / 2)), 144)]
    : LADDER_HEIGHTS.filter((h) => h <= displayHeight).map((h) => plan(`${h}p`, h, h));
  const within = rungs.filter((r) => r.width <= maxSide && r.height <= maxSide);
  if (within.length === 0) throw new RangeError(`display size ${displayWidth}x${displayHeight} gives no rendition within ${maxSide} px`);
  return within;
}
