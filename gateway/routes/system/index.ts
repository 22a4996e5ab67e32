/**
 * Operational endpoints (no prefix, not under /api):
 * - `GET /health` → 200 `{ status: 'ok', ...health() }`; 503 `{ status: 'unavailable' }` when the
 *   health probe throws (details go to the log, not to the client).
 * - `GET /metrics` → Prometheus text exposition of the shared registry.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Registry } from 'prom-client';

export interface SystemRoutesOptions {
  health?: () => Promise<Record<string, unknown>>;
  registry: Registry;
}

export const systemRoutes: FastifyPluginAsyncTypebox<SystemRoutesOptions> = async (fastify, opts) => {
  fastify.get(
    '/health',
    {
      schema: {
        summary: 'Liveness and dependency health',
        tags: ['system'],
        response: {
          200: Type.Object({ status: Type.Literal('ok') }, { additionalProperties: true }),
          503: Type.Object({ status: Type.Literal('unavailable') }, { additionalProperties: true }),
        },
      },
    },
    async (request, reply) => {
      try {
        const extra = opts.health ? await opts.health() : {};
        return reply.status(200).send({ ...extra, status: 'ok' as const });
      } catch (err) {
        request.log.error({ err }, 'health check failed');
        return reply.status(503).send({ status: 'unavailable' as const });
      }
    },
  );

  fastify.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics', tags: ['system'], produces: ['text/plain'] } },
    async (_request, reply) => {
      const text = await opts.registry.metrics();
      return reply.type(opts.registry.contentType).send(text);
    },
  );
};
