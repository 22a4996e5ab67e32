/**
 * Live events of a video (prefix `/api/v1/videos`; issue 14, seed 000 issue 6: push instead of
 * polling): `GET /{id}/events` answers `text/event-stream` (Server-Sent Events, WHATWG HTML §9.2)
 * with these events, each `data` a JSON object:
 * - `status`: the body of `GET /{id}/status` (processing progress, renditions, failure);
 * - `views` `{views}` and `likes` `{like_count}`: the counts of the video detail, views at most
 *   once a second;
 * - `comment`: a new comment, as an item of `GET /{id}/comments`; `comment_deleted` `{id}`: a
 *   comment was deleted (it lists as a placeholder from now on); pushed from where the gateway's
 *   feed stood when the stream opened, so a comment accepted just before may be pushed as well
 *   (at least once: a client drops a comment id it already listed);
 * - `reset` `{reason}`: the stream could not resume from `Last-Event-ID` (POSITION_UNKNOWN,
 *   POSITION_NOT_RETAINED); the client re-reads comments over REST, the rest follows;
 * - `gone`: the video was deleted or is no longer visible to the caller; the stream ends.
 * A new stream starts with `status`, `views` and `likes`. Every event's `id` is a log position
 * (projections/live-events): a reconnect with `Last-Event-ID` resumes after it, on any gateway.
 * Visibility as `GET /{id}` (404 VIDEO_NOT_FOUND); with `Authorization` for an owner's own
 * processing video (EventSource cannot send headers; a fetch-based client can). Each message is
 * built from the read models when it is sent, so what a read model no longer shows (an erased
 * author's comment) is never sent. At most `eventStreamsPerIp` streams per client address per
 * gateway (429 TOO_MANY_STREAMS); a keep-alive comment every `eventStreamKeepAliveSeconds`; no
 * request timeout applies once the stream is open.
 */
import { fastifySSE } from '@fastify/sse';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Gauge, type Registry } from 'prom-client';
import { canSeeVideo } from '../../../domain/video/video-visibility.ts';
import type { LiveEvents, LiveSignal } from '../../../projections/live-events/live-events.port.ts';
import { Errors } from '../../errors.ts';
import { commentJson } from '../comments/comments.schemas.ts';
import { loadVisibleVideo } from '../shared.ts';
import { videoStatusJson } from '../videos/videos.schemas.ts';
import { eventsSchema } from './events.schemas.ts';

/** Options: the feed and the Prometheus registry of the open-streams gauge. */
export interface EventsRoutesOptions {
  live: LiveEvents;
  registry: Registry;
}

const OPEN = 'streamwave_gateway_event_streams';
/** Least time between two `views` events of one stream, ms. */
const VIEWS_EVERY_MS = 1000;
/** Signals waiting to be sent on one stream before it is closed (a client that does not read; it reconnects with Last-Event-ID). */
const MAX_PENDING = 1000;

/** An SSE message: event name, JSON data, and the log position as its id (omitted when empty). */
interface Message { event: string; data: unknown; id?: string }

export const eventsRoutes: FastifyPluginAsyncTypebox<EventsRoutesOptions> = async (fastify, { live, registry }) => {
  const { readModels, readYourWrites, config } = fastify.gateway;
  await fastify.register(fastifySSE, { heartbeatInterval: config.eventStreamKeepAliveSeconds * 1000 });
  const open =
    (registry.getSingleMetric(OPEN) as Gauge | undefined) ??
    new Gauge({ name: OPEN, help: 'Server-Sent Event streams open on this gateway (GET /videos/{id}/events).', registers: [registry] });
  const perIp = new Map<string, number>();

  fastify.get('/:id/events', { schema: eventsSchema, sse: { kind: 'manual' }, onRequest: fastify.optionalAuthenticate }, async (request, reply) => {
    const viewer = request.principal?.userId ?? null;
    // Before any await: a socket that closes meanwhile has no address any more.
    const ip = request.ip;
    const videoId = (await loadVisibleVideo(fastify, request, request.params.id)).videoId;
    const streams = perIp.get(ip) ?? 0;
    if (streams >= config.eventStreamsPerIp) {
      reply.header('retry-after', String(config.eventStreamKeepAliveSeconds));
      throw new Errors.TooManyStreams(config.eventStreamsPerIp);
    }
    perIp.set(ip, streams + 1);
    open.inc();

    let closed = false;
    let pending = 0;
    let chain: Promise<void> = Promise.resolve();
    let lastViewsAt = 0;
    let viewsTimer: NodeJS.Timeout | undefined;
    let lastViews: LiveSignal | undefined;

    const write = async (m: Message): Promise<void> => {
      if (closed) return;
      await reply.sse.send({ event: m.event, data: m.data, ...(m.id && { id: m.id }) });
    };
    const end = () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearTimeout(viewsTimer);
      open.dec();
      const n = (perIp.get(ip) ?? 1) - 1;
      if (n > 0) perIp.set(ip, n); else perIp.delete(ip);
      reply.sse.close();
    };
    const video = async () => {
      const v = await readModels['video-detail'].getVideo(videoId);
      return v && canSeeVideo(v, viewer) ? v : undefined;
    };
    /** The message a signal becomes, read from the read model that shows it (after waiting for it to). */
    const messageOf = async (s: LiveSignal): Promise<Message | undefined | 'gone'> => {
      const position = [{ topic: s.topic, partition: s.partition, offset: s.offset }];
      if (s.kind === 'comment_deleted') return { event: 'comment_deleted', data: { id: s.commentId }, id: s.id };
      if (s.kind === 'comment') {
        await readYourWrites('comments', position);
        // Topics are not ordered with each other: the video may have been hidden since.
        if ((await video()) === undefined) return 'gone';
        const c = await readModels.comments.getComment(videoId, s.postedAt!, s.commentId!);
        return c && { event: 'comment', data: commentJson(c), id: s.id };
      }
      await readYourWrites('video-detail', position);
      const v = await video();
      if (v === undefined) return 'gone';
      if (s.kind === 'views') return { event: 'views', data: { views: v.views }, id: s.id };
      if (s.kind === 'likes') return { event: 'likes', data: { like_count: v.likeCount }, id: s.id };
      return { event: 'status', data: videoStatusJson(v), id: s.id };
    };
    const enqueue = (job: () => Promise<void>) => {
      if (closed) return;
      if (++pending > MAX_PENDING) {
        request.log.info({ videoId }, 'event stream closed: the client does not read');
        end();
        return;
      }
      chain = chain.then(job).catch((err: unknown) => {
        // A read model that fails (its server down) ends the stream; the client reconnects and resumes.
        request.log.warn({ err, videoId }, 'event stream closed: a read model failed');
        end();
      }).finally(() => { pending--; });
    };
    const deliver = (s: LiveSignal) => enqueue(async () => {
      const m = await messageOf(s);
      if (m === 'gone') {
        await write({ event: 'gone', data: { video_id: videoId } });
        end();
      } else if (m !== undefined) {
        await write(m);
      }
    });
    const onSignal = (s: LiveSignal) => {
      if (s.kind !== 'views') return deliver(s);
      // The view count at most once a second: the latest signal of the window, at its end.
      lastViews = s;
      if (viewsTimer !== undefined) return;
      const wait = Math.max(0, lastViewsAt + VIEWS_EVERY_MS - Date.now());
      viewsTimer = setTimeout(() => {
        viewsTimer = undefined;
        lastViewsAt = Date.now();
        deliver(lastViews!);
      }, wait);
    };
    // Subscribed before the start is read, so nothing falls between the two (a duplicate is harmless: each message is a state or an id).
    const unsubscribe = live.subscribe(videoId, onSignal);
    reply.sse.onClose(end);
    if (!reply.sse.isConnected) {
      // Closed while the video was being loaded: onClose has already fired.
      end();
      return;
    }
    reply.sse.keepAlive();
    // Committed now: a stream is open even before its first event (a resume with nothing new).
    reply.sse.sendHeaders();

    const lastEventId = request.headers['last-event-id'];
    const resumed = typeof lastEventId === 'string' && lastEventId.length > 0 ? live.since(videoId, lastEventId) : undefined;
    if (Array.isArray(resumed)) {
      for (const s of resumed) deliver(s);
      return;
    }
    const position = live.positionOf(videoId);
    enqueue(async () => {
      if (resumed !== undefined) await write({ event: 'reset', data: { reason: resumed.gap } });
      // The state as of the position the first events are stamped with.
      await readYourWrites('video-detail', live.lastEventsOf(videoId));
      const v = await video();
      if (v === undefined) {
        await write({ event: 'gone', data: { video_id: videoId } });
        end();
        return;
      }
      await write({ event: 'status', data: videoStatusJson(v), id: position });
      await write({ event: 'views', data: { views: v.views }, id: position });
      await write({ event: 'likes', data: { like_count: v.likeCount }, id: position });
    });
    await chain;
  });
};
