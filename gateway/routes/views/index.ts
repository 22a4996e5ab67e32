/**
 * Views resource (prefix `/api/v1/videos`):
 * - `POST /{id}/views` (auth optional; a present but invalid token is still 401) → 202
 *   `{ accepted: true }` once the heartbeat is durable on the log. The playback path never waits
 *   on analytics: no read-your-writes here.
 *   The body's `session_id` must be a playback session issued by `GET /{id}/stream` for this video
 *   and not expired (gateway/playback, issue 8): otherwise 400 INVALID_PLAYBACK_SESSION and nothing
 *   is written to the log. Rejections are counted in `streamwave_heartbeats_rejected_total{reason}`.
 * - `POST /{id}/playback-events` (auth optional) → 202 `{ accepted: n }` once the player's
 *   quality-of-experience events (issue 15: start, rendition switch, rebuffer start/end, error,
 *   end) are durable on `streamwave.playback`; the same session check and counter as heartbeats,
 *   and 400 INVALID_PLAYBACK_EVENT (nothing written) when a report is out of range.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Counter, type Registry } from 'prom-client';
import { Errors } from '../../errors.ts';
import { playbackSessionsOf } from '../../playback/playback-session.ts';
import { recordPlaybackEventsSchema, recordViewSchema } from './views.schemas.ts';

const REJECTED = 'streamwave_heartbeats_rejected_total';

/** Options: the Prometheus registry the rejected-heartbeat counter goes to. */
export interface ViewsRoutesOptions {
  registry: Registry;
}

export const viewsRoutes: FastifyPluginAsyncTypebox<ViewsRoutesOptions> = async (fastify, { registry }) => {
  const { commandBus, now, config } = fastify.gateway;
  const playbackSessions = playbackSessionsOf(config, now);
  const rejected =
    (registry.getSingleMetric(REJECTED) as Counter<'reason'> | undefined) ??
    new Counter({ name: REJECTED, help: 'Player heartbeats and playback-event reports refused for an invalid playback session, by reason (malformed, bad_signature, expired, not_yet_valid).', labelNames: ['reason'], registers: [registry] });

  fastify.post('/:id/views', { schema: recordViewSchema, onRequest: fastify.optionalAuthenticate }, async (request, reply) => {
    const session = playbackSessions.verify(request.params.id, request.body.session_id);
    if (!session.ok) {
      rejected.inc({ reason: session.reason });
      throw new Errors.InvalidPlaybackSession(session.reason);
    }
    // No read-model lookup on the heartbeat path: the view decider checks the video against its
    // aggregate (404 VIDEO_NOT_FOUND / VIDEO_DELETED, 409 VIDEO_NOT_PUBLISHED unless ready).
    const viewerId = request.principal?.userId ?? null;
    await commandBus.send({
      type: 'RecordView',
      data: {
        videoId: request.params.id,
        sessionId: request.body.session_id,
        sessionStartedAt: session.issuedAt,
        viewerId,
        watchedSeconds: request.body.watched_seconds,
        positionSeconds: request.body.position_seconds,
      },
      metadata: { now: now(), ...(viewerId && { actorId: viewerId }) },
    });
    return reply.status(202).send({ accepted: true });
  });

  fastify.post('/:id/playback-events', { schema: recordPlaybackEventsSchema, onRequest: fastify.optionalAuthenticate }, async (request, reply) => {
    const session = playbackSessions.verify(request.params.id, request.body.session_id);
    if (!session.ok) {
      rejected.inc({ reason: session.reason });
      throw new Errors.InvalidPlaybackSession(session.reason);
    }
    const reports = request.body.events.map((e) => ({
      kind: e.type, positionSeconds: e.position_seconds, startupTimeMs: e.startup_time_ms, renditionHeight: e.rendition_height, rebufferMs: e.rebuffer_ms, errorCode: e.error_code,
    }));
    await commandBus.send({
      type: 'RecordPlaybackEvents',
      data: { videoId: request.params.id, sessionId: request.body.session_id, reports },
      metadata: { now: now(), ...(request.principal?.userId && { actorId: request.principal.userId }) },
    });
    return reply.status(202).send({ accepted: reports.length });
  });
};
