/** Query port of video search (Typesense in cluster mode, MiniSearch in standalone mode). */

export interface SearchHit {
  videoId: string;
  title: string;
  description: string;
  tags: string[];
  ownerId: string;
  thumbnailKey: string | null;
  /** Seconds. */
  durationSeconds: number | null;
  /** ms since the Unix epoch. */
  publishedAt: number | null;
  /**
   * Views as video detail counts them (the view rule, docs/view-rule.md), fed into the index in
   * batches (ViewCountSource): seconds behind video detail, 0 until the first feed.
   */
  views: number;
}

/**
 * The view counts of `videoIds` (absent: unknown video): video detail's counter, the one place the
 * view rule is applied. The search read model reads it in batches for the videos the views topic
 * mentioned, instead of counting views itself (seed 000 issue 5: indexing under load).
 */
export type ViewCountSource = (videoIds: string[]) => Promise<Map<string, number>>;

/**
 * How results are ordered, then by video id: `relevance` (the engine's text score), `date` (newest
 * `publishedAt` first), `views` (most viewed first, by the index's `views`). YouTube's "sort by".
 * Views change while a reader pages: a page continues after the last video shown at its current
 * count, so a video that overtakes it is not shown again and one that falls behind it may be.
 */
export type SearchSort = 'relevance' | 'date' | 'views';
export const SEARCH_SORTS: readonly SearchSort[] = ['relevance', 'date', 'views'];

/**
 * Filters of a search; absent fields filter nothing, every given one must hold (AND).
 * Bounds are inclusive. A video without a known duration never passes a duration bound.
 */
export interface SearchFilters {
  /** Seconds. */
  minDurationSeconds?: number;
  /** Seconds. */
  maxDurationSeconds?: number;
  /** ms since the Unix epoch. */
  publishedAfter?: number;
  /** ms since the Unix epoch. */
  publishedBefore?: number;
  /** The video carries every one of these tags (compared by tagKey: trimmed, lowercased); at most 10. */
  tags?: string[];
  /** The owner's user id (a channel). */
  channel?: string;
}

/** One tag facet: the tag (its key, see tagKey) and how many results of the search carry it. */
export interface TagFacet { value: string; count: number }

/** What a search asks besides its text, page size and cursor. */
export interface SearchOptions {
  filters?: SearchFilters;
  /** Default `relevance`. */
  sort?: SearchSort;
  /** Count the tags of the whole result set (filters applied): the 20 most frequent, then by tag. */
  facets?: boolean;
}

export interface SearchPage {
  videos: SearchHit[];
  nextCursor: string | null;
  /** Present when `facets` was asked and no cursor was given (facets describe the result set, not a page). */
  facets?: { tags: TagFacet[] };
}

export interface SearchQueries {
  /**
   * Full-text search with typo tolerance over title, description and tags; only ready videos.
   * `pageSize` 1..100; `cursor` is the opaque `nextCursor` of the previous page, bound to the
   * query, the filters and the sort (issue 14).
   * @throws InvalidCursorError (read-model.port.ts) for a tampered cursor or one of another query,
   *   other filters or another sort.
   */
  search(q: string, pageSize: number, cursor?: string, options?: SearchOptions): Promise<SearchPage>;
}

/**
 * A search engine that is a server (Typesense in cluster mode) could not do what was asked.
 * `code`: `SEARCH_UNAVAILABLE` (the server did not answer, or answered 5xx: retry later; the
 * gateway maps it to 503), `SEARCH_IO` (the server refused a write or answered something
 * unexpected), `SEARCH_SCHEMA` (a collection exists in a shape this code cannot use, e.g. written
 * by a newer StreamWave), `SEARCH_INVALID_NAME` (a prefix or instance id unusable in a
 * collection name), `SEARCH_IN_USE` (deleting the instance the public alias points at).
 */
export class SearchIndexError extends Error {
  constructor(
    readonly code: 'SEARCH_UNAVAILABLE' | 'SEARCH_IO' | 'SEARCH_SCHEMA' | 'SEARCH_INVALID_NAME' | 'SEARCH_IN_USE',
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'SearchIndexError';
  }
}
