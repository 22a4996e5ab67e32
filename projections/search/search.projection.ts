import { createHash } from 'node:crypto';
import MiniSearch, { type Options, type SearchOptions } from 'minisearch';
import pino from 'pino';
import type { DomainEvent } from '../../domain/events.ts';
import { DEFAULT_VISIBILITY, isListed, type VideoVisibility } from '../../domain/video/video-visibility.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { assertNever } from '../../domain/shared/event.ts';
import type { OffsetMap } from '../../platform/log/event-log.port.ts';
import type { ProjectionBatch, ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { InvalidCursorError } from '../read-model.port.ts';
import type { SearchHit, SearchQueries } from './search.port.ts';
import { decodeSignedCursor, encodeSignedCursor } from '../cursor.ts';
import type { SnapshotStore } from './search-snapshot-store.ts';

export const SEARCH = 'search';

/** MiniSearch settings (typo tolerance: fuzzy 0.2 of the term length; prefix matching; title ×2). */
const SEARCH_OPTIONS: SearchOptions = { fuzzy: 0.2, prefix: true, boost: { title: 2 } };
const INDEX_OPTIONS: Options<SearchDoc> = {
  idField: 'videoId',
  fields: ['title', 'description', 'tags'],
  extractField: (doc, field) => {
    const v = (doc as unknown as Record<string, unknown>)[field];
    return Array.isArray(v) ? v.join(' ') : v;
  },
  searchOptions: SEARCH_OPTIONS,
};
const SNAPSHOT_FORMAT = 'streamwave.search/1';
const MAX_PAGE_SIZE = 100;

/**
 * A video known to the search read model; only listed ones (ready and public, isListed in
 * domain/video/video-visibility.ts) are in the full-text index: unlisted and private videos never
 * appear in results (issue 8). `visibility` absent (older snapshots/events): public.
 */
interface SearchDoc extends SearchHit {
  ready: boolean;
  visibility?: VideoVisibility;
}

const listed = (d: SearchDoc): boolean => isListed({ ownerId: d.ownerId, status: d.ready ? 'ready' : 'processing', visibility: d.visibility });

interface Snapshot {
  format: string;
  checkpoint: Record<string, number>;
  docs: Record<string, SearchDoc>;
  index: unknown;
}

/** Cursor payload (signed): bound to the normalised query through `query_hash`. */
interface SearchCursor {
  search_timestamp_ms: number;
  last_video_id: string;
  offset: number;
  query_hash: string;
}

export interface SearchProjectionDeps {
  /** Where index + checkpoint are persisted together. */
  snapshots: SnapshotStore;
  /** HMAC-SHA256 key for search cursors. */
  cursorSecret: string | Buffer;
  /** Min interval between snapshot writes, ms. Default 1000. */
  flushIntervalMs?: number;
  /** Wall clock for `search_timestamp_ms`, ms. Default Date.now. */
  now?: () => number;
  logger?: pino.Logger;
}

/** Normalised query text: trimmed, lowercased, single spaces. */
const normaliseQuery = (q: string) => q.trim().toLowerCase().replace(/\s+/g, ' ');
const queryHash = (q: string) => createHash('sha256').update(normaliseQuery(q)).digest('base64url').slice(0, 22);

/**
 * Search read model on MiniSearch: indexes ready (published) videos by title, description and
 * tags; re-indexes on VideoMetadataUpdated; removes on VideoDeleted. The index, the metadata of
 * not-yet-ready videos and the checkpoint are serialised together into ONE snapshot (atomic file
 * replace), written at most once per `flushIntervalMs` after batches and on close. After a crash
 * the projection resumes from the snapshot's checkpoint, re-applying whatever came after it.
 * Serves `SearchQueries` (results by score, then videoId; signed cursors).
 */
export function createSearchProjection(deps: SearchProjectionDeps): ProjectionNode<SearchQueries> {
  const logger = deps.logger ?? pino({ level: 'silent' });
  const now = deps.now ?? Date.now;
  const flushIntervalMs = deps.flushIntervalMs ?? 1000;

  let index = new MiniSearch<SearchDoc>(INDEX_OPTIONS);
  let docs = new Map<string, SearchDoc>();
  const checkpoint: OffsetMap = new Map();

  // ---- load --------------------------------------------------------------------------------
  const loaded = (async () => {
    const text = await deps.snapshots.load();
    if (text === undefined) return;
    const snap = JSON.parse(text) as Snapshot;
    if (snap.format !== SNAPSHOT_FORMAT) throw new Error(`search snapshot: unknown format ${snap.format}`);
    index = MiniSearch.loadJS<SearchDoc>(snap.index as never, INDEX_OPTIONS);
    docs = new Map(Object.entries(snap.docs));
    for (const [k, v] of Object.entries(snap.checkpoint)) checkpoint.set(k, v);
    logger.info({ documents: index.documentCount, checkpoint: snap.checkpoint }, 'search: snapshot loaded');
  })();
  loaded.catch(() => undefined); // surfaced by start()/queries

  // ---- debounced persistence ----------------------------------------------------------------
  let dirty = false;
  let lastFlush = 0;
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    if (!dirty) return flushing;
    dirty = false;
    lastFlush = Date.now();
    // Serialised synchronously, between batches: the text pairs the index with its checkpoint.
    const text = JSON.stringify({
      format: SNAPSHOT_FORMAT, checkpoint: Object.fromEntries(checkpoint), docs: Object.fromEntries(docs), index: index.toJSON(),
    } satisfies Snapshot);
    flushing = flushing.then(() => deps.snapshots.save(text)).catch((err) => {
      dirty = true; // retried on the next batch or on close
      logger.error({ err }, 'search: snapshot write failed');
    });
    return flushing;
  };
  const scheduleFlush = () => {
    dirty = true;
    if (timer) return;
    const wait = Math.max(0, lastFlush + flushIntervalMs - Date.now());
    timer = setTimeout(() => void flush(), wait);
    timer.unref();
  };

  // ---- apply --------------------------------------------------------------------------------
  function applyBatch(batch: ProjectionBatch): Promise<void> {
    for (const { record, event } of batch.records) {
      if (!event) continue;
      try {
        applyEvent(event);
      } catch (err) {
        logger.error({ err, topic: record.topic, partition: record.partition, offset: record.offset, type: event.type }, 'search: event not applied');
      }
    }
    for (const [k, v] of batch.checkpoint) checkpoint.set(k, v);
    scheduleFlush();
    return Promise.resolve();
  }

  const reindex = (d: SearchDoc) => {
    if (index.has(d.videoId)) index.discard(d.videoId);
    if (listed(d)) index.add(d);
  };

  function applyEvent(e: DomainEvent): void {
    switch (e.type) {
      case 'UploadStarted': {
        const d = e.data;
        if (docs.has(d.videoId)) return;
        docs.set(d.videoId, {
          videoId: d.videoId, title: d.title, description: d.description, tags: [...d.tags], ownerId: d.ownerId,
          thumbnailKey: null, durationSeconds: null, publishedAt: null, ready: false, visibility: d.visibility ?? DEFAULT_VISIBILITY,
        });
        return;
      }
      case 'VideoPublished': {
        const doc = docs.get(e.data.videoId);
        if (!doc) return;
        Object.assign(doc, { ready: true, thumbnailKey: e.data.thumbnailKey, durationSeconds: e.data.durationSeconds, publishedAt: e.data.publishedAt });
        reindex(doc);
        return;
      }
      case 'VideoMetadataUpdated': {
        const doc = docs.get(e.data.videoId);
        if (!doc) return;
        if (e.data.title != null) doc.title = e.data.title;
        if (e.data.description != null) doc.description = e.data.description;
        if (e.data.tags != null) doc.tags = [...e.data.tags];
        if (e.data.visibility != null) doc.visibility = e.data.visibility;
        reindex(doc);
        return;
      }
      case 'VideoDeleted': {
        if (index.has(e.data.videoId)) index.discard(e.data.videoId);
        docs.delete(e.data.videoId);
        return;
      }
      case 'UploadCompleted':
      case 'VideoProcessingStarted':
      case 'VideoProcessingProgressed':
      case 'RenditionEncoded':
      case 'VideoProcessingFailed':
      case 'VideoProcessingCompleted':
      case 'UserRegistered':
      case 'CommentPosted':
      case 'VideoViewed':
        return; // not searchable facts
      default:
        return assertNever(e);
    }
  }

  // ---- queries ------------------------------------------------------------------------------
  const queries: SearchQueries = {
    async search(q, pageSize, cursor) {
      await loaded;
      const size = Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(pageSize) || 1));
      const hash = queryHash(q);
      let searchTs = now();
      let start = 0;
      let lastId: string | undefined;
      if (cursor !== undefined) {
        const c = decodeSignedCursor<Partial<SearchCursor>>(cursor, deps.cursorSecret);
        if (typeof c.search_timestamp_ms !== 'number' || typeof c.last_video_id !== 'string' || typeof c.query_hash !== 'string'
          || typeof c.offset !== 'number' || !Number.isInteger(c.offset) || c.offset < 0) {
          throw new InvalidCursorError('cursor payload is invalid');
        }
        if (c.query_hash !== hash) throw new InvalidCursorError('cursor belongs to another query');
        searchTs = c.search_timestamp_ms;
        start = c.offset;
        lastId = c.last_video_id;
      }
      if (!normaliseQuery(q)) return { videos: [], nextCursor: null };
      // Videos published after the first page are left out of later pages, so pages stay one result set.
      const results = index.search(q)
        .filter((r) => { const d = docs.get(r.id as string); return !!d && listed(d) && (d.publishedAt ?? 0) <= searchTs; })
        .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      if (lastId !== undefined) {
        // Continue right after the last video shown (robust to removals before it); fall back to the offset.
        const i = results.findIndex((r) => r.id === lastId);
        if (i >= 0) start = i + 1;
      }
      const page = results.slice(start, start + size);
      const videos = page.map((r) => { const { ready: _ready, visibility: _visibility, ...hit } = docs.get(r.id as string)!; return hit; });
      const end = start + page.length;
      const nextCursor = page.length && end < results.length
        ? encodeSignedCursor({ search_timestamp_ms: searchTs, last_video_id: page[page.length - 1].id as string, offset: end, query_hash: hash } satisfies SearchCursor, deps.cursorSecret)
        : null;
      return { videos, nextCursor };
    },
  };

  let closed = false;
  return {
    kind: 'projection',
    name: SEARCH,
    inputs: [TOPICS.videos],
    guarantee: 'effectively-once',
    output: 'MiniSearch index snapshot',
    queries,
    loadCheckpoint: async () => { await loaded; return new Map(checkpoint); },
    apply: applyBatch,
    ready: () => loaded,
    flush,
    async close() {
      if (closed) return;
      closed = true;
      await loaded.catch(() => undefined);
      await flush();
    },
  };
}
