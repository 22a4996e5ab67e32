import pino from 'pino';
import { hashedPseudonyms, type Pseudonyms } from '../../platform/keys/pseudonyms.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { ProjectionBatch, ProjectionNode } from '../../processors/runtime/topology.port.ts';
import type { AnalyticsQueries } from './analytics.port.ts';
import type { AnalyticsStore, HeartbeatRow } from './analytics-store.port.ts';
import type { PlaybackRow } from './playback.sql.ts';
import type { DomainEvent } from '../../domain/events.ts';

/**
 * How long live heartbeats wait to form one analytics insert, ms. Without it a standalone server
 * under 4,000 heartbeats/s inserted about 60 times a second, 45 rows each, and each insert's part
 * fsyncs slowed the log's own group commit twofold (issue 12). Well within the creators' freshness
 * target of 1 s (issue 15).
 */
export const ANALYTICS_FETCH_WAIT_MS = 200;

export const ANALYTICS = 'analytics';

/** The fields every playback event shares, as row columns. */
const common = (d: { videoId: string; sessionId: string; positionSeconds: number; at: number }) => ({
  video_id: d.videoId, session_id: d.sessionId, position_seconds: d.positionSeconds, at: d.at,
});

/** Purpose of the viewer pseudonyms (platform/keys/pseudonyms.ts): one purpose, one column. */
export const ANALYTICS_VIEWER_PURPOSE = 'analytics.viewer';

export interface AnalyticsProjectionDeps {
  store: AnalyticsStore;
  /**
   * Pseudonyms of viewer ids (issue 13): keyedPseudonyms(data keys, ANALYTICS_VIEWER_PURPOSE) in
   * the deployments. Default: hashed pseudonyms (tests and tools without a key store).
   */
  viewerPseudonyms?: Pseudonyms;
  logger?: pino.Logger;
}

/**
 * Creator analytics read model: every record of the playback topic (issue 15) becomes one row of
 * the playback-events table, and every record of the views topic one row (a heartbeat, or
 * a skip marker with video_id '' for an undecodable record), inserted once per batch. The
 * checkpoint is the table's own max(offset)+1, so the insert IS the checkpoint commit. A viewer
 * is stored as a pseudonym, never as the user id (issue 13): unique viewers stay exact, and an
 * erasure (which deletes the data key the pseudonym is keyed with) unlinks the user's rows.
 * Serves `AnalyticsQueries` (view rule v2; v1 for heartbeats without a session start).
 */
export function createAnalyticsProjection(deps: AnalyticsProjectionDeps): ProjectionNode<AnalyticsQueries> {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const { store } = deps;
  const pseudonyms = deps.viewerPseudonyms ?? hashedPseudonyms(ANALYTICS_VIEWER_PURPOSE);

  /** viewer id → pseudonym for the viewers of one batch (a replay batch holds few viewers, many heartbeats). */
  async function viewersOf(batch: ProjectionBatch): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const { event } of batch.records) {
      const id = event?.type === 'VideoViewed' ? event.data.viewerId : null;
      if (id && !out.has(id)) out.set(id, await pseudonyms.of(id));
    }
    return out;
  }

  /** A record of the playback topic as its row (a skip marker, type '', when undecodable or unexpected). */
  function playbackRowOf(record: ProjectionBatch['records'][number]['record'], event: DomainEvent | null | undefined): PlaybackRow {
    const { topic, partition, offset } = record;
    const row: PlaybackRow = {
      video_id: '', session_id: '', type: '', position_seconds: 0, startup_time_ms: null, rendition_height: null, rebuffer_ms: null, error_code: '',
      at: record.timestamp, topic, partition, offset,
    };
    switch (event?.type) {
      case 'PlaybackStarted': return { ...row, ...common(event.data), type: event.type, startup_time_ms: event.data.startupTimeMs, rendition_height: event.data.renditionHeight };
      case 'RenditionSwitched': return { ...row, ...common(event.data), type: event.type, rendition_height: event.data.renditionHeight };
      case 'RebufferEnded': return { ...row, ...common(event.data), type: event.type, rebuffer_ms: event.data.rebufferMs };
      case 'PlaybackFailed': return { ...row, ...common(event.data), type: event.type, error_code: event.data.errorCode };
      case 'RebufferStarted':
      case 'PlaybackEnded': return { ...row, ...common(event.data), type: event.type };
      default:
        if (event) logger.warn({ topic, partition, offset, type: event.type }, 'analytics: unexpected event type on the playback topic; stored as a skip marker');
        return row;
    }
  }

  async function applyBatch(batch: ProjectionBatch): Promise<void> {
    const playback: PlaybackRow[] = [];
    const views = batch.records.filter(({ record, event }) => {
      if (record.topic !== TOPICS.playback) return true;
      playback.push(playbackRowOf(record, event));
      return false;
    });
    // Two tables, two inserts: each holds its own topic's positions, so each insert is still the
    // checkpoint commit of the records it carries.
    if (playback.length) await store.insertPlaybackEvents(playback);
    if (views.length) await applyHeartbeats({ ...batch, records: views });
  }

  async function applyHeartbeats(batch: ProjectionBatch): Promise<void> {
    const viewers = await viewersOf(batch);
    const rows: HeartbeatRow[] = batch.records.map(({ record, event }) => {
      const { topic, partition, offset } = record;
      if (event?.type === 'VideoViewed') {
        const d = event.data;
        return {
          video_id: d.videoId, session_id: d.sessionId, viewer_id: d.viewerId ? viewers.get(d.viewerId)! : '', watched_seconds: d.watchedSeconds,
          video_duration_seconds: d.videoDurationSeconds, viewed_at: d.viewedAt, session_started_at: d.sessionStartedAt ?? null, topic, partition, offset,
        };
      }
      if (event) logger.warn({ topic, partition, offset, type: event.type }, 'analytics: unexpected event type on the views topic; stored as a skip marker');
      return { video_id: '', session_id: '', viewer_id: '', watched_seconds: 0, video_duration_seconds: 0, viewed_at: record.timestamp, topic, partition, offset };
    });
    await store.insertHeartbeats(rows);
  }

  return {
    kind: 'projection',
    name: ANALYTICS,
    inputs: [TOPICS.views, TOPICS.playback],
    guarantee: 'effectively-once',
    output: 'ClickHouse tables view_heartbeats and playback_events',
    // ClickHouse wants few large inserts (its docs: batches of at least 1,000 rows, ideally
    // 10,000-100,000); a replay or a backlog fills them, and live heartbeats wait up to
    // ANALYTICS_FETCH_WAIT_MS to gather (each insert writes and fsyncs a new part).
    maxBatchSize: 10_000,
    fetchMaxWaitMs: ANALYTICS_FETCH_WAIT_MS,
    queries: {
      videoAnalytics: (videoId) => store.videoAnalytics(videoId),
      videoInsights: (videoId, query) => store.videoInsights(videoId, query),
      channelAnalytics: (videoIds, query) => store.channelAnalytics(videoIds, query),
    },
    loadCheckpoint: () => store.checkpoint(),
    apply: applyBatch,
    close: () => store.close(),
  };
}
