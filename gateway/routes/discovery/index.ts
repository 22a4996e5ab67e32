/**
 * Discovery (prefix `/api/v1/videos`, issue 14):
 * - `GET /trending?limit=` (1–50, default 20) → `{ videos }`: the public, published videos with
 *   the most counted views lately, best first, each with `trending_score`, its counted views
 *   decayed with a 6 h half-life to now. Kept ranked by the video-detail projection
 *   (projections/video-detail/trending.ts): a request reads the top of an index.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { isListed } from '../../../domain/video/video-visibility.ts';
import { videoDetailJson } from '../shared.ts';
import { DEFAULT_TRENDING, trendingSchema } from './discovery.schemas.ts';

export const discoveryRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { readModels, now } = fastify.gateway;

  fastify.get('/trending', { schema: trendingSchema }, async (request) => {
    const ranked = await readModels['video-detail'].trending(request.query.limit ?? DEFAULT_TRENDING, now(), isListed);
    return { videos: ranked.map(({ video, score }) => ({ ...videoDetailJson(video, fastify), trending_score: score })) };
  });
};
