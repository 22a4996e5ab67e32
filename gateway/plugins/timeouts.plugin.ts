/**
 * Request timeouts (issue 8, finding 9: a slow JSON body held a connection forever).
 *
 * Node's server-wide limits are set from the gateway config in app.ts (Fastify `requestTimeout`,
 * `connectionTimeout`, `keepAliveTimeout`, and `server.headersTimeout`). `requestTimeout` has to
 * let the largest legitimate request through — an S3 part upload of up to 64 MiB through `/s3` —
 * so this plugin adds the tight rule for everything else: a route's request body must arrive
 * within `bodyTimeoutSeconds` of the body's first byte being expected, or the request is answered
 * 408 REQUEST_TIMEOUT and the connection closed (`Connection: close`: what is left of the body is
 * never read).
 *
 * Routes under `/s3` keep only the server-wide bound. Long-lived streams added later (server-sent
 * events, WebSocket, live ingest) get their own rule here, next to the `/s3` one.
 */
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest, preParsingHookHandler } from 'fastify';
import { Errors } from '../errors.ts';

export interface TimeoutsPluginOptions {
  /** Time to receive a whole request body, seconds (> 0). */
  bodyTimeoutSeconds: number;
}

/** Routes whose bodies are media, bounded only by the server-wide request timeout. */
const LONG_BODY_PREFIXES = ['/s3'];

const noop = (): void => {};

const hasBody = (request: FastifyRequest) =>
  request.headers['transfer-encoding'] !== undefined || (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0');

export const timeoutsPlugin = fp<TimeoutsPluginOptions>(
  async (fastify, opts) => {
    const ms = opts.bodyTimeoutSeconds * 1000;
    // The timer watches the request stream itself: no stream wrapped around it (a PassThrough per
    // request cost a heartbeat 4 µs, issue 12). On expiry the stream emits the error, which
    // Fastify's body reader answers (408 through the error handler); after 'end' it cannot fire.
    const bodyTimeout = (request: FastifyRequest, reply: FastifyReply, payload: NodeJS.ReadableStream, done: (err: Error | null, body?: NodeJS.ReadableStream) => void) => {
      if (!hasBody(request)) return done(null, payload);
      const timer = setTimeout(() => {
        request.log.info({ bodyTimeoutSeconds: opts.bodyTimeoutSeconds }, 'request body too slow; closing the connection');
        reply.header('connection', 'close');
        payload.emit('error', new Errors.RequestTimeout());
      }, ms);
      // Inline listeners: a closure assigned to a name gets the loader's keep-names wrapper (an
      // Object.defineProperty per request, ~1 % of a heartbeat: issue 12).
      payload.once('end', () => clearTimeout(timer));
      reply.raw.once('close', () => clearTimeout(timer));
      // A body nobody reads (the route answered before parsing) has no other 'error' listener: this
      // no-op keeps the timeout from becoming an uncaught exception.
      payload.once('error', noop);
      done(null, payload);
    };
    fastify.addHook('onRoute', (route) => {
      if (LONG_BODY_PREFIXES.some((p) => route.url.startsWith(p))) return;
      // Fastify parses no body of a GET or HEAD request: no hook on the read routes' hot path.
      if ([route.method].flat().every((m) => m === 'GET' || m === 'HEAD')) return;
      const own = route.preParsing === undefined ? [] : Array.isArray(route.preParsing) ? route.preParsing : [route.preParsing];
      route.preParsing = [bodyTimeout as unknown as preParsingHookHandler, ...own];
    });
  },
  { name: 'streamwave-timeouts', fastify: '5.x' },
);
