/**
 * The comments read model: every comment of every video, listed newest first with an opaque
 * cursor. Consumes the comments topic. Serves CommentQueries.
 *
 * Key layout: `comment:<videoId>:<postedAt, 15 digits>:<commentId>` → CommentView (ids
 * URI-encoded), scanned in reverse key order for newest first.
 */
import pino from 'pino';
import type { DomainEvent } from '../../domain/events.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { InvalidCursorError } from '../read-model.port.ts';
import { createKeyValueProjection, type KeyValueBatch } from '../stores/key-value-projection.ts';
import type { KeyValueStore } from '../stores/key-value-store.port.ts';
import type { CommentQueries, CommentView } from './comments.port.ts';

export const COMMENTS = 'comments';
export const COMMENTS_LAYOUT_VERSION = 1;

/** Largest page of comments, and the default the gateway asks for is smaller (20). */
const MAX_COMMENTS_PAGE = 1000;

const enc = encodeURIComponent;
const pad = (n: number) => String(Math.max(0, Math.floor(n))).padStart(15, '0');
const commentPrefix = (videoId: string) => `comment:${enc(videoId)}:`;
const commentKey = (videoId: string, postedAt: number, commentId: string) => `${commentPrefix(videoId)}${pad(postedAt)}:${enc(commentId)}`;

export interface CommentsProjectionDeps {
  store: KeyValueStore;
  logger?: pino.Logger;
}

/** The comments projection node (see the file comment). */
export function createCommentsProjection(deps: CommentsProjectionDeps): ProjectionNode<CommentQueries> {
  const { store } = deps;

  async function applyEvent(tx: KeyValueBatch, e: DomainEvent): Promise<void> {
    if (e.type !== 'CommentPosted') return;
    const d = e.data;
    const key = commentKey(d.videoId, d.postedAt, d.commentId);
    const comment: CommentView = { commentId: d.commentId, videoId: d.videoId, authorId: d.authorId, parentId: d.parentId ?? null, body: d.body, postedAt: d.postedAt };
    tx.put(key, comment);
  }

  const queries: CommentQueries = {
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
    name: COMMENTS, layoutVersion: COMMENTS_LAYOUT_VERSION, inputs: [TOPICS.comments], store, queries, applyEvent, logger: deps.logger,
  });
}
