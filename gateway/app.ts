/**
 * The public HTTP API (Fastify). `buildGateway(deps)` assembles it without listening; the caller
 * (standalone wiring, cluster gateway role, tests via `inject`) decides where to listen.
 *
 * Layout: shared decorators (`fastify.gateway`, auth, metrics) are registered once with
 * fastify-plugin; each resource is one encapsulated plugin under `gateway/routes/<resource>/`.
 * One error handler (gateway/errors.ts) turns every failure into `{ statusCode, code, message }`.
 */
import Fastify, { LogController, type FastifyHttpOptions, type FastifyInstance, type FastifySchemaCompiler } from 'fastify';
import type { Server } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { registerAjvFormats, type TSchema, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';
import { monotonicFactory } from 'ulid';
import { Errors, gatewayClientErrorHandler, gatewayErrorHandler } from './errors.ts';
import { DEFAULT_GATEWAY_CONFIG, type GatewayContext, type GatewayDeps, type IdGenerator, type ResolvedGatewayConfig } from './gateway.types.ts';
import { authPlugin } from './plugins/auth.plugin.ts';
import { configurePasswordHashing } from './auth/password.ts';
import { rateLimitsPlugin } from './plugins/rate-limits.plugin.ts';
import { timeoutsPlugin } from './plugins/timeouts.plugin.ts';
import { contextPlugin } from './plugins/context.plugin.ts';
import { metricsPlugin } from './plugins/metrics.plugin.ts';
import { webAppPlugin } from './plugins/web-app.ts';
import { lazyChildLoggerFactory } from './plugins/lazy-child-logger.ts';
import { analyticsRoutes, channelAnalyticsRoutes } from './routes/analytics/index.ts';
import { authRoutes } from './routes/auth/index.ts';
import { channelsRoutes } from './routes/channels/index.ts';
import { commentsRoutes } from './routes/comments/index.ts';
import { discoveryRoutes } from './routes/discovery/index.ts';
import { eventsRoutes } from './routes/events/index.ts';
import { likesRoutes } from './routes/likes/index.ts';
import { subscriptionsRoutes } from './routes/subscriptions/index.ts';
import { searchRoutes } from './routes/search/index.ts';
import { systemRoutes } from './routes/system/index.ts';
import { uploadsRoutes } from './routes/uploads/index.ts';
import { usersRoutes } from './routes/users/index.ts';
import { userDataRoutes } from './routes/users/erasure.ts';
import { videosRoutes } from './routes/videos/index.ts';
import { captionsRoutes } from './routes/videos/captions.ts';
import { thumbnailRoutes } from './routes/videos/thumbnail.ts';
import { viewsRoutes } from './routes/views/index.ts';

// TypeBox's validator knows `format: email` etc. only once the ajv-formats checks are registered.
registerAjvFormats();

export type { GatewayConfig, GatewayDeps, IdGenerator } from './gateway.types.ts';

/** ULID-based ids: `vid_01JD…`, `usr_…`, `upl_…`, `cmt_…` (monotonic within one millisecond). */
function createUlidIds(): IdGenerator {
  const ulid = monotonicFactory();
  return { newId: (prefix) => `${prefix}_${ulid()}` };
}

/** Fills in config defaults (see DEFAULT_GATEWAY_CONFIG) and validates them. @throws Error on a bad config. */
export function resolveGatewayConfig(config: GatewayDeps['config']): ResolvedGatewayConfig {
  const resolved: ResolvedGatewayConfig = {
    ...DEFAULT_GATEWAY_CONFIG,
    ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)),
    jwtSecret: config.jwtSecret,
  };
  if (!resolved.jwtSecret) throw new Error('gateway config: jwtSecret is required');
  if (resolved.minPartSizeBytes > resolved.maxPartSizeBytes) {
    throw new Error('gateway config: minPartSizeBytes must be ≤ maxPartSizeBytes');
  }
  for (const k of [
    'tokenTtlSeconds', 'maxUploadBytes', 'minPartSizeBytes', 'maxPartSizeBytes', 'uploadUrlTtlSeconds', 'bodyLimitBytes',
    'bodyTimeoutSeconds', 'uploadRequestTimeoutSeconds', 'headersTimeoutSeconds', 'connectionTimeoutSeconds', 'keepAliveTimeoutSeconds',
    'passwordHashConcurrency', 'eventStreamsPerIp', 'eventStreamKeepAliveSeconds',
  ] as const) {
    if (!(Number.isFinite(resolved[k]) && resolved[k] > 0)) throw new Error(`gateway config: ${k} must be a positive number`);
  }
  if (!(Number.isInteger(resolved.uploadsPerHour) && resolved.uploadsPerHour >= 0)) {
    throw new Error('gateway config: uploadsPerHour must be a non-negative integer');
  }
  return resolved;
}

/**
 * Builds the gateway (not listening). Routes: see the header comment of each `gateway/routes/<resource>/index.ts`;
 * OpenAPI at `/docs` (`/docs/json`), health at `/health/live` and `/health/ready` (`/health` = ready), Prometheus at `/metrics`.
 * @throws Error when the config is invalid (see resolveGatewayConfig).
 */
/** A request at least this long, ms, is logged at info whatever its status (the access log's slow threshold). */
export const SLOW_REQUEST_MS = 1000;

/**
 * The public API's validator (TypeBox's compiler, as @fastify/type-provider-typebox's
 * `TypeBoxValidatorCompiler`): bodies are checked as they are, params and querystrings converted
 * from strings first, except when they already pass as they are (a path id, a query of strings):
 * the conversion walks the schema on every request, about 3 % of a cached read (issue 12).
 */
const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = Compile(schema);
  return (value: unknown) => {
    if (check.Check(value)) return { value };
    if (httpPart === 'body') return { error: check.Errors(value) as unknown as Error };
    const converted = Value.Convert(schema, value);
    return check.Check(converted) ? { value: converted } : { error: check.Errors(converted) as unknown as Error };
  };
};

export async function buildGateway(deps: GatewayDeps): Promise<FastifyInstance> {
  const config = resolveGatewayConfig(deps.config);
  const context: GatewayContext = {
    config,
    commandBus: deps.commandBus,
    readModels: deps.readModels,
    readYourWrites: deps.readYourWrites ?? (async () => {}),
    objectStore: deps.objectStore,
    ids: deps.ids ?? createUlidIds(),
    now: deps.now ?? Date.now,
    mediaUrl: (videoId, key, signed) => deps.objectStore.publicUrl(signed && deps.mediaUrls ? deps.mediaUrls.signedKeyPath(videoId, key) : key),
    thumbnailEncoder: deps.thumbnailEncoder ?? null,
  };

  const serverOptions: FastifyHttpOptions<Server> = {
    loggerInstance: deps.logger,
    // Fastify's two log lines per request cost about a fifth of a cached read's CPU (issue 12
    // profile: pino, redaction, writev). Requests are counted and timed by the metrics plugin;
    // the access log (below) keeps failures and slow requests at info, the rest at debug.
    logController: new LogController({ disableRequestLogging: true }),
    // …and a request's child logger is made only when it logs (gateway/plugins/lazy-child-logger.ts).
    childLoggerFactory: lazyChildLoggerFactory as unknown as NonNullable<FastifyHttpOptions<Server>['childLoggerFactory']>,
    bodyLimit: config.bodyLimitBytes,
    // Behind a load balancer (cluster mode) request.ip must come from X-Forwarded-For; exposed
    // directly (standalone), trusting that header would let clients pick their own IP.
    trustProxy: config.trustProxy,
    // Timeouts (issue 8, finding 9; see gateway/plugins/timeouts.plugin.ts for the per-route body rule).
    requestTimeout: config.uploadRequestTimeoutSeconds * 1000,
    connectionTimeout: config.connectionTimeoutSeconds * 1000,
    keepAliveTimeout: config.keepAliveTimeoutSeconds * 1000,
    // S3 UploadIds (path parameter of /uploads/{upload_id}) are longer than Fastify's default 100.
    routerOptions: { maxParamLength: 1024 },
    // Router-level failures (bad URL encoding, over-long parameter) use the same error body.
    // Requests node:http cannot parse (oversized headers, timeouts) get the same error body too.
    clientErrorHandler: gatewayClientErrorHandler,
    frameworkErrors: (error, request, reply) => {
      gatewayErrorHandler(error, request, reply);
    },
    ajv: {
      customOptions: {
        // For mounted plugins (our own routes use TypeBox, see below). Unknown fields are
        // REJECTED (400), not silently stripped: a typo must not pass as a no-op.
        removeAdditional: false,
        // Querystrings arrive as strings; coercion is what turns `?page_size=5` into 5.
        coerceTypes: 'array',
        useDefaults: true,
        allErrors: false,
      },
    },
  };
  const app = Fastify(serverOptions).withTypeProvider<TypeBoxTypeProvider>();
  if (deps.onRoute) app.addHook('onRoute', deps.onRoute);
  // Node requires headersTimeout ≤ requestTimeout.
  app.server.headersTimeout = Math.min(config.headersTimeoutSeconds, config.uploadRequestTimeoutSeconds) * 1000;
  configurePasswordHashing({ concurrency: config.passwordHashConcurrency, queue: config.passwordHashQueue });

  app.setErrorHandler(gatewayErrorHandler);
  // Every response, mounted plugins (media, S3, registry) and errors included: browsers must not
  // sniff a served file into another type (issue 8, finding 10).
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('x-content-type-options', 'nosniff');
    done();
  });
  // pino's level check (FastifyBaseLogger does not declare it); other loggers log every request at debug.
  const levels = app.log as { isLevelEnabled?: (level: string) => boolean };
  const debugEnabled = (): boolean => levels.isLevelEnabled?.('debug') ?? true;
  // Callback-style hooks (here and in the metrics plugin): no promise per request (issue 12).
  app.addHook('onResponse', (request, reply, done) => {
    const slow = reply.elapsedTime >= SLOW_REQUEST_MS;
    if (reply.statusCode >= 400 || slow || debugEnabled()) {
      const line = { method: request.method, url: request.url, statusCode: reply.statusCode, responseTimeMs: Math.round(reply.elapsedTime) };
      if (reply.statusCode >= 400 || slow) request.log.info(line, 'request completed');
      else request.log.debug(line, 'request completed');
    }
    done();
  });
  app.setNotFoundHandler(async (request) => {
    throw new Errors.NotFound(`${request.method} ${request.url.split('?')[0]}`);
  });

  await app.register(contextPlugin, { context });
  await app.register(metricsPlugin, { registry: deps.metricsRegistry });
  await app.register(authPlugin, {
    jwtSecret: config.jwtSecret, tokenTtlSeconds: config.tokenTtlSeconds,
    keys: config.jwtKeys, issuer: config.jwtIssuer, audience: config.jwtAudience,
    isRevoked: (userId) => deps.readModels['user-accounts'].isErased(userId),
  });
  // Rate limits on every public write/expensive route (rules: gateway/rate-limit/rate-limit.rules.ts)
  // and the request-body timeout; both add their hooks to the routes registered below.
  await app.register(rateLimitsPlugin, { limits: config.rateLimits, store: deps.rateLimitStore });
  await app.register(timeoutsPlugin, { bodyTimeoutSeconds: config.bodyTimeoutSeconds });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'StreamWave API',
        version: '1.0.0',
        description: 'Upload, transcode to HLS, stream, search, comment and analytics. Errors: `{ statusCode, code, message }` with stable codes.',
      },
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
      tags: ['users', 'auth', 'uploads', 'videos', 'comments', 'views', 'search', 'analytics', 'system'].map((name) => ({ name })),
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(systemRoutes, { health: deps.health, readiness: deps.readiness, registry: deps.metricsRegistry });
  await app.register(async (api) => {
    // The public API validates with TypeBox's compiler: bodies are checked strictly (no type
    // coercion: `"size_bytes": "12"` is a 400, not 12), querystrings and params are converted
    // from strings, and every failure is reported (bounded by the schemas' own sizes). Mounted
    // plugins (S3, registry, media) keep Fastify's Ajv, configured above.
    api.setValidatorCompiler(validatorCompiler);
    // The API speaks JSON (and form-encoded on /auth/token): other bodies are 415, not a string.
    api.removeContentTypeParser('text/plain');
    await api.register(usersRoutes, { prefix: '/api/v1/users' });
    await api.register(userDataRoutes, { prefix: '/api/v1/users' });
    await api.register(authRoutes, { prefix: '/api/v1/auth' });
    await api.register(uploadsRoutes, { prefix: '/api/v1/uploads' });
    await api.register(discoveryRoutes, { prefix: '/api/v1/videos' });
    await api.register(videosRoutes, { prefix: '/api/v1/videos' });
    await api.register(captionsRoutes, { prefix: '/api/v1/videos' });
    await api.register(thumbnailRoutes, { prefix: '/api/v1/videos' });
    await api.register(commentsRoutes, { prefix: '/api/v1/videos' });
    await api.register(likesRoutes, { prefix: '/api/v1/videos' });
    await api.register(subscriptionsRoutes, { prefix: '/api/v1/users' });
    await api.register(channelsRoutes, { prefix: '/api/v1/users' });
    await api.register(viewsRoutes, { prefix: '/api/v1/videos', registry: deps.metricsRegistry });
    if (deps.liveEvents) await api.register(eventsRoutes, { prefix: '/api/v1/videos', live: deps.liveEvents, registry: deps.metricsRegistry });
    await api.register(analyticsRoutes, { prefix: '/api/v1/videos' });
    await api.register(channelAnalyticsRoutes, { prefix: '/api/v1/users' });
    await api.register(searchRoutes, { prefix: '/api/v1/search' });
  });
  // Issue 14: the web app at `/` (gateway/web), which uses the public API only.
  await app.register(webAppPlugin);

  for (const { plugin, prefix, options } of deps.plugins ?? []) {
    await app.register(plugin, { ...(options ?? {}), ...(prefix !== undefined && { prefix }) });
  }

  return app as unknown as FastifyInstance;
}
