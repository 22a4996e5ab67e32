/**
 * The sweep of video detail's expired signed sessions (issue 8: their view-rule state is dropped
 * SESSION_STATE_HORIZON_MS after their last heartbeat, event time), and what lets most heartbeats
 * skip it (issue 12). Each heartbeat of a video may drop up to `limit` sessions whose expiry entry
 * (`<prefix of the video><bucket start, 15 digits>:<session id>`, one per signed session) says
 * they expired; entries sort oldest first, so the first one alone says whether there is anything
 * to drop.
 *
 * Reading that first entry was the largest part of a heartbeat's cost in a profile of the replay,
 * so the sweeper remembers, per video, the expiry time (ms) of the oldest committed entry:
 * - within a batch, exactly: the committed index does not change while a batch is applied (its
 *   writes are committed together at the end);
 * - across batches, as a lower bound: taken from a scan from the start of the video's entries,
 *   and lowered whenever the projection writes an entry (`noted`). Drops only raise the true
 *   oldest, and a failed batch leaves the bound lower than needed: either way a sweep scans when
 *   it need not, never the reverse. Another writer of the same store (a projector that owned the
 *   partition before a rebalance, in cluster mode) could add an older entry unseen, so a bound is
 *   trusted for HINT_TTL_MS of wall-clock time only; meanwhile such an entry only waits longer to
 *   be dropped. A signed heartbeat's outcome never depends on sweep timing (the projection treats
 *   state past the horizon as gone whether or not it was dropped); an unsigned heartbeat of a
 *   signed session past the horizon (a client from before signed sessions) does, as it did before
 *   this bound: in that case a bound gone stale after a rebalance can change whether it counts.
 * With a valid bound the sweeps drop exactly what they dropped before, at the same heartbeats.
 */
import type { KeyValueStore } from '../stores/key-value-store.port.ts';
import type { KeyValueBatch } from '../stores/key-value-projection.ts';

/** How long a video's remembered oldest expiry is trusted across batches, ms of wall-clock time. */
export const HINT_TTL_MS = 60_000;
/** Entries read per scan of a sweep after the first (which reads one: usually nothing has expired). */
const SCAN_PAGE = 8;
/** Videos whose oldest expiry is remembered across batches at most (all forgotten past it). */
const MAX_HINTS = 100_000;

export interface SessionExpirySweepOptions {
  store: KeyValueStore;
  /** Prefix of a video's expiry entries. */
  prefixOf(videoId: string): string;
  /** Expiry time of an entry whose bucket starts at `bucket` (ms, event time). */
  expiryOfBucket(bucket: number): number;
  /**
   * Drops the expired session `sessionId` of `videoId` (its state and its entry `key`) in `tx`
   * unless this batch saw it again; resolves true when it was dropped.
   */
  drop(tx: KeyValueBatch, videoId: string, sessionId: string, key: string, now: number): Promise<boolean>;
  /** Sessions dropped per sweep at most. */
  limit: number;
}

/** Per batch and video (see the file comment). */
interface Swept {
  /** The last entry the sweeps of this batch have dealt with: the next scan starts past it. */
  after?: string;
  /** Expiry time (ms) of the oldest committed entry past `after`: Infinity for none, -Infinity when unknown. */
  oldest: number;
  /** Expiry time (ms) of the oldest entry this batch wrote (Infinity for none). */
  added: number;
}

export function sessionExpirySweep(o: SessionExpirySweepOptions) {
  const sweptIn = new WeakMap<KeyValueBatch, Map<string, Swept>>();
  const hints = new Map<string, { expiry: number; checkedAt: number }>();

  /** Expiry time (ms) of the entry `key` under `prefix` (a function, not a closure per sweep: see commands/command-handler.ts decideKind). */
  const expiryOf = (prefix: string, key: string): number => o.expiryOfBucket(Number(key.slice(prefix.length, prefix.length + 15)));

  /** This batch's entry of `videoId`, made from the remembered bound while it is trusted. */
  function sweptOf(tx: KeyValueBatch, videoId: string): Swept {
    let perVideo = sweptIn.get(tx);
    if (!perVideo) sweptIn.set(tx, perVideo = new Map());
    let swept = perVideo.get(videoId);
    if (!swept) {
      const h = hints.get(videoId);
      perVideo.set(videoId, swept = { oldest: h && performance.now() - h.checkedAt < HINT_TTL_MS ? h.expiry : -Infinity, added: Infinity });
    }
    return swept;
  }

  return {
    /** Call when `tx` writes an expiry entry of `videoId` whose bucket starts at `bucket`. */
    noted(tx: KeyValueBatch, videoId: string, bucket: number): void {
      const expiry = o.expiryOfBucket(bucket);
      const swept = sweptOf(tx, videoId);
      swept.added = Math.min(swept.added, expiry);
      const h = hints.get(videoId);
      if (h) h.expiry = Math.min(h.expiry, expiry);
    },

    /**
     * Drops up to `limit` sessions of `videoId` whose entries expired at `now` (event time, ms),
     * oldest first, skipping the current session. Reads the committed index, re-checked through
     * the batch (which sees this batch's own writes).
     */
    async sweep(tx: KeyValueBatch, videoId: string, currentSessionId: string, now: number): Promise<void> {
      const prefix = o.prefixOf(videoId);
      const swept = sweptOf(tx, videoId);
      if (now < swept.oldest) return;
      let dropped = 0;
      // Pages of SCAN_PAGE entries, at most 4 × limit entries looked at per sweep: usually one or
      // two have expired, and a page of 128 parsed every value for nothing (issue 12).
      for (let examined = 0, first = true; examined < 4 * o.limit;) {
        const after = swept.after;
        const page = await o.store.scan(prefix, { limit: first ? 1 : Math.min(SCAN_PAGE, 4 * o.limit - examined), after });
        if (first && after === undefined) {
          if (hints.size >= MAX_HINTS && !hints.has(videoId)) hints.clear();
          // The committed oldest, and the entries this batch wrote so far (they are committed with it).
          const oldest = page.length ? expiryOf(prefix, page[0].key) : Infinity;
          hints.set(videoId, { expiry: Math.min(oldest, swept.added), checkedAt: performance.now() });
        }
        first = false;
        if (!page.length) { swept.oldest = Infinity; return; }
        for (const { key } of page) {
          examined++;
          if (expiryOf(prefix, key) > now) { swept.oldest = expiryOf(prefix, key); return; } // ascending: the rest are younger
          // Dealt with (dropped, or not to drop: the current session, seen again, already dropped):
          // the next sweep of this video in this batch scans again, past it.
          swept.after = key;
          swept.oldest = -Infinity;
          const sessionId = decodeURIComponent(key.slice(prefix.length + 16));
          if (sessionId === currentSessionId || !(await tx.get(key))) continue;
          if (await o.drop(tx, videoId, sessionId, key, now) && ++dropped >= o.limit) return;
        }
      }
    },
  };
}
