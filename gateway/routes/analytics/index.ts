/**
 * Analytics resource (prefix `/api/v1/videos`):
 * - `GET /{id}/analytics` (auth, owner only → 403 NOT_OWNER) → views, unique viewers, watch time
 *   (seconds) and views per minute, from the analytics read model (ClickHouse / chDB), with the
 *   `view_rule_version` they are counted under (docs/view-rule.md).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { VIEW_RULE_VERSION } from '../../../domain/view/view-rule.ts';
import { requireUserId } from '../../plugins/auth.plugin.ts';
import { assertOwner, loadVideo } from '../shared.ts';
import { videoAnalyticsSchema } from './analytics.schemas.ts';

export const analyticsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { analytics } = fastify.gateway.readModels;

  fastify.get('/:id/analytics', { schema: videoAnalyticsSchema, onRequest: fastify.authenticate }, async (request) => {
    const userId = requireUserId(request);
    const video = await loadVideo(fastify, request.params.id);
    assertOwner(video, userId);
    const a = await analytics.videoAnalytics(video.videoId);
    return {
      views: a.views,
      unique_viewers: a.unique_viewers,
      watch_time_seconds: a.watch_time_seconds,
      views_per_minute: a.views_per_minute.map((m) => ({ minute: m.minute, views: m.views })),
      view_rule_version: VIEW_RULE_VERSION,
    };
  });
};
