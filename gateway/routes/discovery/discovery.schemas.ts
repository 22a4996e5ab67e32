import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';
import { VideoDetailJson } from '../shared.ts';

/** Trending videos when `limit` is absent. */
export const DEFAULT_TRENDING = 20;

export const trendingSchema = {
  summary: 'Trending: public videos with the most counted views lately, best first',
  tags: ['discovery'],
  querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: DEFAULT_TRENDING })) }, { additionalProperties: false }),
  response: withErrors({
    200: Type.Object({
      videos: Type.Array(Type.Intersect([VideoDetailJson, Type.Object({
        trending_score: Type.Number({ minimum: 0, description: 'Counted views (view rule v2) decayed with a 6 h half-life to now: each view weighs 2^(-age/6 h).' }),
      })])),
    }),
  }),
};
