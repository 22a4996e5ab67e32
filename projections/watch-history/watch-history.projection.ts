/**
 * The watch-history read model: per signed-in viewer, the videos they watched, newest first,
 * capped at WATCH_HISTORY_CAP. Consumes the views topic (heartbeats with a viewerId). Serves
 * WatchHistoryQueries.
 *
 * Key layout: `history:<userId>` → WatchHistoryEntry[] (newest first); `erased:<userId>` → true
 * once the user is erased (users topic, issue 13): their history is deleted and later heartbeats
 * of theirs (a replay, or one still in flight) are not recorded.
 */
import pino from 'pino';
import type { DomainEvent } from '../../domain/events.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { createKeyValueProjection, type KeyValueBatch } from '../stores/key-value-projection.ts';
import type { KeyValueStore } from '../stores/key-value-store.port.ts';
import { WATCH_HISTORY_CAP, type WatchHistoryEntry, type WatchHistoryQueries } from './watch-history.port.ts';

export const WATCH_HISTORY = 'watch-history';
export const WATCH_HISTORY_LAYOUT_VERSION = 1;
/** How long live heartbeats wait to form one watch-history commit, ms (see the node's `fetchMaxWaitMs`). */
export const WATCH_HISTORY_FETCH_WAIT_MS = 200;

const historyKey = (userId: string) => `history:${encodeURIComponent(userId)}`;
const erasedKey = (userId: string) => `erased:${encodeURIComponent(userId)}`;

export interface WatchHistoryProjectionDeps {
  store: KeyValueStore;
  logger?: pino.Logger;
}

/** The watch-history projection node (see the file comment). */
export function createWatchHistoryProjection(deps: WatchHistoryProjectionDeps): ProjectionNode<WatchHistoryQueries> {
  const { store } = deps;

  async function applyEvent(tx: KeyValueBatch, e: DomainEvent): Promise<void> {
    if (e.type === 'UserErased') {
      tx.del(historyKey(e.data.userId));
      tx.put(erasedKey(e.data.userId), true);
      return;
    }
    if (e.type !== 'VideoViewed' || !e.data.viewerId) return;
    const d = e.data;
    const viewerId = e.data.viewerId;
    const key = historyKey(viewerId);
    const history = await tx.get<WatchHistoryEntry[]>(key);
    if (history === undefined && (await tx.get<boolean>(erasedKey(viewerId)))) return;
    tx.put(key, addToHistory(history ?? [], { videoId: d.videoId, watchedAt: d.viewedAt, positionSeconds: d.positionSeconds }));
  }

  const queries: WatchHistoryQueries = {
    getWatchHistory: async (userId) => (await store.get<WatchHistoryEntry[]>(historyKey(userId))) ?? [],
  };

  return createKeyValueProjection({
    name: WATCH_HISTORY, layoutVersion: WATCH_HISTORY_LAYOUT_VERSION, inputs: [TOPICS.views, TOPICS.users], store, queries, applyEvent, logger: deps.logger,
    // A signed-in viewer's heartbeat reads their history (and, when they have none, whether they were erased): read for the whole batch at once.
    readsOf: (e) => (e.type === 'VideoViewed' && e.data.viewerId ? [historyKey(e.data.viewerId), erasedKey(e.data.viewerId)] : []),
    // Heartbeats gather into batches (one store commit each) for up to this long: no request
    // reads its own writes from watch history, and a history a fraction of a second old is fresh.
    fetchMaxWaitMs: WATCH_HISTORY_FETCH_WAIT_MS,
  });
}

/**
 * Watch history with `entry` on top: one entry per video (the latest heartbeat wins), newest
 * first, at most WATCH_HISTORY_CAP entries (the oldest are evicted).
 */
function addToHistory(history: WatchHistoryEntry[], entry: WatchHistoryEntry): WatchHistoryEntry[] {
  const existing = history.find((h) => h.videoId === entry.videoId);
  if (existing && existing.watchedAt > entry.watchedAt) return history; // a stale, reordered heartbeat
  return [entry, ...history.filter((h) => h.videoId !== entry.videoId)]
    .sort((a, b) => b.watchedAt - a.watchedAt)
    .slice(0, WATCH_HISTORY_CAP);
}
