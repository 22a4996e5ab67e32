/**
 * HTTP metrics in the Prometheus registry the process shares with the other roles:
 * - `http_requests_total{method,route,status_code}` (counter)
 * - `http_request_duration_seconds{method,route,status_code}` (histogram, seconds)
 * `route` is the route pattern (`/api/v1/videos/:id`), never the raw URL, to keep label
 * cardinality bounded; unmatched requests are labelled `unmatched`.
 */
import fp from 'fastify-plugin';
import { Counter, Histogram, type Registry } from 'prom-client';

export interface MetricsPluginOptions {
  registry: Registry;
}

const LABELS = ['method', 'route', 'status_code'] as const;

/** Reuses a metric already in the registry (a second gateway on the same registry, e.g. in tests). */
function getOrCreate<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

export const metricsPlugin = fp<MetricsPluginOptions>(
  async (fastify, { registry }) => {
    const requests = getOrCreate(
      registry,
      'http_requests_total',
      () => new Counter({ name: 'http_requests_total', help: 'HTTP requests served by the gateway.', labelNames: LABELS, registers: [registry] }),
    );
    const duration = getOrCreate(
      registry,
      'http_request_duration_seconds',
      () =>
        new Histogram({
          name: 'http_request_duration_seconds',
          help: 'HTTP request duration in seconds, from request start to response end.',
          labelNames: LABELS,
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
          registers: [registry],
        }),
    );

    fastify.addHook('onResponse', async (request, reply) => {
      const labels = {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      };
      requests.inc(labels);
      duration.observe(labels, reply.elapsedTime / 1000);
    });
  },
  { name: 'streamwave-metrics', fastify: '5.x' },
);
