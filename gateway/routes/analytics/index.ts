/**
 * Analytics resource (prefix `/api/v1/videos`):
 * - `GET /{id}/analytics?interval=minute|hour|day&time_zone=IANA` (auth, owner only → 403
 *   NOT_OWNER) → views, unique viewers, watch time (seconds) and views per minute, from the
 *   analytics read model (ClickHouse / chDB), with the `view_rule_version` they are counted under
 *   (docs/view-rule.md); beside them the studio figures (issue 15, analytics.port.ts
 *   VideoInsights): sessions, average view duration, retention, concurrent viewers, views over
 *   time, quality of experience, likes and comments over time (the same buckets) and the
 *   engagement rate (analytics.port.ts VideoEngagement). An unknown time zone → 400 VALIDATION_ERROR.
 * And `channelAnalyticsRoutes` (prefix `/api/v1/users`): `GET /me/analytics`, the caller's channel
 * rolled up (issue 15 "per channel").
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { VIEW_RULE_VERSION } from '../../../domain/view/view-rule.ts';
import { Errors } from '../../errors.ts';
import { AnalyticsStoreError } from '../../../projections/analytics/analytics-store.port.ts';
import { requireUserId } from '../../plugins/auth.plugin.ts';
import { assertOwner, loadVideo } from '../shared.ts';
import { channelAnalyticsSchema, videoAnalyticsSchema } from './analytics.schemas.ts';

/** An IANA name as tzdata spells them (`America/Argentina/Buenos_Aires`, `Etc/GMT+5`, `UTC`): no offsets, no paths. */
const TIME_ZONE_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){0,2}$/;

/**
 * IANA time zone `name` resolved as ICU knows it (Intl.DateTimeFormat's resolvedOptions, ECMA-402),
 * case-insensitively:
 * - `zone`: ICU's identifier for it, what the analytics store buckets in. ICU keeps CLDR's older
 *   link names (`Asia/Kolkata` → `Asia/Calcutta`, `Europe/Kyiv` → `Europe/Kiev`); ClickHouse's
 *   tzdata knows both names of such a link as the same zone.
 * - `name`: what the answer's `time_zone` fields echo, the caller's own name: ICU's spelling when
 *   the two differ only in case (`utc` → `UTC`, `australia/adelaide` → `Australia/Adelaide`),
 *   else the caller's name as sent (a client that asked for `Asia/Kolkata` gets `Asia/Kolkata`
 *   back, not the link it resolves to).
 * @throws Errors.ValidationError (400 VALIDATION_ERROR) when it is not a time zone name ICU knows
 */
export function resolveTimeZone(name: string): { zone: string; name: string } {
  if (TIME_ZONE_NAME.test(name)) {
    let zone: string | undefined;
    try {
      zone = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
    } catch { /* RangeError: unknown zone; answered below */ }
    if (zone !== undefined) return { zone, name: zone.toLowerCase() === name.toLowerCase() ? zone : name };
  }
  throw new Errors.ValidationError(`querystring/time_zone must be an IANA time zone name such as Europe/Paris, got ${JSON.stringify(name)}`);
}

/** `answer` with the `time_zone` of each of its top-level `*_over_time` series set to `name` (resolveTimeZone's echo). */
function echoTimeZone<T extends object>(answer: T, name: string): T {
  const echoed: Record<string, unknown> = { ...(answer as Record<string, unknown>) };
  for (const [field, value] of Object.entries(echoed)) {
    if (field.endsWith('_over_time') && typeof value === 'object' && value !== null && 'time_zone' in value) echoed[field] = { ...value, time_zone: name };
  }
  return echoed as T;
}

/**
 * A rejection handler that answers 400 VALIDATION_ERROR when the store does not know `zone`
 * (resolveTimeZone; the message names the caller's `name` too): ICU and ClickHouse carry their own
 * tz databases, and a zone only the newer one knows is the client's input ClickHouse cannot use,
 * not the store failing. Anything else is rethrown.
 */
const zoneUnknownToStore = ({ zone, name }: { zone: string; name: string }) => (e: unknown): never => {
  if (e instanceof AnalyticsStoreError && /time ?zone/i.test(e.message)) {
    const as = zone === name ? '' : ` (as ${JSON.stringify(zone)})`;
    throw new Errors.ValidationError(`querystring/time_zone ${JSON.stringify(name)}${as} is not known to the analytics store; use another name for it (e.g. UTC)`);
  }
  throw e;
};

/**
 * `GET /me/analytics` (prefix `/api/v1/users`; auth): the caller's channel rolled up over every
 * video they uploaded (video-detail's per-owner index, whatever the status or visibility), from
 * the analytics read model (analytics.port.ts ChannelAnalytics), top videos with their titles.
 * Same query and errors as the per-video route.
 */
export const channelAnalyticsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { analytics } = fastify.gateway.readModels;

  fastify.get('/me/analytics', { schema: channelAnalyticsSchema, onRequest: fastify.authenticate }, async (request) => {
    const userId = requireUserId(request);
    const zones = resolveTimeZone(request.query.time_zone ?? 'UTC');
    const videos = await fastify.gateway.readModels['video-detail'].listUserVideos(userId);
    const rollup = echoTimeZone(await analytics.channelAnalytics(userId, videos.map((v) => v.videoId), { now: fastify.gateway.now(), interval: request.query.interval ?? 'hour', timeZone: zones.zone })
      .catch(zoneUnknownToStore(zones)), zones.name);
    const titles = new Map(videos.map((v) => [v.videoId, v.title]));
    return {
      channel_id: userId,
      ...rollup,
      top_videos: rollup.top_videos.map((v) => ({ ...v, title: titles.get(v.video_id) ?? '' })),
      view_rule_version: VIEW_RULE_VERSION,
    };
  });
};

export const analyticsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { analytics } = fastify.gateway.readModels;

  fastify.get('/:id/analytics', { schema: videoAnalyticsSchema, onRequest: fastify.authenticate }, async (request) => {
    const userId = requireUserId(request);
    const zones = resolveTimeZone(request.query.time_zone ?? 'UTC');
    const video = await loadVideo(fastify, request.params.id);
    assertOwner(video, userId);
    // One read: the four fields analytics had before issue 15 come with the insights.
    const insights = await analytics.videoInsights(video.videoId, { now: fastify.gateway.now(), interval: request.query.interval ?? 'hour', timeZone: zones.zone }).catch(zoneUnknownToStore(zones));
    return { ...echoTimeZone(insights, zones.name), view_rule_version: VIEW_RULE_VERSION };
  });
};
