/** Query port of creator analytics (ClickHouse in cluster mode, chDB in standalone mode). */
import type { ViewSummary } from '../../domain/view/view-rule.ts';

/**
 * Analytics of one video under the view rule (v2; v1 for heartbeats recorded before it; docs/view-rule.md): `views`, `unique_viewers`,
 * `watch_time_seconds` (seconds) and `views_per_minute` (`minute` ISO 8601 UTC at minute precision,
 * e.g. `2026-11-24T10:15:00Z`, ascending).
 */
export type VideoAnalytics = ViewSummary;

export interface AnalyticsQueries {
  videoAnalytics(videoId: string): Promise<VideoAnalytics>;
}
