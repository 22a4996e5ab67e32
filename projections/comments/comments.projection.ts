/**
 * The comments read model: every comment of every video, listed newest first with an opaque
 * cursor. Consumes the comments topic. Serves CommentQueries.
 *
 * Key layout: `comment:<videoId>:<postedAt, 15 digits>:<commentId>` → CommentView (ids
 * URI-encoded), scanned in reverse key order for newest first. Issue 13 (erasure):
 * `author:<userId>:<comment key>` → true indexes each author's comments, and `erased:<userId>` →
 * true marks an erased author. UserErased (users topic) turns the author's comments into
 * placeholders (DELETED_COMMENT_BODY, no author) and drops the index; a comment of an erased
 * author read later (replay, or a comment still in flight) is stored as a placeholder directly.
 * Issue 14: `id:<videoId>:<commentId>` → the comment's key, so that CommentDeleted (which carries
 * no posting time) turns the comment into the same placeholder; its replies stay. And
 * `reply:<videoId>:<parentId>:<postedAt>:<commentId>` → the reply's key: one thread's replies, oldest first.
 */
import pino from 'pino';
import type { DomainEvent } from '../../domain/events.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { InvalidCursorError } from '../read-model.port.ts';
import { createKeyValueProjection, type KeyValueBatch } from '../stores/key-value-projection.ts';
import type { KeyValueStore } from '../stores/key-value-store.port.ts';
import { DELETED_COMMENT_BODY, type CommentQueries, type CommentView } from './comments.port.ts';

export const COMMENTS = 'comments';
/** 3: an id index (`id:<video>:<comment>` → the comment's key) for CommentDeleted, and a reply index per thread (issue 14). */
export const COMMENTS_LAYOUT_VERSION = 3;

/** Largest page of comments, and the default the gateway asks for is smaller (20). */
const MAX_COMMENTS_PAGE = 1000;

const enc = encodeURIComponent;
const pad = (n: number) => String(Math.max(0, Math.floor(n))).padStart(15, '0');
const commentPrefix = (videoId: string) => `comment:${enc(videoId)}:`;
const commentKey = (videoId: string, postedAt: number, commentId: string) => `${commentPrefix(videoId)}${pad(postedAt)}:${enc(commentId)}`;
const authorPrefix = (userId: string) => `author:${enc(userId)}:`;
const erasedKey = (userId: string) => `erased:${enc(userId)}`;
const idKey = (videoId: string, commentId: string) => `id:${enc(videoId)}:${enc(commentId)}`;
const replyPrefix = (videoId: string, parentId: string) => `reply:${enc(videoId)}:${enc(parentId)}:`;
/** A comment whose author was erased: same place in its thread, nothing of what they wrote. */
const placeholder = (c: CommentView): CommentView => ({ ...c, authorId: null, body: DELETED_COMMENT_BODY, deleted: true });

export interface CommentsProjectionDeps {
  store: KeyValueStore;
  logger?: pino.Logger;
}

/** The comments projection node (see the file comment). */
export function createCommentsProjection(deps: CommentsProjectionDeps): ProjectionNode<CommentQueries> {
  const { store } = deps;

  async function applyEvent(tx: KeyValueBatch, e: DomainEvent): Promise<void> {
    if (e.type === 'UserErased') {
      const prefix = authorPrefix(e.data.userId);
      // In pages: each page's index keys are deleted in the batch, so the next read sees the rest.
      for (let page = await tx.keys(prefix, 10_000); page.length > 0; page = await tx.keys(prefix, 10_000)) {
        for (const indexKey of page) {
          const key = indexKey.slice(prefix.length);
          const comment = await tx.get<CommentView>(key);
          if (comment) tx.put(key, placeholder(comment));
          tx.del(indexKey);
        }
      }
      tx.put(erasedKey(e.data.userId), true);
      return;
    }
    if (e.type === 'CommentDeleted') {
      const key = await tx.get<string>(idKey(e.data.videoId, e.data.commentId));
      const comment = key === undefined ? undefined : await tx.get<CommentView>(key);
      if (key === undefined || comment === undefined || comment.deleted) return;
      tx.put(key, placeholder(comment));
      if (comment.authorId !== null) tx.del(authorPrefix(comment.authorId) + key);
      return;
    }
    if (e.type !== 'CommentPosted') return;
    const d = e.data;
    const key = commentKey(d.videoId, d.postedAt, d.commentId);
    // A redelivered CommentPosted after its CommentDeleted must not bring the text back.
    if ((await tx.get<CommentView>(key))?.deleted) return;
    tx.put(idKey(d.videoId, d.commentId), key);
    if (d.parentId) tx.put(`${replyPrefix(d.videoId, d.parentId)}${pad(d.postedAt)}:${enc(d.commentId)}`, key);
    const comment: CommentView = { commentId: d.commentId, videoId: d.videoId, authorId: d.authorId, parentId: d.parentId ?? null, body: d.body, postedAt: d.postedAt };
    if (await tx.get<boolean>(erasedKey(d.authorId))) {
      tx.put(key, placeholder(comment));
      return;
    }
    tx.put(key, comment);
    tx.put(authorPrefix(d.authorId) + key, true);
  }

  /** One page of `prefix`'s index (values: comment keys), after the cursor's key, resolved to the comments. */
  async function indexPage(prefix: string, limit: number, cursor: string | undefined, what: string) {
    let after: string | undefined;
    if (cursor !== undefined) {
      const c = decodeCursor<{ k?: unknown }>(cursor);
      if (typeof c.k !== 'string' || !c.k.startsWith(prefix)) throw new InvalidCursorError(`cursor does not belong to this ${what}`);
      after = c.k;
    }
    const n = Math.min(MAX_COMMENTS_PAGE, Math.max(1, Math.floor(limit) || 1));
    const page = await store.scan<string>(prefix, { limit: n + 1, after });
    const entries = page.slice(0, n);
    const comments = await store.getMany<CommentView>(entries.map((e) => e.value));
    return {
      comments: comments.filter((c): c is CommentView => c !== undefined),
      nextCursor: page.length > n ? encodeCursor({ k: entries[entries.length - 1].key }) : null,
    };
  }

  const queries: CommentQueries = {
    listReplies: (videoId, parentId, limit, cursor) => indexPage(replyPrefix(videoId, parentId), limit, cursor, 'thread'),
    getComment: (videoId, postedAt, commentId) => store.get<CommentView>(commentKey(videoId, postedAt, commentId)),
    async listCommentsByAuthor(authorId) {
      const prefix = authorPrefix(authorId);
      const index = await store.scan(prefix, { limit: 1_000_000 });
      const comments = await store.getMany<CommentView>(index.map((e) => e.key.slice(prefix.length)));
      return comments.filter((c): c is CommentView => c !== undefined);
    },
    async listComments(videoId, limit, cursor) {
      const prefix = commentPrefix(videoId);
      let after: string | undefined;
      if (cursor !== undefined) {
        const c = decodeCursor<{ k?: unknown }>(cursor);
        if (typeof c.k !== 'string' || !c.k.startsWith(prefix)) throw new InvalidCursorError('cursor does not belong to this video');
        after = c.k;
      }
      const n = Math.min(MAX_COMMENTS_PAGE, Math.max(1, Math.floor(limit) || 1));
      const page = await store.scan<CommentView>(prefix, { reverse: true, limit: n + 1, after });
      const comments = page.slice(0, n);
      return {
        comments: comments.map((p) => p.value),
        nextCursor: page.length > n ? encodeCursor({ k: comments[comments.length - 1].key }) : null,
      };
    },
  };

  return createKeyValueProjection({
    name: COMMENTS, layoutVersion: COMMENTS_LAYOUT_VERSION, inputs: [TOPICS.comments, TOPICS.users], store, queries, applyEvent, logger: deps.logger,
  });
}
