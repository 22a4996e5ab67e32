import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ObjectStoreError, type ObjectStore } from '../object-store.port.ts';
import { supportsRangeReads } from '../object-range.port.ts';
import { assertNever } from '../../shared/assert-never.ts';
import { decideByteRange } from './byte-range.ts';
import { Transform, type Readable } from 'node:stream';
import { videoIdOfMediaKey, type MediaUrlSigning } from './media-url-signing.ts';

/**
 * How a video's media may be served (the rule is domain/video/video-visibility.ts mediaAccessOf):
 * `public` plain URLs, cacheable; `signed` only under a valid signed prefix, `private, no-store`;
 * `gone` 404 for everyone (deleted or unknown: the tombstone check of issue 8).
 */
export type MediaAccessLevel = 'public' | 'signed' | 'gone';

export interface MediaPluginOptions {
  store: ObjectStore;
  /**
   * The access level of a video, looked up before every response (the video-detail read model,
   * which the DELETE waits for before its 204: deleted media answers 404 at once, whatever the
   * collector has removed yet). Absent: every video is public (tests, tools).
   */
  access?: (videoId: string) => Promise<MediaAccessLevel>;
  /** Verifies signed media URLs (`/signed/<token>/<key>`); absent: signed URLs answer 404. */
  signing?: MediaUrlSigning;
}

/** Cache-Control of media served through a signed URL: never stored by a shared cache (issue 8). */
const PRIVATE = 'private, no-store';

/** Key prefixes that are public: HLS output and thumbnails; raw uploads stay private. */
const PUBLIC_PREFIXES = ['videos/'];

/** How long a response may be cached; why it differs per kind is in `mediaResponseHeaders`. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
const PLAYLIST = 'public, max-age=2';

/**
 * Content type and Cache-Control for a media key, by extension.
 * - `.m3u8` → `application/vnd.apple.mpegurl` (RFC 8216 §4), cached 2 s: the master playlist grows
 *   as renditions finish, so players must refetch it soon.
 * - `.m4s` → `video/iso.segment` (CMAF/ISO BMFF media segment), `.mp4` (init segment) → `video/mp4`,
 *   `.ts` → `video/mp2t`, `.jpg` → `image/jpeg`, `.vtt` → `text/vtt`: written once under a
 *   per-video key and never rewritten, so cached for a year as `immutable`.
 * `.webp` → `image/webp` (thumbnails) likewise. Any other extension (e.g. the transcoder's
 * `rendition.json`) is not a player file: `undefined`, and the plugin answers 404 (issue 8,
 * finding 10). The stored content type is never echoed: only these fixed types are served.
 */
function mediaResponseHeaders(key: string): { contentType: string; cacheControl: string } | undefined {
  const ext = /\.([A-Za-z0-9]+)$/.exec(key)?.[1]?.toLowerCase();
  switch (ext) {
    case 'm3u8':
      return { contentType: 'application/vnd.apple.mpegurl', cacheControl: PLAYLIST };
    case 'm4s':
      return { contentType: 'video/iso.segment', cacheControl: IMMUTABLE };
    case 'mp4':
      return { contentType: 'video/mp4', cacheControl: IMMUTABLE };
    case 'ts':
      return { contentType: 'video/mp2t', cacheControl: IMMUTABLE };
    case 'jpg':
    case 'jpeg':
      return { contentType: 'image/jpeg', cacheControl: IMMUTABLE };
    case 'webp':
      return { contentType: 'image/webp', cacheControl: IMMUTABLE };
    case 'vtt':
      return { contentType: 'text/vtt', cacheControl: IMMUTABLE };
    default:
      // Not a player file (rendition.json, probe output, anything else): never public (issue 8).
      return undefined;
  }
}

/** Skips `start` bytes and passes `end - start + 1`, for stores without ranged reads. */
function sliceStream(body: Readable, start: number, end: number): Readable {
  let offset = 0;
  const slicer = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const from = Math.max(0, start - offset);
      const to = Math.min(chunk.length, end + 1 - offset);
      offset += chunk.length;
      cb(null, from < to ? chunk.subarray(from, to) : undefined);
    },
  });
  body.on('error', (err) => slicer.destroy(err));
  slicer.on('close', () => body.destroy());
  return body.pipe(slicer);
}

function notFound(reply: FastifyReply) {
  return reply.code(404).header('cache-control', 'no-store').send({ code: 'NOT_FOUND', message: 'no such media object' });
}

/**
 * Serves published media (HLS playlists, init and media segments, thumbnails) from the
 * ObjectStore at `GET /media/<key>` (mount with `{ prefix: '/media' }`, matching the embedded
 * store's `mediaPathPrefix`, so `store.publicUrl(key)` points here). Only keys under
 * `PUBLIC_PREFIXES` are served; anything else (e.g. raw `uploads/`) is a 404 `{ code: 'NOT_FOUND' }`,
 * indistinguishable from a missing object. Supports single byte ranges (206 / 416) and HEAD, and
 * sends `Access-Control-Allow-Origin: *` so web players on other origins can fetch segments.
 *
 * Visibility and deletion (issue 8): with `access`, a video's media is served at `/media/<key>`
 * only while its level is `public`; `signed` videos (private, or not ready) only at
 * `/media/signed/<token>/<key>` with a valid token (media-url-signing.ts), answered
 * `Cache-Control: private, no-store`; `gone` (deleted) videos are a 404 on both paths.
 */
export const mediaPlugin: FastifyPluginAsync<MediaPluginOptions> = async (fastify, opts) => {
  const { store } = opts;

  fastify.addHook('onSend', async (_request, reply) => {
    reply.header('access-control-allow-origin', '*');
    reply.header('access-control-expose-headers', 'Content-Length, Content-Range, Accept-Ranges');
  });

  fastify.options('/*', async (_request, reply) =>
    reply
      .code(204)
      .header('access-control-allow-methods', 'GET, HEAD, OPTIONS')
      .header('access-control-allow-headers', 'Range')
      .header('access-control-max-age', '86400')
      .send(),
  );

  fastify.get<{ Params: { '*': string } }>('/*', async (request, reply) => {
    const key = request.params['*'] ?? '';
    if (!mediaResponseHeaders(key) || !PUBLIC_PREFIXES.some((p) => key.startsWith(p))) return notFound(reply);
    if (opts.access) {
      const videoId = videoIdOfMediaKey(key);
      if (!videoId || (await opts.access(videoId)) !== 'public') return notFound(reply);
    }
    return serve(key, request.headers.range, reply);
  });

  fastify.get<{ Params: { token: string; '*': string } }>('/signed/:token/*', async (request, reply) => {
    const key = request.params['*'] ?? '';
    const videoId = videoIdOfMediaKey(key);
    if (!videoId || !mediaResponseHeaders(key) || !opts.signing || !opts.signing.verify(request.params.token, videoId)) return notFound(reply);
    if (opts.access && (await opts.access(videoId)) === 'gone') return notFound(reply);
    return serve(key, request.headers.range, reply, PRIVATE);
  });

  /** Sends the object at `key` (ranges, HEAD); `cacheOverride` replaces the per-kind Cache-Control. */
  async function serve(key: string, range: string | undefined, reply: FastifyReply, cacheOverride?: string) {
    // The stored content type is never echoed: only the fixed player types (checked by the routes).
    const headersOf = () => {
      const h = mediaResponseHeaders(key)!;
      return { contentType: h.contentType, cacheControl: cacheOverride ?? h.cacheControl };
    };
    try {
      const ranged = supportsRangeReads(store);
      const info = ranged ? await store.headObject(key) : undefined;
      if (ranged && !info) return notFound(reply);

      if (ranged && info) {
        const { contentType, cacheControl } = headersOf();
        reply.header('content-type', contentType).header('cache-control', cacheControl).header('accept-ranges', 'bytes')
          .header('x-content-type-options', 'nosniff');
        if (info.etag) reply.header('etag', info.etag);
        if (info.lastModified) reply.header('last-modified', info.lastModified.toUTCString());
        const decision = decideByteRange(range, info.size);
        switch (decision.kind) {
          case 'unsatisfiable':
            return reply.code(416).header('content-range', `bytes */${info.size}`).send();
          case 'partial': {
            const obj = await store.getObjectRange(key, { start: decision.start, end: decision.end });
            if (!obj) return notFound(reply);
            return reply
              .code(206)
              .header('content-range', `bytes ${decision.start}-${decision.end}/${info.size}`)
              .header('content-length', decision.end - decision.start + 1)
              .send(obj.body);
          }
          case 'full': {
            const obj = await store.getObjectRange(key);
            if (!obj) return notFound(reply);
            return reply.code(200).header('content-length', obj.size).send(obj.body);
          }
          default:
            return assertNever(decision);
        }
      }

      const obj = await store.getObject(key);
      if (!obj) return notFound(reply);
      const { contentType, cacheControl } = headersOf();
      reply.header('content-type', contentType).header('cache-control', cacheControl).header('accept-ranges', 'bytes')
        .header('x-content-type-options', 'nosniff');
      const decision = decideByteRange(range, obj.size);
      switch (decision.kind) {
        case 'unsatisfiable':
          obj.body.destroy();
          return reply.code(416).header('content-range', `bytes */${obj.size}`).send();
        case 'partial':
          return reply
            .code(206)
            .header('content-range', `bytes ${decision.start}-${decision.end}/${obj.size}`)
            .header('content-length', decision.end - decision.start + 1)
            .send(sliceStream(obj.body, decision.start, decision.end));
        case 'full':
          return reply.code(200).header('content-length', obj.size).send(obj.body);
        default:
          return assertNever(decision);
      }
    } catch (err) {
      // Invalid keys (`..`, empty segments) are just objects that do not exist, to a player.
      if (err instanceof ObjectStoreError && (err.code === 'InvalidArgument' || err.code === 'NoSuchKey')) return notFound(reply);
      throw err;
    }
  }
};
