/**
 * Search resource (prefix `/api/v1/search`):
 * - `GET /videos?q=&page_size=&cursor=` → `{ videos, next_cursor }`; a bad cursor → 400 INVALID_CURSOR
 *   (the search read model raises InvalidCursorError; the error handler maps it).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { DEFAULT_SEARCH_PAGE, searchVideosSchema } from './search.schemas.ts';

export const searchRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { readModels: { search }, objectStore } = fastify.gateway;

  fastify.get('/videos', { schema: searchVideosSchema }, async (request) => {
    const { q, page_size: pageSize, cursor } = request.query;
    const page = await search.search(q, pageSize ?? DEFAULT_SEARCH_PAGE, cursor);
    return {
      videos: page.videos.map((v) => ({
        id: v.videoId,
        title: v.title,
        description: v.description,
        tags: v.tags,
        thumbnail_url: v.thumbnailKey ? objectStore.publicUrl(v.thumbnailKey) : null,
        duration_seconds: v.durationSeconds,
      })),
      next_cursor: page.nextCursor,
    };
  });
};
