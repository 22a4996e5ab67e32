/**
 * The recommendations read model ("up next", issue 14; seed 003's recommendation diagram, seed
 * 000: "precomputed per video, not recomputed per request"): per video, the videos its viewers
 * also watched, kept ranked incrementally as heartbeats arrive, and its tags as the fallback for
 * videos nobody has co-watched yet. Consumes the views, videos and users topics. Serves
 * RecommendationQueries.
 *
 * Co-watch: a signed-in viewer "watched" a video once a heartbeat of theirs reaches
 * MIN_VIEW_SECONDS (the view rule's threshold). Their last CO_WATCH_WINDOW watched videos are kept;
 * a newly watched B adds one to the pair count of B with each of them, both ways. Anonymous
 * sessions cannot be linked across videos and add nothing.
 *
 * Key layout (ids URI-encoded):
 * - `viewer:<userId>` → the viewer's last watched video ids (oldest first, at most CO_WATCH_WINDOW)
 * - `co:<A>:<B>` → viewers who watched both A and B; `co-rank:<A>:<count, 12 digits>:<B>` → B,
 *   A's co-watched videos in count order (read reversed)
 * - `tags-of:<videoId>` → its tags; `tag:<tag>:<videoId>` → true (a deleted video leaves both)
 * - `erased:<userId>` → true once the user is erased (issue 13): their window is deleted and later
 *   heartbeats of theirs add nothing; the pair counts they added are counts, not their data, and stay.
 */
import pino from 'pino';
import type { DomainEvent } from '../../domain/events.ts';
import { MIN_VIEW_SECONDS } from '../../domain/view/view-rule.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { createKeyValueProjection, type KeyValueBatch } from '../stores/key-value-projection.ts';
import type { KeyValueStore } from '../stores/key-value-store.port.ts';
import type { Recommendation, RecommendationQueries } from './recommendations.port.ts';

export const RECOMMENDATIONS = 'recommendations';
export const RECOMMENDATIONS_LAYOUT_VERSION = 1;
/** Watched videos of a viewer that a new one is paired with. */
export const CO_WATCH_WINDOW = 20;
/** Heartbeats gather into batches for up to this long, ms: nothing reads its own writes here. */
const FETCH_WAIT_MS = 200;
/** Videos read per tag when looking for tag neighbours. */
const PER_TAG = 50;

const enc = encodeURIComponent;
const keys = {
  viewer: (userId: string) => `viewer:${enc(userId)}`,
  co: (a: string, b: string) => `co:${enc(a)}:${enc(b)}`,
  coRankPrefix: (a: string) => `co-rank:${enc(a)}:`,
  coRank: (a: string, count: number, b: string) => `co-rank:${enc(a)}:${String(count).padStart(12, '0')}:${enc(b)}`,
  tagsOf: (videoId: string) => `tags-of:${enc(videoId)}`,
  tagPrefix: (tag: string) => `tag:${enc(tag)}:`,
  tag: (tag: string, videoId: string) => `tag:${enc(tag)}:${enc(videoId)}`,
  erased: (userId: string) => `erased:${enc(userId)}`,
};

export interface RecommendationsProjectionDeps {
  store: KeyValueStore;
  logger?: pino.Logger;
}

/** The recommendations projection node (see the file comment). */
export function createRecommendationsProjection(deps: RecommendationsProjectionDeps): ProjectionNode<RecommendationQueries> {
  const { store } = deps;

  async function pair(tx: KeyValueBatch, a: string, b: string): Promise<void> {
    const count = (await tx.get<number>(keys.co(a, b))) ?? 0;
    if (count > 0) tx.del(keys.coRank(a, count, b));
    tx.put(keys.co(a, b), count + 1);
    tx.put(keys.coRank(a, count + 1, b), b);
  }

  async function setTags(tx: KeyValueBatch, videoId: string, tags: readonly string[]): Promise<void> {
    for (const old of (await tx.get<string[]>(keys.tagsOf(videoId))) ?? []) tx.del(keys.tag(old, videoId));
    const normal = [...new Set(tags.map((t) => t.toLowerCase()))];
    if (normal.length) tx.put(keys.tagsOf(videoId), normal);
    else tx.del(keys.tagsOf(videoId));
    for (const t of normal) tx.put(keys.tag(t, videoId), true);
  }

  async function applyEvent(tx: KeyValueBatch, e: DomainEvent): Promise<void> {
    switch (e.type) {
      case 'UploadStarted': return setTags(tx, e.data.videoId, e.data.tags);
      case 'VideoMetadataUpdated': if (e.data.tags != null) await setTags(tx, e.data.videoId, e.data.tags); return;
      case 'VideoDeleted': return setTags(tx, e.data.videoId, []);
      case 'UserErased':
        tx.del(keys.viewer(e.data.userId));
        tx.put(keys.erased(e.data.userId), true);
        return;
      case 'VideoViewed': {
        const { viewerId, videoId, watchedSeconds } = e.data;
        if (!viewerId || !(watchedSeconds >= MIN_VIEW_SECONDS)) return;
        const window = (await tx.get<string[]>(keys.viewer(viewerId))) ?? [];
        if (window.includes(videoId) || (await tx.get(keys.erased(viewerId)))) return;
        for (const other of window) {
          await pair(tx, other, videoId);
          await pair(tx, videoId, other);
        }
        tx.put(keys.viewer(viewerId), [...window, videoId].slice(-CO_WATCH_WINDOW));
        return;
      }
      default:
        return;
    }
  }

  const queries: RecommendationQueries = {
    async upNext(videoId, limit) {
      const out: Recommendation[] = [];
      const seen = new Set([videoId]);
      for (const { key, value } of await store.scan<string>(keys.coRankPrefix(videoId), { reverse: true, limit })) {
        const count = Number(key.slice(keys.coRankPrefix(videoId).length, keys.coRankPrefix(videoId).length + 12));
        out.push({ videoId: value, reason: 'co-watch', score: count });
        seen.add(value);
      }
      if (out.length >= limit) return out;
      // Fallback for a video nobody co-watched yet: the videos sharing the most of its tags.
      const shared = new Map<string, number>();
      for (const tag of (await store.get<string[]>(keys.tagsOf(videoId))) ?? []) {
        const prefix = keys.tagPrefix(tag);
        for (const { key } of await store.scan(prefix, { limit: PER_TAG })) {
          const other = decodeURIComponent(key.slice(prefix.length));
          if (!seen.has(other)) shared.set(other, (shared.get(other) ?? 0) + 1);
        }
      }
      const byTags = [...shared].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, limit - out.length);
      return [...out, ...byTags.map(([id, n]) => ({ videoId: id, reason: 'tags' as const, score: n }))];
    },
  };

  return createKeyValueProjection({
    name: RECOMMENDATIONS, layoutVersion: RECOMMENDATIONS_LAYOUT_VERSION, inputs: [TOPICS.views, TOPICS.videos, TOPICS.users],
    store, queries, applyEvent, logger: deps.logger, fetchMaxWaitMs: FETCH_WAIT_MS,
  });
}
