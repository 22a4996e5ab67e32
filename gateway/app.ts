/**
 * The public HTTP API (Fastify). `buildGateway(deps)` assembles it without listening; the caller
 * (standalone wiring, cluster gateway role, tests via `inject`) decides where to listen.
 *
 * Layout: shared decorators (`fastify.gateway`, auth, metrics) are registered once with
 * fastify-plugin; each resource is one encapsulated plugin under `gateway/routes/<resource>/`.
 * One error handler (gateway/errors.ts) turns every failure into `{ statusCode, code, message }`.
 */
import Fastify, { type FastifyHttpOptions, type FastifyInstance } from 'fastify';
import type { Server } from 'node:http';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { registerAjvFormats, TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { monotonicFactory } from 'ulid';
import { Errors, gatewayClientErrorHandler, gatewayErrorHandler } from './errors.ts';
import { DEFAULT_GATEWAY_CONFIG, type GatewayContext, type GatewayDeps, type IdGenerator, type ResolvedGatewayConfig } from './gateway.types.ts';
import { authPlugin } from './plugins/auth.plugin.ts';
import { contextPlugin } from './plugins/context.plugin.ts';
import { metricsPlugin } from './plugins/metrics.plugin.ts';
import { analyticsRoutes } from './routes/analytics/index.ts';
import { authRoutes } from './routes/auth/index.ts';
import { commentsRoutes } from './routes/comments/index.ts';
import { searchRoutes } from './routes/search/index.ts';
import { systemRoutes } from './routes/system/index.ts';
import { uploadsRoutes } from './routes/uploads/index.ts';
import { usersRoutes } from './routes/users/index.ts';
import { videosRoutes } from './routes/videos/index.ts';
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
  for (const k of ['tokenTtlSeconds', 'maxUploadBytes', 'minPartSizeBytes', 'maxPartSizeBytes', 'uploadUrlTtlSeconds', 'bodyLimitBytes'] as const) {
    if (!(Number.isFinite(resolved[k]) && resolved[k] > 0)) throw new Error(`gateway config: ${k} must be a positive number`);
  }
  if (!(Number.isInteger(resolved.uploadsPerHour) && resolved.uploadsPerHour >= 0)) {
    throw new Error('gateway config: uploadsPerHour must be a non-negative integer');
  }
  return resolved;
}

/**
 * Builds the gateway (not listening). Routes: see the header comment of each `gateway/routes/<resource>/index.ts`;
 * OpenAPI at `/docs` (`/docs/json`), health at `/health`, Prometheus at `/metrics`.
 * @throws Error when the config is invalid (see resolveGatewayConfig).
 */
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
  };

  const serverOptions: FastifyHttpOptions<Server> = {
    loggerInstance: deps.logger,
    bodyLimit: config.bodyLimitBytes,
    // Behind a load balancer (cluster mode) request.ip must come from X-Forwarded-For; exposed
    // directly (standalone), trusting that header would let clients pick their own IP.
    trustProxy: config.trustProxy,
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

  app.setErrorHandler(gatewayErrorHandler);
  app.setNotFoundHandler(async (request) => {
    throw new Errors.NotFound(`${request.method} ${request.url.split('?')[0]}`);
  });

  await app.register(contextPlugin, { context });
  await app.register(metricsPlugin, { registry: deps.metricsRegistry });
  await app.register(authPlugin, { jwtSecret: config.jwtSecret, tokenTtlSeconds: config.tokenTtlSeconds });
  // Route-level limits only (uploads); the 429 is thrown, so it goes through the error handler.
  await app.register(rateLimit, {
    global: false,
    ...(deps.rateLimitRedis && { redis: deps.rateLimitRedis, nameSpace: 'streamwave-gateway-rl-' }),
    errorResponseBuilder: (_request, ctx) => new Errors.RateLimited(ctx.after),
  });

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

  await app.register(systemRoutes, { health: deps.health, registry: deps.metricsRegistry });
  await app.register(async (api) => {
    // The public API validates with TypeBox's compiler: bodies are checked strictly (no type
    // coercion: `"size_bytes": "12"` is a 400, not 12), querystrings and params are converted
    // from strings, and every failure is reported (bounded by the schemas' own sizes). Mounted
    // plugins (S3, registry, media) keep Fastify's Ajv, configured above.
    api.setValidatorCompiler(TypeBoxValidatorCompiler);
    // The API speaks JSON (and form-encoded on /auth/token): other bodies are 415, not a string.
    api.removeContentTypeParser('text/plain');
    await api.register(usersRoutes, { prefix: '/api/v1/users' });
    await api.register(authRoutes, { prefix: '/api/v1/auth' });
    await api.register(uploadsRoutes, { prefix: '/api/v1/uploads' });
    await api.register(videosRoutes, { prefix: '/api/v1/videos' });
    await api.register(commentsRoutes, { prefix: '/api/v1/videos' });
    await api.register(viewsRoutes, { prefix: '/api/v1/videos' });
    await api.register(analyticsRoutes, { prefix: '/api/v1/videos' });
    await api.register(searchRoutes, { prefix: '/api/v1/search' });
  });

  for (const { plugin, prefix, options } of deps.plugins ?? []) {
    await app.register(plugin, { ...(options ?? {}), ...(prefix !== undefined && { prefix }) });
  }

  return app as unknown as FastifyInstance;
}
