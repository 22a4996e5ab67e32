/**
 * Trending (issue 14): the videos with the most counted views (view rule v2) in the recent past,
 * as a ranked list kept by the video-detail projection, so a request reads the top of an index
 * and recomputes nothing (seed 000: "not recomputed per request").
 *
 * ## Score: forward decay
 * Each counted view at event time t weighs 2^((t − L) / H) against a fixed landmark L (2026-01-01)
 * with half-life H = TRENDING_HALF_LIFE_MS (Cormode, Shkapenyuk, Srivastava, Xu, "Forward Decay:
 * A Practical Time Decay Model for Streaming Systems", ICDE 2009). A video's score Σ 2^((tᵢ − L)/H)
 * only grows, and ranking by it at any moment equals ranking by the exponentially decayed view
 * count Σ 2^(−(now − tᵢ)/H): time passing reorders nothing, so no rescoring job exists. The score
 * is kept as its base-2 logarithm, which grows by 24 h / H per day and stays finite forever.
 *
 * ## Late views: grace
 * As Kafka Streams closes a window once stream time passes its end plus the grace period, a view
 * more than TRENDING_GRACE_MS older than the newest counted view of the same video is dropped from
 * the score (it still counts in `views`). Stream time is per video, so the decision depends only
 * on the order of the video's partition and a replay takes the same ones.
 *
 * ## Keys (inside the video-detail store)
 * - `trend:<videoId>` → `{ s: log2 score, t: newest counted view (ms) }`
 * - `trend-rank:<fixed-point log2 score, 16 digits>:<videoId>` → videoId (ascending: read reversed)
 * A deleted video leaves the index; visibility is checked when the list is read.
 */
import type { KeyValueBatch } from '../stores/key-value-projection.ts';
import type { KeyValueStore } from '../stores/key-value-store.port.ts';

/** Half-life of a view's weight, ms: 6 h. */
export const TRENDING_HALF_LIFE_MS = 6 * 3600_000;
/** How late (behind the video's newest counted view) a view may be and still count, ms: 48 h (its weight is then 2⁻⁸). */
export const TRENDING_GRACE_MS = 48 * 3600_000;
/** The landmark L of the forward decay, ms since the epoch. */
const LANDMARK_MS = Date.UTC(2026, 0, 1);
/** Fixed-point offset and scale of the rank keys: log2 scores from −10⁶ up sort as digits. */
const RANK_OFFSET = 1e6;
const RANK_SCALE = 1e6;

const enc = encodeURIComponent;
/** Key of a video's trending score (read by a view that counts: video-detail lists it in `readsOf`). */
export const scoreKey = (videoId: string) => `trend:${enc(videoId)}`;
const RANK_PREFIX = 'trend-rank:';
const rankKey = (log2Score: number, videoId: string) =>
  `${RANK_PREFIX}${String(Math.round((Math.max(-RANK_OFFSET, log2Score) + RANK_OFFSET) * RANK_SCALE)).padStart(16, '0')}:${enc(videoId)}`;

interface StoredTrend { s: number; t: number }

/** log2(2^a + 2^b), without overflow. */
function log2Add(a: number, b: number): number {
  const hi = Math.max(a, b);
  return hi + Math.log2(1 + 2 ** (Math.min(a, b) - hi));
}

/** Adds a counted view of `videoId` at event time `viewedAt` (ms) to its score, unless it is later than the grace. */
export async function countTrendingView(tx: KeyValueBatch, videoId: string, viewedAt: number): Promise<void> {
  const stored = await tx.get<StoredTrend>(scoreKey(videoId));
  if (stored && viewedAt < stored.t - TRENDING_GRACE_MS) return; // past the grace: dropped, as a closed window drops it
  const w = (viewedAt - LANDMARK_MS) / TRENDING_HALF_LIFE_MS;
  const s = stored ? log2Add(stored.s, w) : w;
  if (stored) tx.del(rankKey(stored.s, videoId));
  tx.put(rankKey(s, videoId), videoId);
  tx.put(scoreKey(videoId), { s, t: Math.max(stored?.t ?? viewedAt, viewedAt) } satisfies StoredTrend);
}

/** Takes a (deleted) video out of the ranking. */
export async function removeFromTrending(tx: KeyValueBatch, videoId: string): Promise<void> {
  const stored = await tx.get<StoredTrend>(scoreKey(videoId));
  if (!stored) return;
  tx.del(rankKey(stored.s, videoId));
  tx.del(scoreKey(videoId));
}

/**
 * The ranking from the top: pages of video ids with their decayed view count as of `now` (ms):
 * Σ 2^(−(now − tᵢ)/H) over the counted views. Stops when `take` returns false.
 */
export async function readTrending(store: KeyValueStore, now: number, take: (videoId: string, score: number) => Promise<boolean>): Promise<void> {
  const nowW = (now - LANDMARK_MS) / TRENDING_HALF_LIFE_MS;
  for (let after: string | undefined, page; (page = await store.scan<string>(RANK_PREFIX, { reverse: true, limit: 100, after })).length; after = page[page.length - 1].key) {
    const scores = await store.getMany<StoredTrend>(page.map((p) => scoreKey(p.value)));
    for (let i = 0; i < page.length; i++) {
      const s = scores[i];
      if (s && !(await take(page[i].value, 2 ** (s.s - nowW)))) return;
    }
  }
}
