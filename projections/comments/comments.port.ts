/** Query port of the comments read model (key-value store: embedded in standalone mode, Redis in cluster mode). */

/** The body a comment shows once its author was erased (issue 13): the thread keeps its shape. */
export const DELETED_COMMENT_BODY = '[deleted]';

export interface CommentView {
  commentId: string;
  videoId: string;
  /** null once the author was erased. */
  authorId: string | null;
  /** The comment this one replies to, or null for a top-level comment. */
  parentId: string | null;
  body: string;
  /** ms since the Unix epoch. */
  postedAt: number;
  /** True for a placeholder (DELETED_COMMENT_BODY, no author); absent in documents of layout 1. */
  deleted?: boolean;
}

export interface CommentQueries {
  /**
   * Comments of a video, newest first, `limit` (1..1000) per page; `cursor` is the opaque
   * `nextCursor` of the previous page.
   * @throws InvalidCursorError (read-model.port.ts) for a cursor that is not one of this video's.
   */
  listComments(videoId: string, limit: number, cursor?: string): Promise<{ comments: CommentView[]; nextCursor: string | null }>;
  /**
   * One comment by its video, `postedAt` (ms since the epoch) and id, as a live event names it
   * (projections/live-events); undefined when there is none; the placeholder once its author was erased.
   */
  getComment(videoId: string, postedAt: number, commentId: string): Promise<CommentView | undefined>;
  /**
   * The replies to comment `parentId` of a video, oldest first (a thread reads in order), `limit`
   * (1..1000) per page; `cursor` is the opaque `nextCursor` of the previous page (issue 14).
   * @throws InvalidCursorError for a cursor that is not one of this thread's.
   */
  listReplies(videoId: string, parentId: string, limit: number, cursor?: string): Promise<{ comments: CommentView[]; nextCursor: string | null }>;
  /** Every comment `authorId` wrote (on any video), oldest video key first; [] once they are erased. For the data export (issue 13). */
  listCommentsByAuthor(authorId: string): Promise<CommentView[]>;
}
