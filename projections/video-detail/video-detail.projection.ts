import pino from 'pino';
import type { DomainEvent, RenditionInfo } from '../../domain/events.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { assertNever } from '../../domain/shared/event.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import type {
  CommentView, UserAccount, VideoDetail, VideoQueries, WatchHistoryEntry,
} from '../read-model.port.ts';
import { InvalidCursorError } from '../read-model.port.ts';
import type { Projection } from '../projection.port.ts';
import { projectionGroupId } from '../projection.port.ts';
import { createAppliedTracker, createProjectionLifecycle, type ProjectionBatch } from '../projection-runner.ts';
import type { JsonValue, KeyValueOp, KeyValueStore } from '../stores/key-value-store.port.ts';
import { KeyValueStoreError } from '../stores/key-value-store.port.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { foldHeartbeat, type SessionViewState } from '../view-rule.ts';

/**
 * Max entries of a user's watch history. The seed system kept an unbounded history table that
 * grew to 300 GB; the read model keeps the newest 200 videos per user and evicts the oldest.
 */
export const WATCH_HISTORY_CAP = 200;

export const VIDEO_DETAIL_PROJECTION = 'video-detail';

/**
 * Key layout (ids are URI-encoded so a `:` inside an id cannot break a prefix):
 * - `video:<videoId>` → VideoDetail without the counters
 * - `stats:<videoId>` → { views, commentCount } (kept apart so view/comment partitions never race
 *   the video's own partition, and maps to Redis HINCRBY later)
 * - `upload:<uploadId>` → videoId
 * - `user-video:<ownerId>:<createdAt, 15 digits>:<videoId>` → videoId (newest last)
 * - `comment:<videoId>:<postedAt, 15 digits>:<commentId>` → CommentView (scanned in reverse)
 * - `view-session:<videoId>:<sessionId>` → SessionViewState (view rule v1)
 * - `history:<userId>` → WatchHistoryEntry[] (newest first, ≤ WATCH_HISTORY_CAP)
 * - `user:<userId>` → UserAccount; `username:<lowercased username>` → UserAccount
 */
const enc = encodeURIComponent;
const pad = (n: number) => String(Math.max(0, Math.floor(n))).padStart(15, '0');
export const videoDetailKeys = {
  video: (videoId: string) => `video:${enc(videoId)}`,
  stats: (videoId: string) => `stats:${enc(videoId)}`,
  upload: (uploadId: string) => `upload:${enc(uploadId)}`,
  userVideoPrefix: (ownerId: string) => `user-video:${enc(ownerId)}:`,
  userVideo: (ownerId: string, createdAt: number, videoId: string) => `user-video:${enc(ownerId)}:${pad(createdAt)}:${enc(videoId)}`,
  commentPrefix: (videoId: string) => `comment:${enc(videoId)}:`,
  comment: (videoId: string, postedAt: number, commentId: string) => `comment:${enc(videoId)}:${pad(postedAt)}:${enc(commentId)}`,
  viewSession: (videoId: string, sessionId: string) => `view-session:${enc(videoId)}:${enc(sessionId)}`,
  history: (userId: string) => `history:${enc(userId)}`,
  user: (userId: string) => `user:${enc(userId)}`,
  username: (username: string) => `username:${enc(username.toLowerCase())}`,
};

const keys = videoDetailKeys;

type StoredVideo = Omit<VideoDetail, 'views' | 'commentCount'>;
interface VideoStats { views: number; commentCount: number }

export interface VideoDetailProjectionDeps {
  /** The projection's own store (its checkpoint lives there too). */
  store: KeyValueStore;
  codec: EventCodec;
  logger?: pino.Logger;
  /** Max records per batch (one store commit per batch). Default 500. */
  maxBatchSize?: number;
}

/**
 * Video detail read model (key-value). Consumes users, videos, comments and views; serves
 * `VideoQueries`. Each batch becomes one `store.commit(ops, checkpoint)`.
 */
export function createVideoDetailProjection(deps: VideoDetailProjectionDeps): Projection<VideoQueries> {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const { store } = deps;
  const topics = [TOPICS.users, TOPICS.videos, TOPICS.comments, TOPICS.views];
  const groupId = projectionGroupId(VIDEO_DETAIL_PROJECTION);
  const tracker = createAppliedTracker(topics);

  async function applyBatch(batch: ProjectionBatch): Promise<void> {
    const tx = createOverlay(store);
    for (const { record, event } of batch.records) {
      if (!event) continue;
      try {
        await applyEvent(tx, event);
      } catch (err) {
        // Store failures redeliver the batch; a malformed event (schema drift) must not wedge the
        // partition, so it is logged and the rest of the batch applies.
        if (err instanceof KeyValueStoreError) throw err;
        logger.error({ err, topic: record.topic, partition: record.partition, offset: record.offset, type: event.type }, 'video-detail: event not applied');
      }
    }
    await store.commit(tx.ops(), batch.checkpoint);
  }

  async function applyEvent(tx: Overlay, e: DomainEvent): Promise<void> {
    switch (e.type) {
      case 'UserRegistered': {
        const d = e.data;
        const account: UserAccount = { userId: d.userId, username: d.username, email: d.email, passwordHash: d.passwordHash };
        tx.put(keys.user(d.userId), account as unknown as JsonValue);
        // First registration of a username wins (the decider rejects duplicates; this guards a race across partitions).
        const existing = await tx.get<UserAccount>(keys.username(d.username));
        if (!existing || existing.userId === d.userId) tx.put(keys.username(d.username), account as unknown as JsonValue);
        return;
      }
      case 'UploadStarted': {
        const d = e.data;
        if (await tx.get(keys.video(d.videoId))) return;
        const v: StoredVideo = {
          videoId: d.videoId, ownerId: d.ownerId, title: d.title, description: d.description, tags: [...d.tags],
          status: 'pending_upload', progress: 0, renditions: [], plannedRenditions: 0, omittedRenditions: [], error: null, errorCode: null,
          uploadId: d.uploadId, filename: d.filename, sizeBytes: d.sizeBytes, durationSeconds: null,
          masterPlaylistKey: null, thumbnailKey: null, createdAt: d.startedAt, publishedAt: null, updatedAt: d.startedAt,
        };
        tx.put(keys.video(d.videoId), v as unknown as JsonValue);
        tx.put(keys.upload(d.uploadId), d.videoId);
        tx.put(keys.userVideo(d.ownerId, d.startedAt, d.videoId), d.videoId);
        return;
      }
      case 'UploadCompleted':
        return updateVideo(tx, e.data.videoId, e.data.completedAt, (v) => {
          v.sizeBytes = e.data.sizeBytes;
          if (v.status === 'pending_upload') v.status = 'uploaded';
        });
      case 'VideoProcessingStarted':
        return updateVideo(tx, e.data.videoId, e.data.startedAt, (v) => {
          v.plannedRenditions = e.data.ladder.length;
          v.durationSeconds = e.data.durationSeconds;
          if (v.status !== 'ready') { v.status = 'processing'; v.error = null; v.errorCode = null; }
          completeIfLadderDone(v);
        });
      case 'VideoProcessingProgressed':
        return updateVideo(tx, e.data.videoId, e.data.at, (v) => {
          const p = Number.isFinite(e.data.progress) ? Math.min(100, Math.max(0, e.data.progress)) : 0;
          // Progress never goes down (reports can be reordered/retried), and 100 means "whole ladder
          // encoded": a transcoder report of 100 can precede the last RenditionEncoded events.
          const ladderDone = v.plannedRenditions > 0 && v.renditions.length >= v.plannedRenditions;
          v.progress = Math.max(v.progress, ladderDone ? p : Math.min(p, 99));
        });
      case 'RenditionEncoded':
        return updateVideo(tx, e.data.videoId, e.data.at, (v) => {
          v.renditions = upsertRendition(v.renditions, e.data.rendition);
          // A redelivered transcoder job may encode a rung an earlier run omitted.
          v.omittedRenditions = (v.omittedRenditions ?? []).filter((o) => o.name !== e.data.rendition.name);
          completeIfLadderDone(v);
        });
      case 'VideoPublished':
        return updateVideo(tx, e.data.videoId, e.data.publishedAt, (v) => {
          v.status = 'ready';
          v.masterPlaylistKey = e.data.masterPlaylistKey;
          v.thumbnailKey = e.data.thumbnailKey;
          v.durationSeconds = e.data.durationSeconds;
          v.publishedAt = e.data.publishedAt;
          completeIfLadderDone(v);
        });
      case 'VideoProcessingFailed':
        return updateVideo(tx, e.data.videoId, e.data.failedAt, (v) => {
          v.error = e.data.reason;
          v.errorCode = e.data.code;
          // A published video stays playable (its encoded renditions are served); the error is still shown.
          if (v.status !== 'ready') v.status = 'failed';
        });
      case 'VideoProcessingCompleted':
        return updateVideo(tx, e.data.videoId, e.data.completedAt, (v) => {
          // The end of processing: 100 even when higher rungs failed for good (the ladder stays short).
          v.progress = 100;
          v.omittedRenditions = e.data.omitted.map((o) => ({ name: o.name, reason: o.reason }));
        });
      case 'VideoMetadataUpdated':
        return updateVideo(tx, e.data.videoId, e.data.updatedAt, (v) => {
          if (e.data.title != null) v.title = e.data.title;
          if (e.data.description != null) v.description = e.data.description;
          if (e.data.tags != null) v.tags = [...e.data.tags];
        });
      case 'VideoDeleted': {
        const v = await tx.get<StoredVideo>(keys.video(e.data.videoId));
        if (!v) return;
        v.status = 'deleted';
        v.updatedAt = e.data.deletedAt;
        tx.put(keys.video(v.videoId), v as unknown as JsonValue);
        // Gone from the owner's list; the detail stays (status deleted) so reads can answer 404/410.
        tx.del(keys.userVideo(v.ownerId, v.createdAt, v.videoId));
        return;
      }
      case 'CommentPosted': {
        const d = e.data;
        const key = keys.comment(d.videoId, d.postedAt, d.commentId);
        if (await tx.get(key)) return; // the same comment event twice (e.g. a producer retry) counts once
        const c: CommentView = { commentId: d.commentId, videoId: d.videoId, authorId: d.authorId, parentId: d.parentId ?? null, body: d.body, postedAt: d.postedAt };
        tx.put(key, c as unknown as JsonValue);
        const stats = await getStats(tx, d.videoId);
        stats.commentCount++;
        tx.put(keys.stats(d.videoId), stats as unknown as JsonValue);
        return;
      }
      case 'VideoViewed': {
        const d = e.data;
        const sKey = keys.viewSession(d.videoId, d.sessionId);
        const prev = await tx.get<SessionViewState>(sKey);
        const { state, newView } = foldHeartbeat(prev, d);
        tx.put(sKey, state as unknown as JsonValue);
        if (newView) {
          const stats = await getStats(tx, d.videoId);
          stats.views++;
          tx.put(keys.stats(d.videoId), stats as unknown as JsonValue);
        }
        if (d.viewerId) {
          const hKey = keys.history(d.viewerId);
          const history = (await tx.get<WatchHistoryEntry[]>(hKey)) ?? [];
          tx.put(hKey, addToHistory(history, { videoId: d.videoId, watchedAt: d.viewedAt, positionSeconds: d.positionSeconds }) as unknown as JsonValue);
        }
        return;
      }
      default:
        return assertNever(e);
    }
  }

  async function updateVideo(tx: Overlay, videoId: string, at: number, mutate: (v: StoredVideo) => void): Promise<void> {
    const v = await tx.get<StoredVideo>(keys.video(videoId));
    if (!v) {
      logger.warn({ videoId }, 'video-detail: event for an unknown video ignored');
      return;
    }
    if (v.status === 'deleted') return; // terminal
    mutate(v);
    v.updatedAt = Math.max(v.updatedAt, at);
    tx.put(keys.video(videoId), v as unknown as JsonValue);
  }

  const getStats = async (tx: Overlay, videoId: string): Promise<VideoStats> =>
    (await tx.get<VideoStats>(keys.stats(videoId))) ?? { views: 0, commentCount: 0 };

  const withStats = async (videos: (StoredVideo | undefined)[]): Promise<(VideoDetail | undefined)[]> => {
    const stats = await store.getMany<VideoStats>(videos.map((v) => (v ? keys.stats(v.videoId) : '')));
    return videos.map((v, i) => (v
      ? {
        ...v,
        // Stored before omittedRenditions existed.
        omittedRenditions: v.omittedRenditions ?? [],
        views: stats[i]?.views ?? 0,
        commentCount: stats[i]?.commentCount ?? 0,
      }
      : undefined));
  };

  const queries: VideoQueries = {
    async getVideo(videoId) {
      return (await withStats([await store.get<StoredVideo>(keys.video(videoId))]))[0];
    },
    async getVideoByUploadId(uploadId) {
      const videoId = await store.get<string>(keys.upload(uploadId));
      return videoId === undefined ? undefined : queries.getVideo(videoId);
    },
    async listUserVideos(ownerId) {
      const ids: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await store.scan<string>(keys.userVideoPrefix(ownerId), { reverse: true, limit: 500, after });
        ids.push(...page.map((p) => p.value));
        if (page.length < 500) break;
        after = page[page.length - 1].key;
      }
      const videos = await store.getMany<StoredVideo>(ids.map(keys.video));
      return (await withStats(videos)).filter((v): v is VideoDetail => !!v);
    },
    async listComments(videoId, limit, cursor) {
      const prefix = keys.commentPrefix(videoId);
      let after: string | undefined;
      if (cursor !== undefined) {
        const c = decodeCursor<{ k?: unknown }>(cursor);
        if (typeof c.k !== 'string' || !c.k.startsWith(prefix)) throw new InvalidCursorError('cursor does not belong to this video');
        after = c.k;
      }
      const n = Math.min(1000, Math.max(1, Math.floor(limit) || 1));
      const page = await store.scan<CommentView>(prefix, { reverse: true, limit: n + 1, after });
      const comments = page.slice(0, n);
      return {
        comments: comments.map((p) => p.value),
        nextCursor: page.length > n ? encodeCursor({ k: comments[comments.length - 1].key }) : null,
      };
    },
    async getWatchHistory(userId) {
      return (await store.get<WatchHistoryEntry[]>(keys.history(userId))) ?? [];
    },
    async findUserByUsername(username) {
      return store.get<UserAccount>(keys.username(username));
    },
  };

  return {
    name: VIDEO_DETAIL_PROJECTION,
    groupId,
    topics,
    queries,
    ...createProjectionLifecycle({
      name: VIDEO_DETAIL_PROJECTION, tracker, groupId, topics, codec: deps.codec, logger, maxBatchSize: deps.maxBatchSize,
      loadCheckpoint: () => store.checkpoint(),
      apply: applyBatch,
      release: () => store.close(),
    }),
  };
}

/** Rendition list with `r` added or replaced (by name), lowest bandwidth first. */
function upsertRendition(list: RenditionInfo[], r: RenditionInfo): RenditionInfo[] {
  return [...list.filter((x) => x.name !== r.name), r].sort((a, b) => a.bandwidth - b.bandwidth || a.height - b.height);
}

function completeIfLadderDone(v: StoredVideo): void {
  if (v.plannedRenditions > 0 && v.renditions.length >= v.plannedRenditions) v.progress = 100;
}

/**
 * Watch history with `entry` on top: one entry per video (the latest heartbeat wins), newest
 * first, at most WATCH_HISTORY_CAP entries (the oldest are evicted).
 */
export function addToHistory(history: WatchHistoryEntry[], entry: WatchHistoryEntry): WatchHistoryEntry[] {
  const existing = history.find((h) => h.videoId === entry.videoId);
  if (existing && existing.watchedAt > entry.watchedAt) return history; // a stale, reordered heartbeat
  return [entry, ...history.filter((h) => h.videoId !== entry.videoId)]
    .sort((a, b) => b.watchedAt - a.watchedAt)
    .slice(0, WATCH_HISTORY_CAP);
}

/** Read-through write buffer over the store for one batch: reads see the batch's own writes. */
interface Overlay {
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: JsonValue): void;
  del(key: string): void;
  ops(): KeyValueOp[];
}

function createOverlay(store: KeyValueStore): Overlay {
  const pending = new Map<string, { value: JsonValue } | null>();
  return {
    async get<T>(key: string) {
      const p = pending.get(key);
      if (p === null) return undefined;
      if (p) return p.value as T;
      return store.get<T>(key);
    },
    put(key, value) { pending.set(key, { value }); },
    del(key) { pending.set(key, null); },
    ops() {
      return [...pending].map(([key, p]): KeyValueOp => (p ? { op: 'put', key, value: p.value } : { op: 'delete', key }));
    },
  };
}
