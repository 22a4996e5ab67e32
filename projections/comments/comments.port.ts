/** Query port of the comments read model (key-value store: embedded in standalone mode, Redis in cluster mode). */

export interface CommentView {
  commentId: string;
  videoId: string;
  authorId: string;
  /** The comment this one replies to, or null for a top-level comment. */
  parentId: string | null;
  body: string;
  /** ms since the Unix epoch. */
  postedAt: number;
}

export interface CommentQueries {
  /**
   * Comments of a video, newest first, `limit` (1..1000) per page; `cursor` is the opaque
   * `nextCursor` of the previous page.
   * @throws InvalidCursorError (read-model.port.ts) for a cursor that is not one of this video's.
   */
  listComments(videoId: string, limit: number, cursor?: string): Promise<{ comments: CommentView[]; nextCursor: string | null }>;
}
