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

    // The labelled children per (method, route, status): bounded (routes are patterns, methods
    // and statuses few); a request then builds no label object (prom-client still hashes the
    // labels on every call; issue 12).
    const children = new Map<string, { count: () => void; observe: (seconds: number) => void }>();
    const childOf = (method: string, route: string, status: number) => {
      const key = `${method} ${status} ${route}`;
      let child = children.get(key);
      if (!child) {
        const labels = { method, route, status_code: String(status) };
        const counter = requests.labels(labels);
        const histogram = duration.labels(labels);
        child = { count: () => counter.inc(), observe: (s) => histogram.observe(s) };
        children.set(key, child);
      }
      return child;
    };
    fastify.addHook('onResponse', (request, reply, done) => {
      const child = childOf(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode);
      child.count();
      child.observe(reply.elapsedTime / 1000);
      done();
    });
  },
  { name: 'streamwave-metrics', fastify: '5.x' },
);
