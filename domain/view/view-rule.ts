/**
 * View rule v2 (docs/view-rule.md): the one definition of "a view" and "watch time" shared by
 * the video-detail projection (key-value view counter) and the analytics store (ClickHouse SQL
 * takes its thresholds and caps from the constants below), so both read models agree.
 *
 * v2 (issue 8, finding 2: forged heartbeats) caps a heartbeat's `watchedSeconds` by the video's
 * duration and by the time since its playback session was issued, both known to the server and
 * carried on the event (`videoDurationSeconds`, `viewedAt − sessionStartedAt`), so a replay
 * computes exactly what live did. A heartbeat without `sessionStartedAt` was recorded before v2
 * and is judged by v1, unchanged: history keeps its numbers.
 *
 * A rule change gets a new version and is applied by replaying the views topic into a shadow
 * read model and swapping it in (projections/replay, READ_MODEL_CONTENT_VERSIONS); heartbeats are
 * kept raw on the log for exactly that reason.
 */

/** Version tag of this rule; bump it together with docs/view-rule.md (the read models that count views are then rebuilt by replay). */
export const VIEW_RULE_VERSION = 'v2';

/**
 * v2: highest playback speed a session is credited for. Players commonly offer up to 2× (YouTube,
 * PeerTube's player); watching faster is not refused, it just earns no more than 2 s per second.
 */
export const MAX_PLAYBACK_RATE = 2;

/**
 * v2: seconds of watch time credited beyond `MAX_PLAYBACK_RATE × elapsed`: covers clock skew
 * between the gateway instance that issued the session and the one that stamped the heartbeat,
 * and the player reporting whole seconds.
 */
export const SESSION_SLACK_SECONDS = 5;

/** A session becomes one view once it has watched this many seconds (v1: 10 s). */
export const MIN_VIEW_SECONDS = 10;

/**
 * A video shorter than MIN_VIEW_SECONDS counts once watched "whole"; players stop a little before
 * the very end (rounding of the last segment, heartbeat interval), so whole means ≥ duration − 0.5 s.
 */
export const WHOLE_VIDEO_TOLERANCE_SECONDS = 0.5;

/** One player heartbeat, the subset of the VideoViewed event the rule needs. */
export interface Heartbeat {
  sessionId: string;
  viewerId?: string | null;
  /** Cumulative seconds watched in the session so far. */
  watchedSeconds: number;
  /** Duration of the video, seconds, as the player saw it. */
  videoDurationSeconds: number;
  /** Milliseconds since the Unix epoch. */
  viewedAt: number;
  /**
   * When the server issued the playback session, ms since the Unix epoch; null/absent on a
   * heartbeat recorded before view rule v2 (then judged by v1).
   */
  sessionStartedAt?: number | null;
}

/** The rule a heartbeat is judged by: v2 when it carries a (finite) session start, else v1 (history). */
export function heartbeatRuleVersion(hb: Pick<Heartbeat, 'sessionStartedAt'>): 'v1' | 'v2' {
  return typeof hb.sessionStartedAt === 'number' && Number.isFinite(hb.sessionStartedAt) ? 'v2' : 'v1';
}

/**
 * Seconds of the heartbeat the rule credits (≥ 0), "effective watched seconds":
 * - v1 (no session start): `max(0, watchedSeconds)`; not finite → 0.
 * - v2: `min(max(0, watchedSeconds), duration, MAX_PLAYBACK_RATE × elapsed + SESSION_SLACK_SECONDS)`
 *   with `elapsed = max(0, viewedAt − sessionStartedAt) / 1000` seconds (event time, so replays
 *   agree with live), and the duration term left out when the duration is unknown (not finite or
 *   ≤ 0). A viewedAt that is not finite counts as elapsed 0.
 * Source: issue 8 (finding 2), docs/view-rule.md.
 */
export function effectiveWatchedSeconds(hb: Pick<Heartbeat, 'watchedSeconds' | 'videoDurationSeconds' | 'viewedAt' | 'sessionStartedAt'>): number {
  const watched = Number.isFinite(hb.watchedSeconds) ? Math.max(0, hb.watchedSeconds) : 0;
  if (heartbeatRuleVersion(hb) === 'v1') return watched;
  const elapsedMs = Number.isFinite(hb.viewedAt) ? Math.max(0, hb.viewedAt - (hb.sessionStartedAt as number)) : 0;
  const sessionCap = MAX_PLAYBACK_RATE * (elapsedMs / 1000) + SESSION_SLACK_SECONDS;
  const d = hb.videoDurationSeconds;
  const durationCap = Number.isFinite(d) && d > 0 ? d : Number.POSITIVE_INFINITY;
  return Math.min(watched, durationCap, sessionCap);
}

/**
 * Seconds a session must have watched to count as a view.
 * - duration ≥ 10 s, or unknown (not finite or ≤ 0): 10 s.
 * - duration < 10 s: max(0, duration − 0.5 s) ("whole video" with tolerance).
 */
export function viewThresholdSeconds(videoDurationSeconds: number): number {
  if (!Number.isFinite(videoDurationSeconds) || videoDurationSeconds <= 0 || videoDurationSeconds >= MIN_VIEW_SECONDS) {
    return MIN_VIEW_SECONDS;
  }
  return Math.max(0, videoDurationSeconds - WHOLE_VIDEO_TOLERANCE_SECONDS);
}

/**
 * Whether this heartbeat, on its own, shows the session crossed the threshold: its effective
 * watched seconds (v2 caps, effectiveWatchedSeconds) are > 0 and ≥ viewThresholdSeconds. A session
 * is a view iff at least one of its heartbeats qualifies (order-independent, so replays and the
 * SQL `countIf`/`minIf` formulation agree). A heartbeat with watchedSeconds ≤ 0 never qualifies.
 */
export function heartbeatQualifies(hb: Pick<Heartbeat, 'watchedSeconds' | 'videoDurationSeconds'> & Partial<Pick<Heartbeat, 'viewedAt' | 'sessionStartedAt'>>): boolean {
  const watched = effectiveWatchedSeconds({ viewedAt: Number.NaN, sessionStartedAt: null, ...hb });
  return watched > 0 && watched >= viewThresholdSeconds(hb.videoDurationSeconds);
}

/** Per-session fold state kept by an incremental read model (e.g. the key-value view counter). */
export interface SessionViewState {
  /** Max effective (v2: capped) cumulative watchedSeconds seen: heartbeats are cumulative, so a lower later one is a stale/reordered report, not a rewind of watch time. */
  maxWatchedSeconds: number;
  /** viewedAt (ms) of the earliest qualifying heartbeat, null while not (yet) a view. */
  countedAt: number | null;
  /**
   * The session's viewer: the smallest non-null viewerId among its heartbeats (a session has one
   * viewer in practice; "smallest" keeps the rule order-independent, like SQL `minIf`).
   */
  viewerId: string | null;
}

/**
 * Folds one heartbeat into a session's state.
 * @returns the new state, `newView` true exactly once per session (the heartbeat that first
 *   qualifies), and `watchTimeDeltaSeconds` (≥ 0) to add to the video's watch time.
 * Re-folding the same heartbeat is a no-op (newView false, delta 0) — but the projection also
 * skips redelivered records by offset.
 */
export function foldHeartbeat(state: SessionViewState | undefined, hb: Heartbeat): {
  state: SessionViewState;
  newView: boolean;
  watchTimeDeltaSeconds: number;
} {
  const prev: SessionViewState = state ?? { maxWatchedSeconds: 0, countedAt: null, viewerId: null };
  const watched = effectiveWatchedSeconds(hb);
  const maxWatchedSeconds = Math.max(prev.maxWatchedSeconds, watched);
  const qualifies = heartbeatQualifies(hb);
  const newView = qualifies && prev.countedAt === null;
  const countedAt = qualifies ? (prev.countedAt === null ? hb.viewedAt : Math.min(prev.countedAt, hb.viewedAt)) : prev.countedAt;
  return {
    state: { maxWatchedSeconds, countedAt, viewerId: minViewer(prev.viewerId, hb.viewerId ?? null) },
    newView,
    watchTimeDeltaSeconds: maxWatchedSeconds - prev.maxWatchedSeconds,
  };
}

function minViewer(a: string | null, b: string | null): string | null {
  if (a === null || a === '') return b === '' ? null : b;
  if (b === null || b === '') return a;
  return a < b ? a : b;
}

/** Analytics of one video under the view rule (the shape of VideoAnalytics, projections/analytics/analytics.port.ts). */
export interface ViewSummary {
  views: number;
  unique_viewers: number;
  watch_time_seconds: number;
  views_per_minute: { minute: string; views: number }[];
}

/** ISO 8601 UTC at minute precision, e.g. `2026-11-24T10:15:00Z`, for a time in ms. */
export function minuteIso(ms: number): string {
  const d = new Date(Math.floor(ms / 60_000) * 60_000);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Reference (in-memory) computation of a video's analytics from all its heartbeats, in any order,
 * duplicates allowed. The ClickHouse SQL in analytics/analytics.sql.ts computes the same numbers;
 * tests compare the two.
 * - views: sessions with a qualifying heartbeat.
 * - unique_viewers: distinct viewerId (or sessionId when anonymous) among counted sessions.
 * - watch_time_seconds: Σ over all sessions of max(effective watched seconds), v2 caps applied.
 * - views_per_minute: each view in the UTC minute of its earliest qualifying heartbeat, ascending.
 */
export function summariseHeartbeats(heartbeats: Iterable<Heartbeat>): ViewSummary {
  const sessions = new Map<string, SessionViewState>();
  for (const hb of heartbeats) sessions.set(hb.sessionId, foldHeartbeat(sessions.get(hb.sessionId), hb).state);
  let views = 0;
  let watch = 0;
  const viewers = new Set<string>();
  const perMinute = new Map<string, number>();
  for (const [sessionId, s] of sessions) {
    watch += s.maxWatchedSeconds;
    if (s.countedAt === null) continue;
    views++;
    viewers.add(s.viewerId ? `u:${s.viewerId}` : `s:${sessionId}`);
    const m = minuteIso(s.countedAt);
    perMinute.set(m, (perMinute.get(m) ?? 0) + 1);
  }
  return {
    views,
    unique_viewers: viewers.size,
    watch_time_seconds: watch,
    views_per_minute: [...perMinute].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([minute, v]) => ({ minute, views: v })),
  };
}
