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
import { PassThrough } from 'node:stream';
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest, preParsingHookHandler } from 'fastify';
import { Errors } from '../errors.ts';

export interface TimeoutsPluginOptions {
  /** Time to receive a whole request body, seconds (> 0). */
  bodyTimeoutSeconds: number;
}

/** Routes whose bodies are media, bounded only by the server-wide request timeout. */
const LONG_BODY_PREFIXES = ['/s3'];

const hasBody = (request: FastifyRequest) =>
  request.headers['transfer-encoding'] !== undefined || (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0');

export const timeoutsPlugin = fp<TimeoutsPluginOptions>(
  async (fastify, opts) => {
    const ms = opts.bodyTimeoutSeconds * 1000;
    const bodyTimeout = async (request: FastifyRequest, reply: FastifyReply, payload: NodeJS.ReadableStream) => {
      // A body already received whole (a small one arrives with its headers, and is parsed before
      // this hook runs after an async onRequest hook) cannot be slow: no stream and timer for it
      // (they cost a heartbeat 4 µs, issue 12).
      if (!hasBody(request) || request.raw.complete) return payload;
      const out = new PassThrough();
      const timer = setTimeout(() => {
        request.log.info({ bodyTimeoutSeconds: opts.bodyTimeoutSeconds }, 'request body too slow; closing the connection');
        reply.header('connection', 'close');
        // The body parser sees the error and answers it (408 through the error handler).
        out.destroy(new Errors.RequestTimeout());
      }, ms);
      const done = () => clearTimeout(timer);
      out.once('end', done);
      out.once('close', done);
      reply.raw.once('close', done);
      // The body parser listens for the error; this no-op keeps a stream nobody reads (the route
      // answered before parsing) from turning it into an uncaught exception.
      out.on('error', () => {});
      payload.on('error', (err) => out.destroy(err));
      payload.pipe(out);
      return out;
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
