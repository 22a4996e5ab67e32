/**
 * The HTTP metrics (issue 12: plain counters instead of prom-client's per-call label hashing)
 * print exactly what prom-client's own Counter and Histogram print for the same requests.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { Counter, Histogram, Registry } from 'prom-client';
import { metricsPlugin } from './metrics.plugin.ts';

const LABELS = ['method', 'route', 'status_code'];
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

describe('HTTP metrics plugin', () => {
  test('given requests on two routes and statuses, when /metrics is read, then the lines equal prom-client\'s Counter and Histogram for the same requests', async () => {
    const registry = new Registry();
    const app = Fastify();
    await app.register(metricsPlugin, { registry });
    const seen: { method: string; route: string; status: number; seconds: number }[] = [];
    app.addHook('onResponse', (request, reply, done) => {
      seen.push({ method: request.method, route: request.routeOptions.url ?? 'unmatched', status: reply.statusCode, seconds: reply.elapsedTime / 1000 });
      done();
    });
    app.get('/a/:id', async () => ({ ok: true }));
    app.post('/b', async (_r, reply) => reply.status(202).send());
    for (const url of ['/a/1', '/a/2', '/nowhere']) await app.inject({ method: 'GET', url });
    await app.inject({ method: 'POST', url: '/b' });

    const expected = new Registry();
    const counter = new Counter({ name: 'http_requests_total', help: 'HTTP requests served by the gateway.', labelNames: LABELS, registers: [expected] });
    const histogram = new Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request duration in seconds, from request start to response end.', labelNames: LABELS, buckets: BUCKETS, registers: [expected] });
    for (const s of seen) {
      const labels = { method: s.method, route: s.route, status_code: String(s.status) };
      counter.inc(labels);
      histogram.observe(labels, s.seconds);
    }
    const sorted = (text: string) => text.split('\n').sort();
    assert.equal(seen.length, 4);
    assert.deepEqual(sorted(await registry.metrics()), sorted(await expected.metrics()));
    assert.match(await registry.metrics(), /http_requests_total\{method="GET",route="unmatched",status_code="404"\} 1/);

    // A second gateway on the same registry shares the series instead of failing to register.
    const second = Fastify();
    await second.register(metricsPlugin, { registry });
    second.get('/a/:id', async () => ({ ok: true }));
    await second.inject({ method: 'GET', url: '/a/3' });
    assert.match(await registry.metrics(), /http_requests_total\{method="GET",route="\/a\/:id",status_code="200"\} 3/);
    await Promise.all([app.close(), second.close()]);
  });
});
