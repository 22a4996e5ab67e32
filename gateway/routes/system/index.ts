/**
 * Operational endpoints (no prefix, not under /api), issue 8 finding 7 "honest health":
 * - `GET /health/live` → 200 `{ status: 'ok' }` while the process answers HTTP (liveness: restart
 *   the process only when this fails).
 * - `GET /health/ready` → 200 `{ status: 'ok', ...health() }` when every readiness check passes;
 *   503 `{ status: 'unavailable', reasons: [{check, code, message}], ...health() }` otherwise, with
 *   stable codes (platform/health/readiness.port.ts: LOG_WRITES_REFUSED, PROJECTION_FAILING,
 *   DISK_SPACE_LOW, TRANSCODE_TIMED_OUT, CHECK_FAILED). A throwing `health()` probe gives 503
 *   with CHECK_FAILED; details go to the log, never to the client.
 * - `GET /health` → the same as `/health/ready` (kept for existing clients and probes).
 * - `GET /metrics` → Prometheus text exposition of the shared registry.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { Readiness, ReadinessReason } from '../../../platform/health/readiness.port.ts';

export interface SystemRoutesOptions {
  /** Extra fields of the ready answer (mode, consumer lag); throwing makes ready answer 503 CHECK_FAILED. */
  health?: () => Promise<Record<string, unknown>>;
  /** The readiness checks; omitted: ready only depends on `health`. */
  readiness?: Readiness;
  registry: Registry;
}

/** The ready answer: status code and body (shared with the cluster roles' ops server). */
export async function readyAnswer(
  opts: Pick<SystemRoutesOptions, 'health' | 'readiness'>,
  log: FastifyBaseLogger,
): Promise<{ statusCode: 200 | 503; body: Record<string, unknown> }> {
  const reasons: ReadinessReason[] = [];
  let extra: Record<string, unknown> = {};
  try {
    extra = opts.health ? await opts.health() : {};
  } catch (err) {
    log.error({ err }, 'health probe failed');
    reasons.push({ check: 'health', code: 'CHECK_FAILED', message: 'health probe failed' });
  }
  if (opts.readiness) reasons.push(...(await opts.readiness.evaluate()).reasons);
  if (reasons.length === 0) return { statusCode: 200, body: { ...extra, status: 'ok' } };
  log.warn({ reasons }, 'not ready');
  return { statusCode: 503, body: { ...extra, status: 'unavailable', reasons } };
}

const Reason = Type.Object({
  check: Type.String(),
  code: Type.Union([
    Type.Literal('LOG_WRITES_REFUSED'), Type.Literal('PROJECTION_FAILING'), Type.Literal('DISK_SPACE_LOW'),
    Type.Literal('TRANSCODE_TIMED_OUT'), Type.Literal('CHECK_FAILED'),
  ]),
  message: Type.String(),
});
const readySchema = (summary: string) => ({
  summary,
  tags: ['system'],
  response: {
    200: Type.Object({ status: Type.Literal('ok') }, { additionalProperties: true }),
    503: Type.Object({ status: Type.Literal('unavailable'), reasons: Type.Array(Reason) }, { additionalProperties: true }),
  },
});

export const systemRoutes: FastifyPluginAsyncTypebox<SystemRoutesOptions> = async (fastify, opts) => {
  fastify.get(
    '/health/live',
    { schema: { summary: 'Liveness: the process answers', tags: ['system'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );
  for (const [url, summary] of [
    ['/health/ready', 'Readiness: 503 with reasons when the process should not take traffic'],
    ['/health', 'Readiness (alias of /health/ready)'],
  ] as const) {
    fastify.get(url, { schema: readySchema(summary) }, async (request, reply) => {
      const { statusCode, body } = await readyAnswer(opts, request.log);
      return reply.status(statusCode).send(body as never);
    });
  }

  fastify.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics', tags: ['system'], produces: ['text/plain'] } },
    async (_request, reply) => {
      const text = await opts.registry.metrics();
      return reply.type(opts.registry.contentType).send(text);
    },
  );
};
