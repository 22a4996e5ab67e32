/**
 * The table of cases of view rule v1 (docs/view-rule.md): heartbeats of one video and the numbers
 * every read model must derive from them. It lives once, here; the reference fold in
 * view-rule.ts, the key-value view counter (projections/video-detail) and the analytics SQL
 * (projections/analytics, chDB and ClickHouse) are each tested against every row.
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
  /** In delivery order: session, viewer (null when anonymous), cumulative seconds watched, seconds after T0. */
  heartbeats: ReadonlyArray<readonly [session: string, viewer: string | null, watchedSeconds: number, atSeconds: number]>;
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

/** The heartbeats of a case as rule input (ms timestamps from T0). */
export function caseHeartbeats(c: ViewRuleCase): Heartbeat[] {
  return c.heartbeats.map(([sessionId, viewerId, watchedSeconds, atSeconds]) => ({
    sessionId, viewerId, watchedSeconds, videoDurationSeconds: c.durationSeconds, viewedAt: VIEW_RULE_CASES_T0 + atSeconds * 1000,
  }));
}
