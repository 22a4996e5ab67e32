/**
 * What every search engine of the search read model shares (MiniSearch in standalone mode,
 * Typesense in cluster mode): the document a video is folded into, which documents are
 * searchable, the query normalisation and the signed, query-bound cursor. Keeping these in one
 * place is what lets both engines pass the same contract suite (search.contract.ts).
 */
import { createHash } from 'node:crypto';
import type { DomainEvent } from '../../domain/events.ts';
import { assertNever } from '../../domain/shared/event.ts';
import { DEFAULT_VISIBILITY, visibilityOf, type VideoVisibility } from '../../domain/video/video-visibility.ts';
import { isCustomThumbnailKey } from '../../domain/video/thumbnails.ts';
import { decodeSignedCursor, encodeSignedCursor } from '../cursor.ts';
import { InvalidCursorError } from '../read-model.port.ts';
import type { SearchFilters, SearchHit, SearchOptions, TagFacet } from './search.port.ts';

/** Largest page `search` returns; larger requests are clamped. */
export const MAX_PAGE_SIZE = 100;

/**
 * A video known to the search read model; only listed ones (ready and public, isListed in
 * domain/video/video-visibility.ts) are searchable: unlisted and private videos never appear in
 * results (issue 8). `visibility` absent (older snapshots/events): public.
 */
export interface SearchDoc extends Omit<SearchHit, 'views'> {
  ready: boolean;
  visibility?: VideoVisibility;
  /** Absent: never fed (older snapshots and documents): 0. */
  views?: number;
}

/**
 * True when `d` may appear in search results (ready and public): isListed's rule, written without
 * building its subject (called for every match of a sorted or faceted search, issue 14).
 */
export const isSearchable = (d: SearchDoc): boolean => d.ready && visibilityOf(d) === 'public';

/** The public part of a document (what `search` returns). */
export const toHit = (d: SearchDoc): SearchHit => ({
  videoId: d.videoId, title: d.title, description: d.description, tags: [...d.tags], ownerId: d.ownerId,
  thumbnailKey: d.thumbnailKey, durationSeconds: d.durationSeconds, publishedAt: d.publishedAt, views: d.views ?? 0,
});

/** The video an event changes in the search read model, or undefined for events search ignores. */
export function searchedVideoId(e: DomainEvent): string | undefined {
  switch (e.type) {
    case 'UploadStarted':
    case 'VideoPublished':
    case 'VideoMetadataUpdated':
    case 'VideoDeleted':
    case 'CustomThumbnailSet':
      return e.data.videoId;
    case 'VideoProcessingCompleted':
      // Only when it corrects the published duration (a truncated source, docs/adr/0007).
      return e.data.durationSeconds != null ? e.data.videoId : undefined;
    case 'UploadCompleted':
    case 'VideoProcessingStarted':
    case 'VideoProcessingProgressed':
    case 'RenditionEncoded':
    case 'VideoProcessingFailed':
    case 'CaptionsPublished':
    case 'CaptionsRemoved':
    case 'StoryboardGenerated':
    case 'UserRegistered':
    case 'UserErased':
    case 'CommentPosted':
    case 'CommentDeleted':
    case 'VideoViewed':
    case 'VideoLiked':
    case 'VideoUnliked':
    case 'ChannelSubscribed':
    case 'ChannelUnsubscribed':
    case 'PlaybackStarted':
    case 'RenditionSwitched':
    case 'RebufferStarted':
    case 'RebufferEnded':
    case 'PlaybackFailed':
    case 'PlaybackEnded':
      return undefined; // not searchable facts
    default:
      return assertNever(e);
  }
}

/**
 * The document of video `searchedVideoId(e)` after `e`, from the one before (undefined: unknown or
 * deleted). Returns `before` itself when `e` changes nothing; never mutates it.
 *
 * Convergent, which is what makes redelivery a no-op in every engine: each event SETS fields to
 * values it carries (it does not add or toggle), UploadStarted only creates a missing document and
 * VideoDeleted removes it, so re-applying a suffix of a video's events to a state that already
 * reflects some or all of them ends in the same document as applying it once.
 */
export function evolveSearchDoc(before: SearchDoc | undefined, e: DomainEvent): SearchDoc | undefined {
  switch (e.type) {
    case 'UploadStarted': {
      if (before) return before;
      const d = e.data;
      return {
        videoId: d.videoId, title: d.title, description: d.description, tags: [...d.tags], ownerId: d.ownerId,
        thumbnailKey: null, durationSeconds: null, publishedAt: null, ready: false, visibility: d.visibility ?? DEFAULT_VISIBILITY,
      };
    }
    case 'VideoPublished': {
      if (!before) return before;
      // A custom thumbnail set before publication stays (issue 15; its key tells it from a generated one).
      const thumbnailKey = isCustomThumbnailKey(before.thumbnailKey, before.videoId) ? before.thumbnailKey : e.data.thumbnailKey;
      return { ...before, ready: true, thumbnailKey, durationSeconds: e.data.durationSeconds, publishedAt: e.data.publishedAt };
    }
    case 'CustomThumbnailSet':
      if (!before || before.thumbnailKey === e.data.key) return before;
      return { ...before, thumbnailKey: e.data.key };
    case 'VideoProcessingCompleted':
      if (!before || e.data.durationSeconds == null) return before;
      return { ...before, durationSeconds: e.data.durationSeconds };
    case 'VideoMetadataUpdated': {
      if (!before) return before;
      const next = { ...before };
      if (e.data.title != null) next.title = e.data.title;
      if (e.data.description != null) next.description = e.data.description;
      if (e.data.tags != null) next.tags = [...e.data.tags];
      if (e.data.visibility != null) next.visibility = e.data.visibility;
      return next;
    }
    case 'VideoDeleted':
      return undefined;
    default:
      return before; // events search ignores (searchedVideoId is undefined for them)
  }
}

/** Normalised query text: trimmed, lowercased, single spaces. */
export const normaliseQuery = (q: string): string => q.trim().toLowerCase().replace(/\s+/g, ' ');

/**
 * The terms of a query as MiniSearch's default tokenizer splits text (on whitespace and
 * punctuation). A query without terms (blank, `*`, `?!`) matches nothing in every engine: Typesense
 * reads `q=*` as "every document", which a user typing `*` must not get.
 */
export const queryTerms = (q: string): string[] => normaliseQuery(q).split(/[\n\r\p{Z}\p{P}\p{S}]+/u).filter(Boolean);

/** The key a tag is filtered and faceted by: trimmed and lowercased ("Cats " and "cats" are one tag). */
export const tagKey = (tag: string): string => tag.trim().toLowerCase();

/** Most tags one filter may name. */
export const MAX_FILTER_TAGS = 10;
/** Tag facets returned (the most frequent). */
export const MAX_TAG_FACETS = 20;

/**
 * The canonical form of `f` (what a cursor is bound to and what the engines filter by): tag keys
 * deduplicated and sorted, absent bounds left out. Equal filters give equal JSON.
 */
export function canonicalFilters(f: SearchFilters | undefined): SearchFilters {
  const out: SearchFilters = {};
  if (!f) return out;
  if (f.minDurationSeconds !== undefined) out.minDurationSeconds = f.minDurationSeconds;
  if (f.maxDurationSeconds !== undefined) out.maxDurationSeconds = f.maxDurationSeconds;
  if (f.publishedAfter !== undefined) out.publishedAfter = f.publishedAfter;
  if (f.publishedBefore !== undefined) out.publishedBefore = f.publishedBefore;
  const tags = [...new Set((f.tags ?? []).map(tagKey).filter(Boolean))].sort();
  if (tags.length) out.tags = tags;
  if (f.channel !== undefined) out.channel = f.channel;
  return out;
}

/** True when document `d` passes filters `f` (canonicalFilters form); see SearchFilters. */
export function passesFilters(d: Pick<SearchHit, 'durationSeconds' | 'publishedAt' | 'ownerId' | 'tags'>, f: SearchFilters): boolean {
  if (f.minDurationSeconds !== undefined && (d.durationSeconds == null || d.durationSeconds < f.minDurationSeconds)) return false;
  if (f.maxDurationSeconds !== undefined && (d.durationSeconds == null || d.durationSeconds > f.maxDurationSeconds)) return false;
  if (f.publishedAfter !== undefined && (d.publishedAt ?? 0) < f.publishedAfter) return false;
  if (f.publishedBefore !== undefined && (d.publishedAt ?? 0) > f.publishedBefore) return false;
  if (f.channel !== undefined && d.ownerId !== f.channel) return false;
  if (f.tags?.length) {
    const keys = tagKeysOf(d.tags);
    if (!f.tags.every((t) => keys.includes(t))) return false;
  }
  return true;
}

/** The distinct, non-empty tag keys of each tags array, kept while the array lives (documents are replaced, never changed). */
const keysOfTags = new WeakMap<readonly string[], string[]>();
/** The distinct, non-empty tagKeys of `tags`. */
export function tagKeysOf(tags: readonly string[]): string[] {
  let keys = keysOfTags.get(tags);
  if (!keys) keysOfTags.set(tags, (keys = [...new Set(tags.map(tagKey))].filter(Boolean)));
  return keys;
}

/** Counts the tag keys of `docs` (each tag once per document): the MAX_TAG_FACETS most frequent, then by tag. */
export function countTagFacets(docs: Iterable<Pick<SearchHit, 'tags'>>): TagFacet[] {
  const counts = new Map<string, number>();
  for (const d of docs) for (const t of tagKeysOf(d.tags)) counts.set(t, (counts.get(t) ?? 0) + 1);
  return [...counts].map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)).slice(0, MAX_TAG_FACETS);
}

/**
 * 22-char hash that binds a cursor to its query, filters and sort: the normalised query alone when
 * there are no filters and the sort is relevance (so cursors issued before issue 14 stay valid),
 * else the query with the canonical filters and the sort.
 */
export function queryHash(q: string, options: SearchOptions = {}): string {
  const filters = canonicalFilters(options.filters);
  const sort = options.sort ?? 'relevance';
  const bound = Object.keys(filters).length || sort !== 'relevance' ? `${normaliseQuery(q)}\u0000${JSON.stringify({ filters, sort })}` : normaliseQuery(q);
  return createHash('sha256').update(bound).digest('base64url').slice(0, 22);
}

/** Page size clamped to 1..MAX_PAGE_SIZE (non-numbers: 1). */
export const clampPageSize = (pageSize: number): number => Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(pageSize) || 1));

/**
 * Cursor payload (signed with HMAC-SHA256, projections/cursor.ts): bound to the normalised query
 * through `query_hash`; `search_timestamp_ms` (ms since epoch) freezes the result set to videos
 * published at or before the first page; the next page starts right after `last_video_id`, or at
 * `offset` (results shown so far) when that video is no longer in the results.
 */
export interface SearchCursor {
  search_timestamp_ms: number;
  last_video_id: string;
  offset: number;
  query_hash: string;
}

/** Signs a cursor payload. */
export const encodeSearchCursor = (c: SearchCursor, secret: string | Buffer): string => encodeSignedCursor(c satisfies SearchCursor, secret);

/**
 * Verifies and decodes `cursor` for query `q`.
 * @throws InvalidCursorError when it is malformed, its signature does not match `secret` (tampered,
 *         or signed by another deployment), its payload is invalid, or it belongs to another query,
 *         other filters or another sort (`options`).
 */
export function decodeSearchCursor(cursor: string, q: string, secret: string | Buffer, options: SearchOptions = {}): SearchCursor {
  const c = decodeSignedCursor<Partial<SearchCursor>>(cursor, secret);
  if (typeof c.search_timestamp_ms !== 'number' || typeof c.last_video_id !== 'string' || typeof c.query_hash !== 'string'
    || typeof c.offset !== 'number' || !Number.isInteger(c.offset) || c.offset < 0) {
    throw new InvalidCursorError('cursor payload is invalid');
  }
  if (c.query_hash !== queryHash(q, options)) throw new InvalidCursorError('cursor belongs to another query, other filters or another sort');
  return c as SearchCursor;
}
