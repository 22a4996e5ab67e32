/**
 * The tables of cases of the view rule (docs/view-rule.md): heartbeats of one video and the
 * numbers every read model must derive from them. `VIEW_RULE_CASES` are v1's (heartbeats without
 * a session start: history, still counted under v1 by the v2 code); `VIEW_RULE_V2_CASES` are
 * v2's (heartbeats carrying `sessionStartedAt`). They live once, here; the reference fold in
 * view-rule.ts, the key-value view counter (projections/video-detail) and the analytics SQL
 * (projections/analytics, chDB and ClickHouse) are each tested against every row of both.
 *
 * Watched seconds are chosen exactly representable in binary floating point so that sums agree
 * bit for bit whatever order a store adds them in.
 */
import type { Heartbeat, ViewSummary } from './view-rule.ts';

/** Time of the first heartbeat of every case: 2026-11-24T10:00:00Z, ms since the Unix epoch. */
const VIEW_RULE_CASES_T0 = Date.UTC(2026, 10, 24, 10, 0, 0);

export interface ViewRuleCase {
  name: string;
  /** Duration of the video as the player saw it, seconds (every heartbeat of the case carries it). */
  durationSeconds: number;
  /**
   * In delivery order: session, viewer (null when anonymous), cumulative seconds watched, seconds
   * after T0 (viewedAt), and — v2 only — when the session was issued, seconds after T0
   * (sessionStartedAt; absent or null: a pre-v2 heartbeat, judged by v1).
   */
  heartbeats: ReadonlyArray<readonly [session: string, viewer: string | null, watchedSeconds: number, atSeconds: number, sessionStartSeconds?: number | null]>;
  expected: ViewSummary;
}

const minute = (m: number) => `2026-11-24T10:${String(m).padStart(2, '0')}:00Z`;

export const VIEW_RULE_CASES: readonly ViewRuleCase[] = [
  {
    name: 'a session crossing 10 s is one view, however many heartbeats follow',
    durationSeconds: 60,
    heartbeats: [['s1', null, 4, 5], ['s1', null, 11, 15], ['s1', null, 25, 30]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 25, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'a lower later heartbeat is a stale report, not a rewind of watch time',
    durationSeconds: 60,
    heartbeats: [['s1', null, 12, 5], ['s1', null, 3, 20]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 12, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'under 10 s of a long video is watch time but no view',
    durationSeconds: 60,
    heartbeats: [['s1', null, 9.5, 5]],
    expected: { views: 0, unique_viewers: 0, watch_time_seconds: 9.5, views_per_minute: [] },
  },
  {
    name: 'exactly 10 s is a view',
    durationSeconds: 60,
    heartbeats: [['s1', 'u1', 10, 1]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 10, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'a video shorter than 10 s watched whole, within the 0.5 s tolerance, is a view',
    durationSeconds: 6,
    heartbeats: [['s1', null, 5.75, 5]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 5.75, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'a video shorter than 10 s not watched whole is no view',
    durationSeconds: 6,
    heartbeats: [['s1', null, 5.25, 5]],
    expected: { views: 0, unique_viewers: 0, watch_time_seconds: 5.25, views_per_minute: [] },
  },
  {
    name: 'nothing watched is never a view, even of a sub-second video',
    durationSeconds: 0.25,
    heartbeats: [['s1', null, 0, 1]],
    expected: { views: 0, unique_viewers: 0, watch_time_seconds: 0, views_per_minute: [] },
  },
  {
    name: 'an unknown duration (0) falls back to the 10 s threshold',
    durationSeconds: 0,
    heartbeats: [['s1', null, 9.5, 1], ['s2', null, 10, 2]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 19.5, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'two sessions of one signed-in viewer are two views and one unique viewer',
    durationSeconds: 60,
    heartbeats: [['s1', 'u1', 15, 10], ['s2', 'u1', 15, 70]],
    expected: { views: 2, unique_viewers: 1, watch_time_seconds: 30, views_per_minute: [{ minute: minute(0), views: 1 }, { minute: minute(1), views: 1 }] },
  },
  {
    name: 'two anonymous sessions are two unique viewers',
    durationSeconds: 60,
    heartbeats: [['s1', null, 10, 5], ['s2', null, 10.5, 6]],
    expected: { views: 2, unique_viewers: 2, watch_time_seconds: 20.5, views_per_minute: [{ minute: minute(0), views: 2 }] },
  },
  {
    name: 'a view counts in the minute of its first qualifying heartbeat',
    durationSeconds: 60,
    heartbeats: [['s1', null, 5, 50], ['s1', null, 10, 65], ['s1', null, 40, 130]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 40, views_per_minute: [{ minute: minute(1), views: 1 }] },
  },
  {
    name: 'a redelivered heartbeat changes nothing',
    durationSeconds: 60,
    heartbeats: [['s1', null, 11, 5], ['s1', null, 11, 5]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 11, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'a session signed in midway belongs to that viewer',
    durationSeconds: 60,
    heartbeats: [['s1', null, 5, 1], ['s1', 'u1', 12, 2], ['s2', 'u1', 12, 3]],
    expected: { views: 2, unique_viewers: 1, watch_time_seconds: 24, views_per_minute: [{ minute: minute(0), views: 2 }] },
  },
];

/**
 * The cases of view rule v2 (heartbeats carrying `sessionStartedAt`). Effective watched seconds
 * = min(watched, duration, 2 × elapsed + 5 s), elapsed = max(0, viewedAt − sessionStartedAt);
 * the v1 threshold (10 s, or the whole video − 0.5 s when shorter) then applies to that value.
 * Each name says why the numbers are what they are.
 */
export const VIEW_RULE_V2_CASES: readonly ViewRuleCase[] = [
  {
    name: 'v2: the issue 8 attack — 25 forged sessions claiming 1e7 s of a 2 s video give 2 s each (50 s), not 250,000,000 s',
    durationSeconds: 2,
    // Each session is capped at the duration (2 s ≥ 2 − 0.5): a view apiece; forged session ids are refused upstream (INVALID_PLAYBACK_SESSION).
    heartbeats: Array.from({ length: 25 }, (_, i) => [`s${i}`, null, 1e7, 1, 0] as const),
    expected: { views: 25, unique_viewers: 25, watch_time_seconds: 50, views_per_minute: [{ minute: minute(0), views: 25 }] },
  },
  {
    name: 'v2: 10 s claimed 1 s after the session was issued is capped at 2 × 1 + 5 = 7 s: no view',
    durationSeconds: 60,
    heartbeats: [['s1', null, 10, 1, 0]],
    expected: { views: 0, unique_viewers: 0, watch_time_seconds: 7, views_per_minute: [] },
  },
  {
    name: 'v2: 10 s watched 2.5 s after the session start at 2× speed is a view (cap 2 × 2.5 + 5 = 10)',
    durationSeconds: 60,
    heartbeats: [['s1', null, 10, 2.5, 0]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 10, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'v2: 10 s claimed 2.25 s after the session start is capped at 9.5 s: no view',
    durationSeconds: 60,
    heartbeats: [['s1', null, 10, 2.25, 0]],
    expected: { views: 0, unique_viewers: 0, watch_time_seconds: 9.5, views_per_minute: [] },
  },
  {
    name: 'v2: playback at normal speed is never capped',
    durationSeconds: 60,
    heartbeats: [['s1', null, 5, 5, 0], ['s1', null, 15, 15, 0], ['s1', null, 30, 30, 0]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 30, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'v2: more than the duration is capped at the duration (a session earns at most one length of the video)',
    durationSeconds: 60,
    heartbeats: [['s1', null, 200, 300, 0]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 60, views_per_minute: [{ minute: minute(5), views: 1 }] },
  },
  {
    name: 'v2: a video shorter than 10 s watched whole at normal speed is a view',
    durationSeconds: 6,
    heartbeats: [['s1', null, 5.75, 6, 0]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 5.75, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'v2: a 6 s video "watched whole" at the instant the session was issued is capped at 5 s: not whole (needs 5.5 s)',
    durationSeconds: 6,
    heartbeats: [['s1', null, 6, 10, 10]],
    expected: { views: 0, unique_viewers: 0, watch_time_seconds: 5, views_per_minute: [] },
  },
  {
    name: 'v2: a heartbeat stamped before its session start (clock skew) gets only the 5 s slack',
    durationSeconds: 60,
    heartbeats: [['s1', null, 8, 10, 20]],
    expected: { views: 0, unique_viewers: 0, watch_time_seconds: 5, views_per_minute: [] },
  },
  {
    name: 'v2: an unknown duration (0) leaves only the session cap, honest playback counts',
    durationSeconds: 0,
    heartbeats: [['s1', null, 150, 100, 0]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 150, views_per_minute: [{ minute: minute(1), views: 1 }] },
  },
  {
    name: 'v2: an unknown duration does not let a forged claim through: capped by the session at 7 s',
    durationSeconds: 0,
    heartbeats: [['s1', null, 1e7, 1, 0]],
    expected: { views: 0, unique_viewers: 0, watch_time_seconds: 7, views_per_minute: [] },
  },
  {
    name: 'v2: v1 history next to v2: a heartbeat without a session start is counted under v1, uncapped',
    durationSeconds: 60,
    heartbeats: [['s1', null, 1000, 1], ['s2', null, 1000, 1, 0]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 1007, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'v2: each heartbeat is capped on its own: a later one, further from the session start, lifts the cap',
    durationSeconds: 60,
    heartbeats: [['s1', null, 20, 1, 0], ['s1', null, 20, 10, 0]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 20, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'v2: the view counts in the minute of the first heartbeat whose CAPPED value qualifies',
    durationSeconds: 60,
    heartbeats: [['s1', null, 12, 2, 0], ['s1', null, 12, 61, 0]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 12, views_per_minute: [{ minute: minute(1), views: 1 }] },
  },
  {
    name: 'v2: a lower later heartbeat does not rewind capped watch time',
    durationSeconds: 60,
    heartbeats: [['s1', null, 30, 20, 0], ['s1', null, 10, 25, 0]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 30, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'v2: a redelivered heartbeat changes nothing',
    durationSeconds: 60,
    heartbeats: [['s1', null, 11, 5, 0], ['s1', null, 11, 5, 0]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 11, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'v2: two sessions of one signed-in viewer are two views and one unique viewer',
    durationSeconds: 60,
    heartbeats: [['s1', 'u1', 15, 10, 0], ['s2', 'u1', 15, 70, 60]],
    expected: { views: 2, unique_viewers: 1, watch_time_seconds: 30, views_per_minute: [{ minute: minute(0), views: 1 }, { minute: minute(1), views: 1 }] },
  },
  {
    name: 'v2: nothing watched is never a view, even of a sub-second video',
    durationSeconds: 0.25,
    heartbeats: [['s1', null, 0, 1, 0]],
    expected: { views: 0, unique_viewers: 0, watch_time_seconds: 0, views_per_minute: [] },
  },
  {
    name: 'v2: a sub-second video is capped at its duration and counts when watched whole',
    durationSeconds: 0.75,
    heartbeats: [['s1', null, 100, 1, 0]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 0.75, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'v2: a session issued an hour ago does not lift the duration cap',
    durationSeconds: 30,
    heartbeats: [['s1', null, 1e6, 0, -3600]],
    expected: { views: 1, unique_viewers: 1, watch_time_seconds: 30, views_per_minute: [{ minute: minute(0), views: 1 }] },
  },
  {
    name: 'v2: fractional elapsed time: 1.25 s after the start the cap is 7.5 s',
    durationSeconds: 60,
    heartbeats: [['s1', null, 9, 1.25, 0]],
    expected: { views: 0, unique_viewers: 0, watch_time_seconds: 7.5, views_per_minute: [] },
  },
  {
    name: 'v2: one session with a v1 and a v2 heartbeat: each is judged by its own rule',
    durationSeconds: 60,
    heartbeats: [['s1', null, 8, 1], ['s1', null, 100, 2, 0]],
    expected: { views: 0, unique_viewers: 0, watch_time_seconds: 9, views_per_minute: [] },
  },
  {
    name: 'v2: a signed-in session joined midway belongs to that viewer, as in v1',
    durationSeconds: 60,
    heartbeats: [['s1', null, 5, 5, 0], ['s1', 'u1', 12, 12, 0], ['s2', 'u1', 12, 20, 8]],
    expected: { views: 2, unique_viewers: 1, watch_time_seconds: 24, views_per_minute: [{ minute: minute(0), views: 2 }] },
  },
];

/** Every case of every version: v1's then v2's. */
export const ALL_VIEW_RULE_CASES: readonly ViewRuleCase[] = [...VIEW_RULE_CASES, ...VIEW_RULE_V2_CASES];

/**
 * The heartbeats of a case as rule input (ms timestamps from T0). A heartbeat without a session
 * start gets no `sessionStartedAt` property at all, like an event recorded before v2.
 */
export function caseHeartbeats(c: ViewRuleCase): Heartbeat[] {
  return c.heartbeats.map(([sessionId, viewerId, watchedSeconds, atSeconds, sessionStartSeconds]) => ({
    sessionId, viewerId, watchedSeconds, videoDurationSeconds: c.durationSeconds, viewedAt: VIEW_RULE_CASES_T0 + atSeconds * 1000,
    ...(sessionStartSeconds != null && { sessionStartedAt: VIEW_RULE_CASES_T0 + sessionStartSeconds * 1000 }),
  }));
}
