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
