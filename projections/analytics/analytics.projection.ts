import pino from 'pino';
import { hashedPseudonyms, type Pseudonyms } from '../../platform/keys/pseudonyms.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { ProjectionBatch, ProjectionNode } from '../../processors/runtime/topology.port.ts';
import type { AnalyticsQueries } from './analytics.port.ts';
import type { AnalyticsStore, EngagementRow, HeartbeatRow } from './analytics-store.port.ts';
import type { PlaybackRow } from './playback.sql.ts';
import type { DomainEvent } from '../../domain/events.ts';

/**
 * How long live heartbeats wait to form one analytics insert, ms, by default (standalone: chDB
 * beside the embedded log). Without it a standalone server under 4,000 heartbeats/s inserted about
 * 60 times a second, 45 rows each, and each insert's part fsyncs slowed the log's own group commit
 * twofold (issue 12). Within the creators' freshness target of 1 s (issue 15). On a ClickHouse
 * server (cluster mode) the operator may set another (STREAMWAVE_CLICKHOUSE_INSERT_WAIT_MS).
 */
export const ANALYTICS_FETCH_WAIT_MS = 200;

/**
 * How many input partitions' batches the projection applies at once (ProjectionNode.partitionsConcurrently).
 * Each batch is inserted into its own table with its own partition's rows and checkpoint (in one
 * INSERT with the other partitions' batches that come with it: sql-analytics-store.ts
 * gatheredInserts), so batches of different partitions are independent; one at a time, a fetch's
 * heartbeat batch and playback batch were inserted one after the other, and the second one's events
 * waited for both (issue 15 freshness: in cluster mode a heartbeat insert took p50 39 ms, a
 * playback insert 57 ms). 12: every partition of the two live topics (views, playback) at the
 * default 6 partitions, so a load over many videos gathers into one insert per table. With 4, a
 * standalone load over 12 videos (`npm run bench:freshness -- --videos 12`) had p99 2.7 s
 * (playback) and 1.2 s (views); with 12, 1.2 s and 0.93 s. With another partition count
 * (STREAMWAVE_TOPIC_PARTITIONS) it stays 12. On the embedded log it also bounds a backlog's
 * or a replay's memory: up to 12 batches of `maxBatchSize` records in flight (each record as
 * bytes, event and row: an estimated 200–300 MB, against about 100 MB with 4); on Kafka the
 * fetch size bounds it.
 */
export const ANALYTICS_PARTITIONS_CONCURRENTLY = 12;

export const ANALYTICS = 'analytics';

/** The fields every playback event shares, as row columns. */
const common = (d: { videoId: string; sessionId: string; positionSeconds: number; at: number }) => ({
  video_id: d.videoId, session_id: d.sessionId, position_seconds: d.positionSeconds, at: d.at,
});

/**
 * The topics whose records become engagement-events rows (likes and comments over time, and
 * channels' subscribers gained and lost, issue 15).
 */
const ENGAGEMENT_TOPICS: ReadonlySet<string> = new Set([TOPICS.likes, TOPICS.comments, TOPICS.subscriptions]);

/** Purpose of the viewer pseudonyms (platform/keys/pseudonyms.ts): one purpose, one column. */
export const ANALYTICS_VIEWER_PURPOSE = 'analytics.viewer';

export interface AnalyticsProjectionDeps {
  store: AnalyticsStore;
  /**
   * Pseudonyms of viewer ids (issue 13): keyedPseudonyms(data keys, ANALYTICS_VIEWER_PURPOSE) in
   * the deployments. Default: hashed pseudonyms (tests and tools without a key store).
   */
  viewerPseudonyms?: Pseudonyms;
  /** The node's `fetchMaxWaitMs`: how long live records wait to form one insert, ms. Default ANALYTICS_FETCH_WAIT_MS. */
  fetchWaitMs?: number;
  logger?: pino.Logger;
}

/**
 * Creator analytics read model: every record of the playback topic (issue 15) becomes one row of
 * the playback-events table, and every record of the views topic one row (a heartbeat, or
 * a skip marker with video_id '' for an undecodable record), inserted once per batch. The
 * checkpoint is the table's own max(offset)+1, so the insert IS the checkpoint commit (playback:
 * the store writes the sessions' running totals first, and takes the lower of the two tables'
 * positions; analytics-store.port.ts). Records of
 * the likes, comments and subscriptions topics become rows of the engagement-events table (engagement.sql.ts:
 * video, kind and time only; no user column). A viewer
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

  /** A record of the likes, comments or subscriptions topic as its row (a skip marker, kind '', when undecodable or unexpected). */
  function engagementRowOf(record: ProjectionBatch['records'][number]['record'], event: DomainEvent | null | undefined): EngagementRow {
    const { topic, partition, offset } = record;
    const row = (video_id: string, kind: EngagementRow['kind'], at: number): EngagementRow => ({ video_id, kind, at, topic, partition, offset });
    switch (event?.type) {
      case 'VideoLiked': return row(event.data.videoId, 'like', event.data.likedAt);
      case 'VideoUnliked': return row(event.data.videoId, 'unlike', event.data.unlikedAt);
      case 'CommentPosted': return row(event.data.videoId, 'comment', event.data.postedAt);
      case 'CommentDeleted': return row(event.data.videoId, 'comment_deleted', event.data.deletedAt);
      // A subscription's subject is the channel (its owner's user id) in the same column.
      case 'ChannelSubscribed': return row(event.data.channelId, 'subscribe', event.data.subscribedAt);
      case 'ChannelUnsubscribed': return row(event.data.channelId, 'unsubscribe', event.data.unsubscribedAt);
      default:
        if (event) logger.warn({ topic, partition, offset, type: event.type }, 'analytics: unexpected event type on a likes, comments or subscriptions topic; stored as a skip marker');
        return row('', '', record.timestamp);
    }
  }

  async function applyBatch(batch: ProjectionBatch): Promise<void> {
    const playback: PlaybackRow[] = [];
    const engagement: EngagementRow[] = [];
    const views = batch.records.filter(({ record, event }) => {
      if (record.topic === TOPICS.playback) playback.push(playbackRowOf(record, event));
      else if (ENGAGEMENT_TOPICS.has(record.topic)) engagement.push(engagementRowOf(record, event));
      else return true;
      return false;
    });
    // One table per kind of topic: each holds its own topics' positions, so its insert is still the
    // checkpoint commit of the records it carries (playback: with the running totals before it).
    if (playback.length) await store.insertPlaybackEvents(playback);
    if (engagement.length) await store.insertEngagementEvents(engagement);
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
    // A rebuild (projections/replay) replays exactly these topics.
    inputs: [TOPICS.views, TOPICS.playback, TOPICS.likes, TOPICS.comments, TOPICS.subscriptions],
    guarantee: 'effectively-once',
    output: 'ClickHouse tables view_heartbeats, playback_events, playback_sessions and engagement_events (and tables materialized views fill from the heartbeats)',
    // ClickHouse wants few large inserts (its docs: batches of at least 1,000 rows, ideally
    // 10,000-100,000); a replay or a backlog fills them, and live heartbeats wait up to
    // `fetchWaitMs` to gather (each insert writes and fsyncs a new part).
    maxBatchSize: 10_000,
    fetchMaxWaitMs: deps.fetchWaitMs ?? ANALYTICS_FETCH_WAIT_MS,
    partitionsConcurrently: ANALYTICS_PARTITIONS_CONCURRENTLY,
    queries: {
      videoAnalytics: (videoId) => store.videoAnalytics(videoId),
      videoInsights: (videoId, query) => store.videoInsights(videoId, query),
      channelAnalytics: (channelId, videoIds, query) => store.channelAnalytics(channelId, videoIds, query),
    },
    loadCheckpoint: () => store.checkpoint(),
    onAssigned: () => store.forgetRunningTotals(),
    apply: applyBatch,
    close: () => store.close(),
  };
}
