/**
 * Playback sessions as running totals (issue 15 freshness: "materialized views or incremental
 * aggregation, not a re-scan per request"): the state store of the analytics projection's
 * quality-of-experience figures, in the manner of a Kafka Streams aggregate over a KTable.
 *
 * Each session's totals (startup samples, rebuffers, stalled ms, heights played, error codes) are
 * folded from its playback events in log order and stored as ONE row per batch that touched it,
 * in `playback_sessions` (playback.sql.ts), a ReplacingMergeTree whose version is the log
 * position of the last event folded in. The creator's read then aggregates one row per session,
 * not every event ever stored.
 *
 * Why this is exact under at-least-once delivery, where `count`/`sum` states of a materialized
 * view are not (a redelivered record would count twice):
 * - a row is a pure function of the session's events up to its version, so a batch applied twice
 *   writes the same rows, and the greatest version wins;
 * - an event at or below the state's version is already in it and is skipped;
 * - all of a video's playback events are in one partition (keyed by video id, commands/
 *   aggregates.ts), so one projector owns a session and its events arrive in offset order.
 * Adding partitions to `streamwave.playback` moves videos to partitions with other offsets, so the
 * versions no longer compare: rebuild the read model (replay) after repartitioning, as for any
 * change of a topic's partitioning.
 */
import type { PlaybackRow } from './analytics-store.port.ts';
import { finiteOrNull } from './clickhouse-dialect.ts';

/** The running totals of one playback session after the event at (`partition`, `offset`). */
export interface PlaybackSessionState {
  video_id: string;
  session_id: string;
  /** PlaybackStarted startup times, ms, in log order (one per start with a finite time). */
  startup_ms: number[];
  /** RebufferStarted count. */
  rebuffers: number;
  /** Sum of RebufferEnded stalled times, ms. */
  rebuffer_ms: number;
  /** Distinct rendition heights played (PlaybackStarted / RenditionSwitched), pixels, ascending. */
  heights: number[];
  /** PlaybackFailed count per error code, in the order codes first appeared. */
  errors: [code: string, count: number][];
  topic: string;
  partition: number;
  /** Log position of the last event folded in: the row's version. */
  offset: number;
}

/** `video_id` and `session_id` as one map key (NUL cannot be confused: ids are compared whole). */
export const sessionKey = (videoId: string, sessionId: string): string => `${videoId.length}:${videoId}\u0000${sessionId}`;

/** True for a row that belongs to a session (not a skip marker). */
export const isSessionEvent = (r: PlaybackRow): boolean => r.type !== '' && r.session_id !== '';

/** A rendition height as the table stores it (UInt32), or null when not a finite number. */
export function storedHeight(h: number | null): number | null {
  return typeof h === 'number' && Number.isFinite(h) ? Math.min(2 ** 32 - 1, Math.max(0, Math.trunc(h))) : null;
}

/** A session with no events folded in yet (offset -1: every event is newer). */
export function emptySession(r: PlaybackRow): PlaybackSessionState {
  return {
    video_id: r.video_id, session_id: r.session_id, startup_ms: [], rebuffers: 0, rebuffer_ms: 0, heights: [], errors: [],
    topic: r.topic, partition: r.partition, offset: -1,
  };
}

/**
 * `state` with the event `r` folded in, as a new object (`state` is left as it was, so a batch
 * whose insert fails leaves the committed states untouched); `state` itself when `r` is at or
 * below its version in the same partition (already folded in: a redelivery).
 * The same rules as the re-scan it replaces: a startup sample per PlaybackStarted with a finite
 * startup time, a rebuffer per RebufferStarted, stalled ms per RebufferEnded with a finite time,
 * a height per PlaybackStarted / RenditionSwitched with a finite height, an error per PlaybackFailed.
 */
export function foldPlaybackEvent(state: PlaybackSessionState, r: PlaybackRow): PlaybackSessionState {
  if (isFoldedIn(state, r)) return state;
  const next = copyOf(state);
  applyInPlace(next, r);
  return next;
}

/** True when `r` is at or below the version of `state` in the same partition. */
const isFoldedIn = (state: PlaybackSessionState, r: PlaybackRow): boolean => r.partition === state.partition && r.offset <= state.offset;

/** A copy of `state` whose arrays may be changed without changing `state`'s. */
const copyOf = (state: PlaybackSessionState): PlaybackSessionState => ({
  ...state, startup_ms: [...state.startup_ms], heights: [...state.heights], errors: state.errors.map(([code, n]) => [code, n]),
});

/** Folds `r` into `s` itself (see foldPlaybackEvent; the caller has checked isFoldedIn). */
function applyInPlace(s: PlaybackSessionState, r: PlaybackRow): void {
  s.topic = r.topic;
  s.partition = r.partition;
  s.offset = r.offset;
  switch (r.type) {
    case 'PlaybackStarted': {
      const startup = finiteOrNull(r.startup_time_ms);
      if (startup !== null) s.startup_ms.push(startup);
      addHeight(s.heights, storedHeight(r.rendition_height));
      break;
    }
    case 'RenditionSwitched':
      addHeight(s.heights, storedHeight(r.rendition_height));
      break;
    case 'RebufferStarted':
      s.rebuffers += 1;
      break;
    case 'RebufferEnded': {
      const stalled = finiteOrNull(r.rebuffer_ms);
      if (stalled !== null) s.rebuffer_ms += stalled;
      break;
    }
    case 'PlaybackFailed': {
      const known = s.errors.find(([code]) => code === r.error_code);
      if (known) known[1] += 1;
      else s.errors.push([r.error_code, 1]);
      break;
    }
    default: // PlaybackEnded and any other type: only the version moves.
  }
}

/** Adds `h` to `heights` (ascending, distinct); nothing for null or a height already there. */
function addHeight(heights: number[], h: number | null): void {
  if (h === null || heights.includes(h)) return;
  heights.push(h);
  heights.sort((a, b) => a - b);
}

/**
 * The sessions `rows` touch, each folded from its state in `known` (or empty when absent) in
 * (partition, offset) order; only the sessions whose state moved are returned, by sessionKey.
 * `known` is not modified.
 */
export function foldPlaybackRows(rows: readonly PlaybackRow[], known: ReadonlyMap<string, PlaybackSessionState>): Map<string, PlaybackSessionState> {
  const ordered = rows.filter(isSessionEvent).sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const touched = new Map<string, PlaybackSessionState>();
  for (const r of ordered) {
    const key = sessionKey(r.video_id, r.session_id);
    let state = touched.get(key);
    if (!state) {
      const before = known.get(key) ?? emptySession(r);
      if (isFoldedIn(before, r)) continue;
      state = copyOf(before); // copied once per batch, then folded in place: a long session costs O(its events), not O(events²)
      touched.set(key, state);
    }
    if (!isFoldedIn(state, r)) applyInPlace(state, r);
  }
  return touched;
}

/** Most sessions a PlaybackSessionCache holds by default (about 1 KB each). */
export const PLAYBACK_SESSION_CACHE_SIZE = 100_000;

/**
 * The running totals the projection holds in memory, least recently used first out: a miss is
 * restored from `playback_sessions` (the table is the changelog), so the bound costs reads, never
 * correctness.
 *
 * `clear()` on every (re)assignment of partitions (AnalyticsStore.forgetRunningTotals): while another
 * instance owned a partition its sessions moved on, so what this one remembers of them is stale.
 * A batch begun before a clear must not put its states back: `epoch` tells them apart.
 */
export interface PlaybackSessionCache {
  /** The epoch to pass to `commit` for a batch that starts now. */
  readonly epoch: number;
  get(key: string): PlaybackSessionState | undefined;
  /** Keeps `states` (by sessionKey) unless the cache was cleared after `epoch`. */
  commit(states: ReadonlyMap<string, PlaybackSessionState>, epoch: number): void;
  clear(): void;
  readonly size: number;
}

/** A PlaybackSessionCache of at most `capacity` sessions. */
export function playbackSessionCache(capacity = PLAYBACK_SESSION_CACHE_SIZE): PlaybackSessionCache {
  const states = new Map<string, PlaybackSessionState>();
  let epoch = 0;
  return {
    get epoch() { return epoch; },
    get size() { return states.size; },
    get: (key) => states.get(key),
    commit(touched, since) {
      if (since !== epoch) return;
      for (const [key, state] of touched) {
        states.delete(key); // re-inserted last: most recently used
        states.set(key, state);
      }
      for (const key of states.keys()) {
        if (states.size <= capacity) break;
        states.delete(key);
      }
    },
    clear() {
      states.clear();
      epoch++;
    },
  };
}
