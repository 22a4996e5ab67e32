/**
 * HTTP metrics in the Prometheus registry the process shares with the other roles:
 * - `http_requests_total{method,route,status_code}` (counter)
 * - `http_request_duration_seconds{method,route,status_code}` (histogram, seconds)
 * `route` is the route pattern (`/api/v1/videos/:id`), never the raw URL, to keep label
 * cardinality bounded; unmatched requests are labelled `unmatched`.
 */
import fp from 'fastify-plugin';
import type { Registry } from 'prom-client';

export interface MetricsPluginOptions {
  registry: Registry;
}

/** The labels of both metrics. */
type Labels = { method: string; route: string; status_code: string };
/** Upper bounds of the duration histogram, seconds (Prometheus `le`). */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One (method, route, status) series: requests, their summed duration (s), and per-bucket (non-cumulative) counts. */
interface Series { labels: Labels; count: number; sum: number; buckets: Float64Array }

/** A value line of prom-client's metric format (what `Registry#metrics()` prints). */
interface ValueLine { labels: Record<string, string | number>; value: number; metricName?: string }

/**
 * Both HTTP metrics over plain counters updated per request; prom-client's Counter and Histogram
 * re-validate and hash the labels on every call (0.9 µs, a thirtieth of a cached read: issue 12).
 * Registered as two metrics in prom-client's own shape (`get()`), so `/metrics` prints them like
 * any other; a second gateway on the same registry shares the series.
 */
class HttpRequestMetrics {
  private readonly series = new Map<string, Series>();

  constructor(registry: Registry) {
    const metric = (name: string, help: string, type: 'counter' | 'histogram', values: () => ValueLine[]) => ({
      name, help, type, aggregator: 'sum' as const,
      get: async () => ({ name, help, type, aggregator: 'sum' as const, values: values() }),
      reset: () => this.series.clear(),
      owner: this,
    });
    const counter = metric('http_requests_total', 'HTTP requests served by the gateway.', 'counter', () =>
      [...this.series.values()].map((s) => ({ labels: s.labels, value: s.count })));
    const histogram = metric('http_request_duration_seconds', 'HTTP request duration in seconds, from request start to response end.', 'histogram', () =>
      [...this.series.values()].flatMap((s) => {
        let cumulative = 0;
        const bucket = 'http_request_duration_seconds_bucket';
        return [
          ...BUCKETS.map((le, i) => ({ labels: { le, ...s.labels }, value: (cumulative += s.buckets[i]!), metricName: bucket })),
          { labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket },
          { labels: s.labels, value: s.sum, metricName: 'http_request_duration_seconds_sum' },
          { labels: s.labels, value: s.count, metricName: 'http_request_duration_seconds_count' },
        ];
      }));
    // prom-client's Registry takes any object of this shape; its types name only its own classes.
    registry.registerMetric(counter as unknown as Parameters<Registry['registerMetric']>[0]);
    registry.registerMetric(histogram as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The metrics already on `registry` (another gateway's), or new ones registered there. */
  static of(registry: Registry): HttpRequestMetrics {
    const existing = registry.getSingleMetric('http_requests_total') as unknown as { owner?: HttpRequestMetrics } | undefined;
    return existing?.owner ?? new HttpRequestMetrics(registry);
  }

  /** Counts one request of `seconds`. Routes are patterns, methods and statuses few: the series stay bounded. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let s = this.series.get(key);
    if (!s) this.series.set(key, s = { labels: { method, route, status_code: String(status) }, count: 0, sum: 0, buckets: new Float64Array(BUCKETS.length) });
    s.count++;
    s.sum += seconds;
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    if (i < BUCKETS.length) s.buckets[i]!++;
  }
}

export const metricsPlugin = fp<MetricsPluginOptions>(
  async (fastify, { registry }) => {
    const metrics = HttpRequestMetrics.of(registry);
    fastify.addHook('onResponse', (request, reply, done) => {
      metrics.observe(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
      done();
    });
  },
  { name: 'streamwave-metrics', fastify: '5.x' },
);
