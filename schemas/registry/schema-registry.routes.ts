import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync, type FastifyReply } from 'fastify';
import type pino from 'pino';
import { RegistryError } from './registry-errors.ts';
import { requireRegistryCredentials, type RegistryCredentials } from './registry-auth.ts';
import type { SchemaRegistry } from './schema-registry.ts';

/** Content type of the Confluent Schema Registry REST API v1. */
export const SCHEMA_REGISTRY_CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export interface SchemaRegistryRoutesOptions {
  registry: SchemaRegistry;
  /**
   * Credentials the write routes (POST /subjects/{s}/versions, PUT /config, PUT|DELETE
   * /config/{s}) require (HTTP Basic; issue 8). Every deployment passes them (standalone generates
   * a password when none is configured); without them the writes are open (tests only).
   */
  auth?: RegistryCredentials;
}

interface SchemaBody { schema?: unknown; schemaType?: string; references?: unknown[] }
interface SubjectParams { subject: string }
interface VersionParams { subject: string; version: string }

const schemaBody = {
  type: 'object',
  properties: {
    schema: { type: 'string' },
    schemaType: { type: 'string' },
    references: { type: 'array' },
  },
} as const;

function schemaOf(body: SchemaBody | undefined): { schema: string; schemaType?: string } {
  if (!body || typeof body.schema !== 'string' || body.schema.length === 0) {
    throw new RegistryError('INVALID_SCHEMA', 'Invalid schema: the request body needs a "schema" string');
  }
  if (body.references && body.references.length) {
    throw new RegistryError('INVALID_SCHEMA', 'Invalid schema: schema references are not supported by this registry');
  }
  return { schema: body.schema, schemaType: body.schemaType ?? undefined };
}

function sendError(reply: FastifyReply, status: number, errorCode: number, message: string) {
  return reply.code(status).type(SCHEMA_REGISTRY_CONTENT_TYPE).send({ error_code: errorCode, message });
}

/**
 * Fastify plugin serving the Confluent Schema Registry REST API (the subset Kafka clients use)
 * over the registry core, so unchanged clients (`@kafkajs/confluent-schema-registry`, Confluent
 * serializers) work against it. Encapsulated (not fastify-plugin wrapped): its content-type
 * parser and error handler only apply to its own routes; mount with a prefix, e.g.
 * `app.register(schemaRegistryRoutes, { prefix: '/registry', registry })`.
 *
 * Routes: GET /subjects; GET /subjects/{s}/versions; GET /subjects/{s}/versions/{v|latest};
 * GET /subjects/{s}/versions/{v}/schema; POST /subjects/{s}/versions {schema, schemaType?} → {id};
 * POST /subjects/{s} → {subject,id,version,schema}; GET /schemas/ids/{id} → {schema};
 * GET /schemas/types; GET|PUT /config; GET|PUT|DELETE /config/{s};
 * POST /compatibility/subjects/{s}/versions[/{v|latest}] → {is_compatible[, messages]}.
 * Errors: `{error_code, message}` with Confluent codes (see registry-errors.ts).
 */
export const schemaRegistryRoutes: FastifyPluginAsync<SchemaRegistryRoutesOptions> = async (app, { registry, auth }) => {
  // Writes need credentials; reads, lookups and compatibility tests stay open (as Confluent's).
  const write = auth ? { onRequest: requireRegistryCredentials(auth, SCHEMA_REGISTRY_CONTENT_TYPE) } : {};
  const jsonParser = app.getDefaultJsonParser('error', 'ignore');
  app.addContentTypeParser(
    [SCHEMA_REGISTRY_CONTENT_TYPE, 'application/vnd.schemaregistry+json', 'application/octet-stream'],
    { parseAs: 'string' },
    jsonParser,
  );

  app.addHook('onSend', async (_req, reply, payload) => {
    const ct = reply.getHeader('content-type');
    if (typeof ct === 'string' && ct.startsWith('application/json')) reply.header('content-type', SCHEMA_REGISTRY_CONTENT_TYPE);
    return payload;
  });

  app.setErrorHandler((err: FastifyError | RegistryError, req, reply) => {
    if (err instanceof RegistryError) {
      if (err.status >= 500) req.log.error({ err }, 'schema registry store error');
      return sendError(reply, err.status, err.errorCode, err.message);
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'schema registry internal error');
    // Confluent answers unparseable JSON and validation failures with 422/42200-style codes;
    // body-level problems are reported as 422 with the HTTP status as error_code otherwise.
    if (err.validation) return sendError(reply, 422, 422, `Unprocessable entity: ${err.message}`);
    return sendError(reply, status, status >= 500 ? 50001 : status, status >= 500 ? 'Internal server error' : err.message);
  });

  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 404, `HTTP 404 Not Found: ${req.method} ${req.url}`));

  app.get('/subjects', async () => registry.subjects());

  app.get<{ Params: SubjectParams }>('/subjects/:subject/versions', async (req) => registry.versions(req.params.subject));

  app.get<{ Params: VersionParams }>('/subjects/:subject/versions/:version', async (req) =>
    registry.getVersion(req.params.subject, req.params.version));

  app.get<{ Params: VersionParams }>('/subjects/:subject/versions/:version/schema', async (req, reply) => {
    const v = await registry.getVersion(req.params.subject, req.params.version);
    return reply.type(SCHEMA_REGISTRY_CONTENT_TYPE).send(v.schema);
  });

  app.post<{ Params: SubjectParams; Body: SchemaBody }>('/subjects/:subject/versions', { ...write, schema: { body: schemaBody } }, async (req) => {
    const { schema, schemaType } = schemaOf(req.body);
    const { id } = await registry.register(req.params.subject, schema, schemaType);
    return { id };
  });

  app.post<{ Params: SubjectParams; Body: SchemaBody }>('/subjects/:subject', { schema: { body: schemaBody } }, async (req) => {
    const { schema, schemaType } = schemaOf(req.body);
    return registry.lookup(req.params.subject, schema, schemaType);
  });

  app.get<{ Params: { id: string } }>('/schemas/ids/:id', async (req) => {
    const id = /^\d+$/.test(req.params.id) ? Number(req.params.id) : NaN;
    if (!Number.isSafeInteger(id)) throw new RegistryError('SCHEMA_NOT_FOUND', `Schema ${req.params.id} not found`);
    return { schema: await registry.getSchemaById(id) };
  });

  app.get('/schemas/types', async () => ['AVRO']);

  app.get('/config', async () => ({ compatibilityLevel: await registry.getGlobalCompatibility() }));

  app.put<{ Body: { compatibility?: string } }>('/config', write, async (req) => {
    const compatibility = await registry.setGlobalCompatibility(String(req.body?.compatibility ?? ''));
    return { compatibility };
  });

  app.get<{ Params: SubjectParams; Querystring: { defaultToGlobal?: string } }>('/config/:subject', async (req) => {
    const level = await registry.getSubjectCompatibility(req.params.subject);
    if (level) return { compatibilityLevel: level };
    if (req.query.defaultToGlobal === 'true') return { compatibilityLevel: await registry.getGlobalCompatibility() };
    throw new RegistryError('SUBJECT_COMPATIBILITY_NOT_CONFIGURED',
      `Subject '${req.params.subject}' does not have subject-level compatibility configured`);
  });

  app.put<{ Params: SubjectParams; Body: { compatibility?: string } }>('/config/:subject', write, async (req) => {
    const compatibility = await registry.setSubjectCompatibility(req.params.subject, String(req.body?.compatibility ?? ''));
    return { compatibility };
  });

  app.delete<{ Params: SubjectParams }>('/config/:subject', write, async (req) => ({
    compatibilityLevel: await registry.deleteSubjectCompatibility(req.params.subject),
  }));

  const compat = async (subject: string, body: SchemaBody | undefined, version: string | undefined, verbose: boolean) => {
    const { schema, schemaType } = schemaOf(body);
    const r = await registry.testCompatibility(subject, schema, version, schemaType);
    return verbose ? { is_compatible: r.compatible, messages: r.messages } : { is_compatible: r.compatible };
  };

  app.post<{ Params: VersionParams; Body: SchemaBody; Querystring: { verbose?: string } }>(
    '/compatibility/subjects/:subject/versions/:version', { schema: { body: schemaBody } },
    async (req) => compat(req.params.subject, req.body, req.params.version, req.query.verbose === 'true'),
  );

  app.post<{ Params: SubjectParams; Body: SchemaBody; Querystring: { verbose?: string } }>(
    '/compatibility/subjects/:subject/versions', { schema: { body: schemaBody } },
    async (req) => compat(req.params.subject, req.body, undefined, req.query.verbose === 'true'),
  );
};

export interface SchemaRegistryServerOptions {
  registry: SchemaRegistry;
  /** Request logger; default none. */
  logger?: pino.Logger;
  /** Credentials of the write routes (see SchemaRegistryRoutesOptions.auth). */
  auth?: RegistryCredentials;
}

/**
 * A standalone Fastify server with the registry REST API at the root (as Confluent's registry
 * listens), e.g. for cluster mode's `schema-registry` role. The caller listens and closes it.
 */
export function buildSchemaRegistryServer(opts: SchemaRegistryServerOptions): FastifyInstance {
  const app = (opts.logger ? Fastify({ loggerInstance: opts.logger }) : Fastify({ logger: false })) as unknown as FastifyInstance;
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });
  app.register(schemaRegistryRoutes, { registry: opts.registry, auth: opts.auth });
  return app;
}
