import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';
import { NotModified, withEtagHeaders } from '../../plugins/etag.ts';
import { VideoDetailJson, VideoIdParams } from '../shared.ts';

/** Trending videos when `limit` is absent. */
export const DEFAULT_TRENDING = 20;
/** Largest `limit` of the discovery listings. */
export const MAX_LIMIT = 50;

export const trendingSchema = {
  summary: 'Trending: public videos with the most counted views lately, best first',
  tags: ['discovery'],
  querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_TRENDING })) }, { additionalProperties: false }),
  response: withErrors({
    200: Type.Object({
      videos: Type.Array(Type.Intersect([VideoDetailJson, Type.Object({
        trending_score: Type.Number({ minimum: 0, description: 'Counted views (view rule v2) decayed with a 6 h half-life to now: each view weighs 2^(-age/6 h).' }),
      })])),
    }),
  }),
};

/** Recommendations when `limit` is absent. */
export const DEFAULT_UP_NEXT = 10;

export const recommendationsSchema = {
  summary: 'Up next: videos to watch after this one (co-watched, then sharing its tags; trending when those are unavailable)',
  tags: ['discovery'],
  params: VideoIdParams,
  querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_UP_NEXT })) }, { additionalProperties: false }),
  response: withErrors({
    304: NotModified,
    200: withEtagHeaders(Type.Object({
      source: Type.Union([Type.Literal('recommendations'), Type.Literal('trending')], {
        description: '`trending` when the recommendation read model did not answer in time (seed 004: timeout, then fallback).',
      }),
      videos: Type.Array(Type.Intersect([VideoDetailJson, Type.Object({
        reason: Type.Union([Type.Literal('co-watch'), Type.Literal('tags'), Type.Literal('trending')]),
      })])),
    })),
  }),
};
