/**
 * Discovery (prefix `/api/v1/videos`, issue 14):
 * - `GET /trending?limit=` (1–50, default 20) → `{ videos }`: the public, published videos with
 *   the most counted views lately, best first, each with `trending_score`, its counted views
 *   decayed with a 6 h half-life to now. Kept ranked by the video-detail projection
 *   (projections/video-detail/trending.ts): a request reads the top of an index.
 * - `GET /{id}/recommendations?limit=` (1–50, default 10) → `{ source, videos }`: up next after a
 *   video the caller may see (404 otherwise), from the recommendations read model (co-watched,
 *   then sharing tags), public and published only, never the video itself. When that read model
 *   fails or takes longer than RECOMMENDATIONS_TIMEOUT_MS, trending answers instead (`source:
 *   "trending"`; seed 004's cascade: timeout, then a cached fallback; never a 5xx). When the read
 *   models cannot be reached at all (Redis down in cluster mode), the trending list this gateway
 *   last read (re-read at most every TRENDING_CACHE_SECONDS) answers, whatever the id: it says nothing
 *   about the video, so nothing about a hidden one leaks.
 */
import { etagOnSend, varyOnAuthorization } from '../../plugins/etag.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { isListed } from '../../../domain/video/video-visibility.ts';
import type { Recommendation } from '../../../projections/recommendations/recommendations.port.ts';
import type { VideoDetail } from '../../../projections/video-detail/video-detail.port.ts';
import { unavailableServer } from '../../errors.ts';
import { loadVisibleVideo, videoDetailJson } from '../shared.ts';
import { DEFAULT_TRENDING, DEFAULT_UP_NEXT, MAX_LIMIT, recommendationsSchema, trendingSchema } from './discovery.schemas.ts';

/** How long up next waits for the recommendation read model before answering with trending, ms. */
export const RECOMMENDATIONS_TIMEOUT_MS = 300;

/** Age at which the gateway re-reads the trending list it keeps for up next when the read models are unreachable, seconds. */
export const TRENDING_CACHE_SECONDS = 30;

/** Oldest cached trending list up next answers with, seconds; older, the fallback is an empty list. */
export const TRENDING_CACHE_MAX_AGE_SECONDS = 300;

/** `promise`'s value, or undefined once it failed or `ms` passed. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(resolve, ms, undefined); });
  return Promise.race([promise.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

export const discoveryRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { readModels, now } = fastify.gateway;
  type Listed = ReturnType<typeof videoDetailJson>;

  /**
   * Up to MAX_LIMIT + 1 trending videos as last read, for when the read models are unreachable;
   * re-read in the background by a discovery request once older than TRENDING_CACHE_SECONDS (or empty).
   */
  let cached: Listed[] = [];
  let cachedAt = -Infinity;
  let refreshing: Promise<void> | undefined;
  const trendingExcept = async (videoId: string | null, limit: number): Promise<Listed[]> => {
    const ranked = await readModels['video-detail'].trending(limit, now(), (v) => v.videoId !== videoId && isListed(v));
    return ranked.map(({ video: v }) => videoDetailJson(v, fastify));
  };
  const refreshIfStale = () => {
    if (refreshing !== undefined || (cached.length > 0 && now() - cachedAt < TRENDING_CACHE_SECONDS * 1000)) return;
    refreshing = trendingExcept(null, MAX_LIMIT + 1)
      .then((videos) => { cached = videos; cachedAt = now(); })
      .catch((err: unknown) => fastify.log.debug({ err }, 'trending cache not refreshed (read model unavailable); the last list stays'))
      .finally(() => { refreshing = undefined; });
  };
  // Not served once older than TRENDING_CACHE_MAX_AGE_SECONDS: a video hidden or deleted since must not linger in an outage.
  const fromCache = (videoId: string, limit: number) => ({
    source: 'trending' as const,
    videos: now() - cachedAt > TRENDING_CACHE_MAX_AGE_SECONDS * 1000 ? []
      : cached.filter((v) => v.id !== videoId).slice(0, limit).map((v) => ({ ...v, reason: 'trending' as const })),
  });

  fastify.get('/trending', { schema: trendingSchema }, async (request) => {
    refreshIfStale();
    const ranked = await readModels['video-detail'].trending(request.query.limit ?? DEFAULT_TRENDING, now(), isListed);
    return { videos: ranked.map(({ video, score }) => ({ ...videoDetailJson(video, fastify), trending_score: score })) };
  });

  fastify.get('/:id/recommendations', { schema: recommendationsSchema, onRequest: fastify.optionalAuthenticate, onSend: etagOnSend }, async (request, reply) => {
    varyOnAuthorization(reply);
    const limit = request.query.limit ?? DEFAULT_UP_NEXT;
    refreshIfStale();
    let video: VideoDetail;
    try {
      video = await loadVisibleVideo(fastify, request, request.params.id);
    } catch (err) {
      if (unavailableServer(err) === undefined) throw err;
      request.log.warn({ videoId: request.params.id, err }, 'read models unreachable: up next answers the cached trending list');
      return fromCache(request.params.id, limit);
    }
    // Candidates are ids; some will not be listed (private, deleted): ask for more than shown.
    const candidates = await within(readModels.recommendations.upNext(video.videoId, limit * 2 + 5), RECOMMENDATIONS_TIMEOUT_MS);
    if (candidates === undefined) {
      request.log.warn({ videoId: video.videoId }, 'recommendations unavailable or slow: answering with trending');
      const trending = await within(trendingExcept(video.videoId, limit), RECOMMENDATIONS_TIMEOUT_MS);
      if (trending === undefined) return fromCache(video.videoId, limit);
      return { source: 'trending' as const, videos: trending.map((v) => ({ ...v, reason: 'trending' as const })) };
    }
    const shown: { json: Listed; reason: Recommendation['reason'] }[] = [];
    for (const c of candidates) {
      if (shown.length >= limit) break;
      let v: VideoDetail | undefined;
      try {
        v = await readModels['video-detail'].getVideo(c.videoId);
      } catch (err) {
        // Redis went down between the candidates and their details (the outage test met it once in ~700).
        if (unavailableServer(err) === undefined) throw err;
        request.log.warn({ videoId: video.videoId, err }, 'read models unreachable while listing up next: answering the cached trending list');
        return fromCache(video.videoId, limit);
      }
      if (v && isListed(v)) shown.push({ json: videoDetailJson(v, fastify), reason: c.reason });
    }
    return { source: 'recommendations' as const, videos: shown.map((x) => ({ ...x.json, reason: x.reason })) };
  });
};
