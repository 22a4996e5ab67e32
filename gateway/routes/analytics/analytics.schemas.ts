import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';
import { BEARER, VideoIdParams } from '../shared.ts';

export const videoAnalyticsSchema = {
  summary: 'Creator analytics of a video (owner only; view rule v2, docs/view-rule.md)',
  tags: ['analytics'],
  security: BEARER,
  params: VideoIdParams,
  response: withErrors({
    200: Type.Object({
      views: Type.Integer(),
      unique_viewers: Type.Integer(),
      watch_time_seconds: Type.Number(),
      views_per_minute: Type.Array(
        Type.Object({ minute: Type.String({ description: 'ISO 8601 UTC, minute precision, ascending.' }), views: Type.Integer() }),
      ),
      view_rule_version: Type.String({ description: 'The view rule the figures are counted under (v2; heartbeats recorded before it stay counted under v1).' }),
    }),
  }),
};
