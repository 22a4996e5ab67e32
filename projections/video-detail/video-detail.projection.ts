/**
 * The video-detail read model: one document per video built from the videos topic, plus its
 * counters — views under view rule v2 (docs/view-rule.md; from the views topic), comments (from the comments
 * topic) and likes (from the likes topic, issue 14). Serves VideoDetailQueries.
 *
 * Key layout (ids URI-encoded so a `:` inside an id cannot break a prefix):
 * - `video:<videoId>` → the video without its counters
 * - `stats:<videoId>` → `{ views, commentCount, likes? }` (likes absent before issue 14: 0; kept apart so the views and comments partitions
 *   never race the video's own partition; a Redis hash with HINCRBY later)
 * - `upload:<uploadId>` → videoId
 * - `user-video:<ownerId>:<createdAt, 15 digits>:<videoId>` → videoId (newest last)
 * - `view-session:<videoId>:<sessionId>` → the session's fold state under the view rule, with
 *   `lastSeen`, the last heartbeat time (event time, ms), for a signed session (heartbeats with
 *   `sessionStartedAt`, issue 8): one read and one write per heartbeat (issue 12; layout 5 kept
 *   the time under a key of its own).
 * - `view-session-expiry:<videoId>:<bucket, 15 digits>:<sessionId>` → true: the expiry index of
 *   signed sessions, by the EXPIRY_BUCKET_MS bucket of their last heartbeat, so that an entry moves
 *   once per bucket rather than at every heartbeat. A signed session's state is dropped once
 *   SESSION_STATE_HORIZON_MS have passed since the end of its bucket (so 48–48 h 10 min after its
 *   last heartbeat), swept by later heartbeats of the same video from the committed index (a
 *   replay in big batches leaves some for later heartbeats to sweep; the counts never depend on
 *   it, see the VideoViewed case). Sessions of heartbeats recorded before signed sessions
 *   (sessionStartedAt null) are a finite legacy set and are kept.
 * - `trend:…`, `trend-rank:…`: the trending ranking of counted views (trending.ts, issue 14; layout 7)
 * - `counted-comment:<videoId>:<commentId>` → true while counted, `deleted` once deleted (each event counts once)
 * - likes (issue 14), a membership index (stores/membership-index.ts): `liker:<videoId>:<userId>`
 *   → true while the like stands, `user-like:<userId>:<videoId>` → its time (ms), the count in
 *   `stats:`; `erased-user:<userId>` → true once the user is erased (UserErased, from the users
 *   topic): their likes leave the counts.
 * Adding the likes and users topics needed no rebuild: a store without a checkpoint on a topic
 * reads it from offset 0.
 */
import { deepFreeze } from '../../domain/shared/deep-freeze.ts';
import pino from 'pino';
import { LRUCache } from 'lru-cache';
import type { DomainEvent } from '../../domain/events.ts';
import { assertNever } from '../../domain/shared/event.ts';
import { evolveCaptions } from '../../domain/video/captions.decider.ts';
import { DEFAULT_VISIBILITY } from '../../domain/video/video-visibility.ts';
import { foldHeartbeat, type SessionViewState } from '../../domain/view/view-rule.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { createKeyValueProjection, type KeyValueBatch } from '../stores/key-value-projection.ts';
import { membershipIndex } from '../stores/membership-index.ts';
import { countTrendingView, readTrending, removeFromTrending, scoreKey } from './trending.ts';
import { sessionExpirySweep } from './session-expiry-sweep.ts';
import { parseStoredJson, type KeyValueStore } from '../stores/key-value-store.port.ts';
import type { VideoDetail, VideoDetailQueries, VideoRendition } from './video-detail.port.ts';

export const VIDEO_DETAIL = 'video-detail';
/** Version of the key layout above; bump it when the layout changes, so a store of another layout is rebuilt from the log. */
export const VIDEO_DETAIL_LAYOUT_VERSION = 7;

/**
 * How long a signed session's view-rule state is kept after its last heartbeat, ms (event time):
 * 48 h (issue 8). Longer than the longest playback session (STREAMWAVE_PLAYBACK_SESSION_TTL_SECONDS
 * ≤ 24 h), so no accepted heartbeat can find its session expired.
 */
export const SESSION_STATE_HORIZON_MS = 48 * 3600_000;
/** Width of a bucket of the sessions' expiry index, ms (event time): 10 min. */
export const EXPIRY_BUCKET_MS = 600_000;
/** Expired sessions dropped per heartbeat at most (bounds the work of one event). */
const SWEEP_LIMIT = 32;

const enc = encodeURIComponent;
const pad = (n: number) => String(Math.max(0, Math.floor(n))).padStart(15, '0');
const keys = {
  video: (videoId: string) => `video:${enc(videoId)}`,
  stats: (videoId: string) => `stats:${enc(videoId)}`,
  upload: (uploadId: string) => `upload:${enc(uploadId)}`,
  userVideoPrefix: (ownerId: string) => `user-video:${enc(ownerId)}:`,
  userVideo: (ownerId: string, createdAt: number, videoId: string) => `user-video:${enc(ownerId)}:${pad(createdAt)}:${enc(videoId)}`,
  viewSession: (videoId: string, sessionId: string) => `view-session:${enc(videoId)}:${enc(sessionId)}`,
  viewSessionExpiryPrefix: (videoId: string) => `view-session-expiry:${enc(videoId)}:`,
  viewSessionExpiry: (videoId: string, bucket: number, sessionId: string) => `view-session-expiry:${enc(videoId)}:${pad(bucket)}:${enc(sessionId)}`,
  countedComment: (videoId: string, commentId: string) => `counted-comment:${enc(videoId)}:${enc(commentId)}`,
  erasedUser: (userId: string) => `erased-user:${enc(userId)}`,
};

type StoredVideo = Omit<VideoDetail, 'views' | 'commentCount' | 'likeCount'>;
/** A session's stored state: its fold state, and for a signed session the last heartbeat time (ms, event time). */
type StoredSession = SessionViewState & { lastSeen?: number };
/** Start of the expiry bucket of a heartbeat at `at` (ms). */
const bucketOf = (at: number): number => at - (at % EXPIRY_BUCKET_MS);

/**
 * Video documents `getVideo` keeps derived (the oldest goes first), per read-model instance: the
 * hot set of a gateway. A document is a few KB (up to ~40 KB with the longest description), held
 * with its stored text and, in the gateway, its serialised body.
 */
export const DETAIL_MEMO_ENTRIES = 1_024;

interface VideoStats { views: number; commentCount: number; likes?: number }


/** The stored JSON `json` of `key`, parsed. @throws KeyValueStoreError STORE_CORRUPT when it is not JSON */
const parseStored = <T>(key: string, json: string): T => parseStoredJson<T>('video-detail', key, json);

export interface VideoDetailProjectionDeps {
  /** The read model's own store (its checkpoint lives there too). */
  store: KeyValueStore;
  logger?: pino.Logger;
}

/** The video-detail projection node (see the file comment). */
export function createVideoDetailProjection(deps: VideoDetailProjectionDeps): ProjectionNode<VideoDetailQueries> {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const { store } = deps;

  async function applyEvent(tx: KeyValueBatch, e: DomainEvent): Promise<void> {
    switch (e.type) {
      case 'UploadStarted': {
        const d = e.data;
        if (await tx.get(keys.video(d.videoId))) return;
        const v: StoredVideo = {
          videoId: d.videoId, ownerId: d.ownerId, title: d.title, description: d.description, tags: [...d.tags],
          status: 'pending_upload', visibility: d.visibility ?? DEFAULT_VISIBILITY, progress: 0, renditions: [], plannedRenditions: 0, omittedRenditions: [], error: null, errorCode: null,
          uploadId: d.uploadId, filename: d.filename, sizeBytes: d.sizeBytes, durationSeconds: null,
          masterPlaylistKey: null, thumbnailKey: null, createdAt: d.startedAt, publishedAt: null, updatedAt: d.startedAt,
        };
        tx.put(keys.video(d.videoId), v);
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
          v.progress = Math.max(v.progress, ladderDone(v) ? p : Math.min(p, 99));
        });
      case 'RenditionEncoded':
        return updateVideo(tx, e.data.videoId, e.data.at, (v) => {
          v.renditions = upsertRendition(v.renditions, { ...e.data.rendition, complete: true });
          // A redelivered transcoder job may encode a rung an earlier run omitted.
          v.omittedRenditions = v.omittedRenditions.filter((o) => o.name !== e.data.rendition.name);
          completeIfLadderDone(v);
        });
      case 'VideoPublished':
        return updateVideo(tx, e.data.videoId, e.data.publishedAt, (v) => {
          v.status = 'ready';
          v.masterPlaylistKey = e.data.masterPlaylistKey;
          // A custom thumbnail set before publication stays (issue 15).
          v.thumbnailKey = v.customThumbnailKey ?? e.data.thumbnailKey;
          v.durationSeconds = e.data.durationSeconds;
          v.publishedAt = e.data.publishedAt;
          // Progressive publishing (ADR 0007): the master lists rungs still being encoded.
          for (const r of e.data.renditions ?? []) {
            if (!v.renditions.some((x) => x.name === r.name)) v.renditions = upsertRendition(v.renditions, { ...r, complete: false });
          }
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
          // The final master: a rung listed while growing and then omitted is gone from it.
          v.renditions = v.renditions.filter((r) => e.data.renditions.includes(r.name));
          if (e.data.durationSeconds != null) v.durationSeconds = e.data.durationSeconds;
        });
      case 'StoryboardGenerated':
        return updateVideo(tx, e.data.videoId, e.data.generatedAt, (v) => {
          v.storyboardKey = e.data.storyboardKey;
        });
      case 'CustomThumbnailSet':
        return updateVideo(tx, e.data.videoId, e.data.setAt, (v) => {
          v.customThumbnailKey = e.data.key;
          v.thumbnailKey = e.data.key;
        });
      case 'VideoMetadataUpdated':
        return updateVideo(tx, e.data.videoId, e.data.updatedAt, (v) => {
          if (e.data.title != null) v.title = e.data.title;
          if (e.data.description != null) v.description = e.data.description;
          if (e.data.tags != null) v.tags = [...e.data.tags];
          if (e.data.visibility != null) v.visibility = e.data.visibility;
        });
      case 'CaptionsPublished':
      case 'CaptionsRemoved':
        return updateVideo(tx, e.data.videoId, e.type === 'CaptionsPublished' ? e.data.publishedAt : e.data.removedAt, (v) => {
          v.captions = evolveCaptions(v.captions, e);
        });
      case 'VideoDeleted': {
        const v = await tx.get<StoredVideo>(keys.video(e.data.videoId));
        if (!v) return;
        v.status = 'deleted';
        v.updatedAt = e.data.deletedAt;
        // The tombstone keeps nothing a user wrote (issue 13: an erased user's videos are deleted).
        v.title = '';
        v.description = '';
        v.tags = [];
        v.filename = '';
        tx.put(keys.video(v.videoId), v);
        // Gone from the owner's list; the detail stays (status deleted) so reads can answer 404.
        tx.del(keys.userVideo(v.ownerId, v.createdAt, v.videoId));
        await removeFromTrending(tx, v.videoId);
        return;
      }
      case 'CommentPosted':
      case 'CommentDeleted': { // a comment counts while it stands (its placeholder does not), each event once
        const marker = keys.countedComment(e.data.videoId, e.data.commentId);
        const was = await tx.get<true | 'deleted'>(marker);
        if (was === 'deleted' || (was && e.type === 'CommentPosted')) return;
        tx.put(marker, e.type === 'CommentPosted' ? true : 'deleted');
        if (e.type === 'CommentDeleted' && !was) return; // never counted
        const stats = await getStats(tx, e.data.videoId);
        stats.commentCount = Math.max(0, stats.commentCount + (e.type === 'CommentPosted' ? 1 : -1));
        tx.put(keys.stats(e.data.videoId), stats);
        return;
      }
      case 'VideoViewed': {
        const d = e.data;
        const sKey = keys.viewSession(d.videoId, d.sessionId);
        const signed = d.sessionStartedAt != null;
        const stored = await tx.get<StoredSession>(sKey);
        const seen = signed ? stored?.lastSeen : undefined;
        // Past the horizon the state is gone whether or not a sweep already removed it, so the
        // outcome never depends on sweep timing (and cannot happen for an accepted heartbeat).
        const expired = seen !== undefined && seen + SESSION_STATE_HORIZON_MS <= d.viewedAt;
        // The fold reads the three fields of its state and returns a new one (lastSeen is not carried).
        const { state, newView } = foldHeartbeat(expired ? undefined : stored, d);
        if (signed) {
          const lastSeen = expired || seen === undefined ? d.viewedAt : Math.max(seen, d.viewedAt);
          tx.put(sKey, { ...state, lastSeen } satisfies StoredSession);
          const bucket = bucketOf(lastSeen);
          if (seen === undefined || bucketOf(seen) !== bucket) {
            if (seen !== undefined) tx.del(keys.viewSessionExpiry(d.videoId, bucketOf(seen), d.sessionId));
            tx.put(keys.viewSessionExpiry(d.videoId, bucket, d.sessionId), true);
            sessions.noted(tx, d.videoId, bucket);
          }
        } else {
          // An unsigned heartbeat of a signed session keeps its lastSeen (layout 5 kept it under its own key).
          tx.put(sKey, stored?.lastSeen === undefined ? state : ({ ...state, lastSeen: stored.lastSeen } satisfies StoredSession));
        }
        await sessions.sweep(tx, d.videoId, d.sessionId, d.viewedAt);
        if (newView) {
          const stats = await getStats(tx, d.videoId);
          stats.views++;
          tx.put(keys.stats(d.videoId), stats);
          await countTrendingView(tx, d.videoId, d.viewedAt);
        }
        return;
      }
      case 'VideoLiked':
      case 'VideoUnliked':
        return likes.apply(tx, e.data.videoId, e.data.userId, e.type === 'VideoLiked' ? e.data.likedAt : undefined);
      case 'UserErased':
        return likes.erase(tx, e.data.userId);
      case 'UserRegistered':
      case 'ChannelSubscribed':
      case 'ChannelUnsubscribed':
      case 'PlaybackStarted':
      case 'RenditionSwitched':
      case 'RebufferStarted':
      case 'RebufferEnded':
      case 'PlaybackFailed':
      case 'PlaybackEnded':
        return; // not an input (an erased user's videos are deleted one by one: VideoDeleted)
      default:
        return assertNever(e);
    }
  }

  const sessions = sessionExpirySweep({
    store,
    limit: SWEEP_LIMIT,
    prefixOf: keys.viewSessionExpiryPrefix,
    expiryOfBucket: (bucket) => bucket + EXPIRY_BUCKET_MS + SESSION_STATE_HORIZON_MS,
    async drop(tx, videoId, sessionId, key, now) {
      const seen = (await tx.get<StoredSession>(keys.viewSession(videoId, sessionId)))?.lastSeen;
      if (seen !== undefined && seen + SESSION_STATE_HORIZON_MS > now) return false; // seen again in this batch
      tx.del(key);
      tx.del(keys.viewSession(videoId, sessionId));
      return true;
    },
  });

  async function updateVideo(tx: KeyValueBatch, videoId: string, at: number, mutate: (v: StoredVideo) => void): Promise<void> {
    const v = await tx.get<StoredVideo>(keys.video(videoId));
    if (!v) {
      logger.warn({ videoId }, 'video-detail: event for an unknown video ignored');
      return;
    }
    if (v.status === 'deleted') return; // terminal
    mutate(v);
    v.updatedAt = Math.max(v.updatedAt, at);
    tx.put(keys.video(videoId), v);
  }

  const getStats = async (tx: KeyValueBatch, videoId: string): Promise<VideoStats> =>
    (await tx.get<VideoStats>(keys.stats(videoId))) ?? { views: 0, commentCount: 0 };

  const likes = membershipIndex({
    marker: 'liker', byMember: 'user-like', erasedKey: keys.erasedUser,
    async adjustCount(tx, videoId, delta) {
      const stats = await getStats(tx, videoId);
      stats.likes = Math.max(0, (stats.likes ?? 0) + delta);
      tx.put(keys.stats(videoId), stats);
    },
  });

  const detailOf = (v: StoredVideo, stats: VideoStats | undefined): VideoDetail =>
    ({ ...v, visibility: v.visibility ?? DEFAULT_VISIBILITY, views: stats?.views ?? 0, commentCount: stats?.commentCount ?? 0, likeCount: stats?.likes ?? 0 });

  const withStats = async (videos: (StoredVideo | undefined)[]): Promise<(VideoDetail | undefined)[]> => {
    const stats = await store.getMany<VideoStats>(videos.map((v) => (v ? keys.stats(v.videoId) : '')));
    return videos.map((v, i) => (v ? detailOf(v, stats[i]) : undefined));
  };

  // The detail read is the gateway's hottest path (issue 12): the document is derived once per
  // change of its two stored texts (one round trip on Redis), not parsed on every read.
  const memo = new LRUCache<string, { video: string; stats: string | undefined; detail: VideoDetail }>({ max: DETAIL_MEMO_ENTRIES });

  const queries: VideoDetailQueries = {
    async getVideo(videoId) {
      const [video, stats] = await store.getManyJson([keys.video(videoId), keys.stats(videoId)]);
      if (video === undefined) {
        memo.delete(videoId);
        return undefined;
      }
      const hit = memo.get(videoId);
      if (hit && hit.video === video && hit.stats === stats) return hit.detail;
      const detail = deepFreeze(detailOf(parseStored<StoredVideo>(keys.video(videoId), video), stats === undefined ? undefined : parseStored<VideoStats>(keys.stats(videoId), stats)));
      memo.set(videoId, { video, stats, detail });
      return detail;
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
    async trending(limit, now, include) {
      const out: { video: VideoDetail; score: number }[] = [];
      await readTrending(store, now, async (videoId, score) => {
        const video = await queries.getVideo(videoId);
        if (video && include(video)) out.push({ video, score });
        return out.length < limit;
      });
      return out;
    },
    likes: (videoId, userId) => likes.has(store, videoId, userId),
    likedBy: async (userId) => (await likes.groupsOf(store, userId)).map((g) => ({ videoId: g.group, likedAt: g.since })),
  };

  return createKeyValueProjection({
    name: VIDEO_DETAIL,
    layoutVersion: VIDEO_DETAIL_LAYOUT_VERSION,
    inputs: [TOPICS.videos, TOPICS.comments, TOPICS.views, TOPICS.likes, TOPICS.users],
    store, queries, applyEvent, logger,
    // A heartbeat reads its playback session's state and, when it makes a view, the video's stats and trending score.
    readsOf: (e) => (e.type === 'VideoViewed' ? [keys.viewSession(e.data.videoId, e.data.sessionId), keys.stats(e.data.videoId), scoreKey(e.data.videoId)] : []),
  });
}

/** Rendition list with `r` added or replaced (by name), lowest bandwidth first. */
function upsertRendition(list: VideoRendition[], r: VideoRendition): VideoRendition[] {
  return [...list.filter((x) => x.name !== r.name), r].sort((a, b) => a.bandwidth - b.bandwidth || a.height - b.height);
}

/** Whether every planned rung is complete (RenditionEncoded). */
function ladderDone(v: StoredVideo): boolean {
  return v.plannedRenditions > 0 && v.renditions.filter((r) => r.complete !== false).length >= v.plannedRenditions;
}

function completeIfLadderDone(v: StoredVideo): void {
  if (ladderDone(v)) v.progress = 100;
}
