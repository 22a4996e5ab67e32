import pino from 'pino';
import { TOPICS } from '../../schemas/topics.ts';
import type { ProjectionBatch, ProjectionNode } from '../../processors/runtime/topology.port.ts';
import type { AnalyticsQueries } from './analytics.port.ts';
import type { AnalyticsStore, HeartbeatRow } from './analytics-store.port.ts';

/**
 * How long live heartbeats wait to form one analytics insert, ms. Without it a standalone server
 * under 4,000 heartbeats/s inserted about 60 times a second, 45 rows each, and each insert's part
 * fsyncs slowed the log's own group commit twofold (issue 12). Well within the creators' freshness
 * target of 1 s (issue 15).
 */
export const ANALYTICS_FETCH_WAIT_MS = 200;

export const ANALYTICS = 'analytics';

export interface AnalyticsProjectionDeps {
  store: AnalyticsStore;
  logger?: pino.Logger;
}

/**
 * Creator analytics read model: every record of the views topic becomes one row (a heartbeat, or
 * a skip marker with video_id '' for an undecodable record), inserted once per batch. The
 * checkpoint is the table's own max(offset)+1, so the insert IS the checkpoint commit.
 * Serves `AnalyticsQueries` (view rule v2; v1 for heartbeats without a session start).
 */
export function createAnalyticsProjection(deps: AnalyticsProjectionDeps): ProjectionNode<AnalyticsQueries> {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const { store } = deps;

  async function applyBatch(batch: ProjectionBatch): Promise<void> {
    const rows: HeartbeatRow[] = batch.records.map(({ record, event }) => {
      const pos = { topic: record.topic, partition: record.partition, offset: record.offset };
      if (event?.type === 'VideoViewed') {
        const d = event.data;
        return {
          video_id: d.videoId, session_id: d.sessionId, viewer_id: d.viewerId ?? '', watched_seconds: d.watchedSeconds,
          video_duration_seconds: d.videoDurationSeconds, viewed_at: d.viewedAt, session_started_at: d.sessionStartedAt ?? null, ...pos,
        };
      }
      if (event) logger.warn({ ...pos, type: event.type }, 'analytics: unexpected event type on the views topic; stored as a skip marker');
      return { video_id: '', session_id: '', viewer_id: '', watched_seconds: 0, video_duration_seconds: 0, viewed_at: record.timestamp, ...pos };
    });
    await store.insertHeartbeats(rows);
  }

  return {
    kind: 'projection',
    name: ANALYTICS,
    inputs: [TOPICS.views],
    guarantee: 'effectively-once',
    output: 'ClickHouse table view_heartbeats',
    // ClickHouse wants few large inserts (its docs: batches of at least 1,000 rows, ideally
    // 10,000-100,000); a replay or a backlog fills them, and live heartbeats wait up to
    // ANALYTICS_FETCH_WAIT_MS to gather (each insert writes and fsyncs a new part).
    maxBatchSize: 10_000,
    fetchMaxWaitMs: ANALYTICS_FETCH_WAIT_MS,
    queries: { videoAnalytics: (videoId) => store.videoAnalytics(videoId) },
    loadCheckpoint: () => store.checkpoint(),
    apply: applyBatch,
    close: () => store.close(),
  };
}
