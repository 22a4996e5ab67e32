import MiniSearch, { type Options, type SearchOptions } from 'minisearch';
import pino from 'pino';
import type { DomainEvent } from '../../domain/events.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { OffsetMap } from '../../platform/log/event-log.port.ts';
import type { ProjectionBatch, ProjectionNode } from '../../processors/runtime/topology.port.ts';
import type { SearchOptions as QueryOptions, SearchQueries, TagFacet, ViewCountSource } from './search.port.ts';
import { createViewCountFeed } from './view-count-feed.ts';
import type { SnapshotStore } from './search-snapshot-store.ts';
import { createSearchRanker, rankedList, type SearchRanker } from './search-ranker.ts';
import {
  canonicalFilters, clampPageSize, countTagFacets, decodeSearchCursor, encodeSearchCursor, evolveSearchDoc, isSearchable as listed, normaliseQuery,
  passesFilters, queryHash, searchedVideoId, toHit,
  type SearchDoc,
} from './search-model.ts';

export const SEARCH = 'search';
/**
 * How long the search node's fetches wait for records, ms (the node's `fetchMaxWaitMs`). Nearly
 * everything on its inputs is views, which it reads only to know whose count to refresh (the feed
 * refreshes every 2 s), and a publish, an edit or a removal may show in search this much later:
 * fewer, larger batches mean fewer broker fetches under load (issue 15). The price on Kafka: an
 * idle node's fetch returns after this wait instead of the adapter's (500 ms by default), so it
 * fetches 5 times a second instead of 2.
 */
export const SEARCH_FETCH_WAIT_MS = 200;

/**
 * MiniSearch settings, the Typesense adapter's rules (typesense-search-store.ts QUERY_PARAMS):
 * typo tolerance of 1 edit from 4 characters and 2 from 7 ("dinosuar" → "Dinosaur"); only the
 * last term matches as a prefix (what is being typed, "noodl"); title ×2. Short terms are neither
 * fuzzy nor, unless last, prefixes, which also keeps them from expanding to most of the index.
 */
export const SEARCH_OPTIONS: SearchOptions = {
  fuzzy: (term) => (term.length >= 7 ? 2 : term.length >= 4 ? 1 : 0),
  maxFuzzy: 2,
  prefix: (_term, i, terms) => i === terms.length - 1,
  boost: { title: 2 },
};
/** The index's fields (tags joined with spaces) and settings; bench:search builds a bare index with them. */
export const INDEX_OPTIONS: Options<SearchDoc> = {
  idField: 'videoId',
  fields: ['title', 'description', 'tags'],
  extractField: (doc, field) => {
    const v = (doc as unknown as Record<string, unknown>)[field];
    return Array.isArray(v) ? v.join(' ') : v;
  },
  searchOptions: SEARCH_OPTIONS,
};
const SNAPSHOT_FORMAT = 'streamwave.search/1';

interface Snapshot {
  format: string;
  checkpoint: Record<string, number>;
  docs: Record<string, SearchDoc>;
  index: unknown;
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
  /** Video detail's view counts, fed into the documents in batches (view-count-feed.ts). Absent: views stay 0. */
  viewCounts?: ViewCountSource;
  /** Least time between two view count feeds, ms. Default 2000. */
  viewsFeedIntervalMs?: number;
  logger?: pino.Logger;
}

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
  /** Pages are ranked by search-ranker.ts over the current index (replaced when the snapshot loads). */
  let ranker: { of: MiniSearch<SearchDoc>; ranker: SearchRanker } | undefined;
  const rankerOf = (i: MiniSearch<SearchDoc>): SearchRanker => {
    if (ranker?.of !== i) ranker = { of: i, ranker: createSearchRanker(i) };
    return ranker.ranker;
  };
  let docs = new Map<string, SearchDoc>();
  const checkpoint: OffsetMap = new Map();

  // ---- load --------------------------------------------------------------------------------
  const loaded = (async () => {
    const text = await deps.snapshots.load();
    if (text !== undefined) loadSnapshot(text);
    rankerOf(index); // a MiniSearch without the state the ranker reads fails start-up here
  })();
  function loadSnapshot(text: string): void {
    const snap = JSON.parse(text) as Snapshot;
    if (snap.format !== SNAPSHOT_FORMAT) throw new Error(`search snapshot: unknown format ${snap.format}`);
    index = MiniSearch.loadJS<SearchDoc>(snap.index as never, INDEX_OPTIONS);
    docs = new Map(Object.entries(snap.docs));
    for (const [k, v] of Object.entries(snap.checkpoint)) checkpoint.set(k, v);
    logger.info({ documents: index.documentCount, checkpoint: snap.checkpoint }, 'search: snapshot loaded');
  }
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

  // ---- view counts (sort=views) ----------------------------------------------------------------
  const viewsFeed = deps.viewCounts && createViewCountFeed({
    source: deps.viewCounts,
    intervalMs: deps.viewsFeedIntervalMs,
    logger,
    async write(counts) {
      if (closed) return; // a late feed must not write the snapshot of a closed instance
      let changed = false;
      for (const [id, views] of counts) {
        const d = docs.get(id);
        if (d && (d.views ?? 0) !== views) {
          docs.set(id, { ...d, views });
          changed = true;
        }
      }
      if (changed) scheduleFlush();
    },
  });
  // Counts are not in the checkpoint: read every known video's after a (re)start.
  void loaded.then(() => viewsFeed?.refresh(docs.keys()), () => undefined);

  // ---- apply --------------------------------------------------------------------------------
  function applyBatch(batch: ProjectionBatch): Promise<void> {
    for (const { record, event } of batch.records) {
      if (!event) continue;
      if (event.type === 'VideoViewed') {
        if (docs.has(event.data.videoId)) viewsFeed?.viewed(event.data.videoId);
        continue;
      }
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

  /** Folds `e` into `docs` (search-model.ts evolveSearchDoc) and keeps only listed documents in the index. */
  function applyEvent(e: DomainEvent): void {
    const id = searchedVideoId(e);
    if (id === undefined) return;
    const before = docs.get(id);
    const after = evolveSearchDoc(before, e);
    if (after === before) return;
    if (after) docs.set(id, after);
    else docs.delete(id);
    if (index.has(id)) {
      // A deleted video's words leave the index, and so its snapshot, at once (issue 13); an update
      // only discards (cheaper; vacuumed later).
      if (!after && before && listed(before)) index.remove(before);
      else index.discard(id);
    }
    if (after && listed(after)) index.add(after);
  }

  // ---- queries ------------------------------------------------------------------------------
  const queries: SearchQueries = {
    async search(q, pageSize, cursor, options = {}) {
      await loaded;
      const size = clampPageSize(pageSize);
      const bound = { filters: canonicalFilters(options.filters), sort: options.sort ?? 'relevance' } satisfies QueryOptions;
      const hash = queryHash(q, bound);
      let searchTs = now();
      let start = 0;
      let lastId: string | undefined;
      if (cursor !== undefined) {
        const c = decodeSearchCursor(cursor, q, deps.cursorSecret, bound);
        searchTs = c.search_timestamp_ms;
        start = c.offset;
        lastId = c.last_video_id;
      }
      const facets = options.facets && cursor === undefined ? { tags: [] as TagFacet[] } : undefined;
      if (!normaliseQuery(q)) return { videos: [], nextCursor: null, ...(facets && { facets }) };
      // Videos published after the first page are left out of later pages, so pages stay one result set.
      const shown = (id: string) => {
        const d = docs.get(id);
        return d !== undefined && listed(d) && (d.publishedAt ?? 0) <= searchTs && passesFilters(d, bound.filters);
      };
      let scored = rankerOf(index).score(q);
      // Facets and other sorts need every match that is shown; relevance pages alone need only the top.
      const all = facets || bound.sort !== 'relevance' ? scored.matches(shown).map((id) => docs.get(id)!) : [];
      if (facets) facets.tags = countTagFacets(all);
      if (bound.sort !== 'relevance') {
        const key = bound.sort === 'date' ? (d: SearchDoc) => d.publishedAt ?? 0 : (d: SearchDoc) => d.views ?? 0;
        scored = rankedList(all.map((d) => ({ id: d.videoId, score: key(d) })));
      }
      // Continue right after the last video shown (robust to removals before it); else skip `start` results.
      const lastScore = lastId === undefined ? undefined : scored.scoreOf(lastId);
      const after = lastScore === undefined ? undefined : { id: lastId!, score: lastScore };
      // The anchor still matches: what is shown up to it now. Gone: the cursor's offset counted it.
      if (after) start = scored.countThrough(after, shown);
      else if (lastId !== undefined) start = Math.max(0, start - 1);
      const selected = after ? scored.top(size + 1, shown, after) : scored.top(start + size + 1, shown).slice(start);
      const page = selected.slice(0, size);
      const videos = page.map((r) => toHit(docs.get(r.id)!));
      const end = start + page.length;
      const nextCursor = page.length && selected.length > size
        ? encodeSearchCursor({ search_timestamp_ms: searchTs, last_video_id: page[page.length - 1].id, offset: end, query_hash: hash }, deps.cursorSecret)
        : null;
      return { videos, nextCursor, ...(facets && { facets }) };
    },
  };

  let closed = false;
  return {
    kind: 'projection',
    name: SEARCH,
    // views: only which videos were viewed, for the view count feed (sort=views).
    inputs: [TOPICS.videos, TOPICS.views],
    fetchMaxWaitMs: SEARCH_FETCH_WAIT_MS,
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
      await viewsFeed?.close();
      await loaded.catch(() => undefined);
      await flush();
    },
  };
}
