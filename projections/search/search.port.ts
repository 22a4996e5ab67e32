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
}

export interface SearchQueries {
  /**
   * Full-text search with typo tolerance over title, description and tags; only ready videos.
   * `pageSize` 1..100; `cursor` is the opaque `nextCursor` of the previous page, bound to the query.
   * @throws InvalidCursorError (read-model.port.ts) for a tampered cursor or one of another query.
   */
  search(q: string, pageSize: number, cursor?: string): Promise<{ videos: SearchHit[]; nextCursor: string | null }>;
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
