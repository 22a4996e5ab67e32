/**
 * Search resource (prefix `/api/v1/search`):
 * - `GET /videos?q=&page_size=&cursor=` → `{ videos, next_cursor }`; a bad cursor → 400 INVALID_CURSOR
 *   (the search read model raises InvalidCursorError; the error handler maps it).
 * - Filters (issue 14): `min_duration_seconds`, `max_duration_seconds`, `published_after`,
 *   `published_before` (RFC 3339), `tag` (repeatable: all of them), `channel` (a user id);
 *   `sort=relevance|date|views`; `facets=tags` adds `facets.tags` on the first page. A cursor only
 *   continues the same q, filters and sort (else 400 INVALID_CURSOR).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Errors } from '../../errors.ts';
import { etagOnSend } from '../../plugins/etag.ts';
import { DEFAULT_SEARCH_PAGE, searchVideosSchema } from './search.schemas.ts';

export const searchRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { readModels: { search }, objectStore } = fastify.gateway;

  fastify.get('/videos', { schema: searchVideosSchema, onSend: etagOnSend }, async (request) => {
    const { q, page_size: pageSize, cursor, sort, facets } = request.query;
    const query = request.query;
    /** ms of an RFC 3339 instant; one the format admits but Date cannot hold (a leap second) is a 400, never a dropped bound. */
    const instant = (iso: string | undefined, name: string) => {
      if (iso === undefined) return undefined;
      const ms = Date.parse(iso);
      if (Number.isNaN(ms)) throw new Errors.ValidationError(`querystring/${name} is not an instant this server can compare (${iso})`);
      return ms;
    };
    const page = await search.search(q, pageSize ?? DEFAULT_SEARCH_PAGE, cursor, {
      filters: {
        minDurationSeconds: query.min_duration_seconds,
        maxDurationSeconds: query.max_duration_seconds,
        publishedAfter: instant(query.published_after, 'published_after'),
        publishedBefore: instant(query.published_before, 'published_before'),
        tags: query.tag,
        channel: query.channel,
      },
      sort,
      facets: facets === 'tags',
    });
    return {
      videos: page.videos.map((v) => ({
        id: v.videoId,
        owner_id: v.ownerId,
        title: v.title,
        description: v.description,
        tags: v.tags,
        thumbnail_url: v.thumbnailKey ? objectStore.publicUrl(v.thumbnailKey) : null,
        duration_seconds: v.durationSeconds,
        published_at: v.publishedAt == null ? null : new Date(v.publishedAt).toISOString(),
        views: v.views,
      })),
      next_cursor: page.nextCursor,
      ...(page.facets && { facets: page.facets }),
    };
  });
};
