import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '../domain/shared/event.ts';
import { ObjectStoreError } from '../platform/object-store/object-store.port.ts';
import { InvalidCursorError } from '../projections/read-model.port.ts';
import Fastify from 'fastify';
import { KeyValueStoreError } from '../projections/stores/key-value-store.port.ts';
import { AnalyticsStoreError } from '../projections/analytics/analytics-store.port.ts';
import { SearchIndexError } from '../projections/search/search.port.ts';
import { RedisRateLimitStoreError } from '../platform/rate-limit/redis/redis-rate-limit-store.adapter.ts';
import { CommandTimeoutError } from '../commands/command-bus.port.ts';
import { Errors, gatewayErrorHandler, toErrorResponse, UNAVAILABLE_RETRY_AFTER_SECONDS } from './errors.ts';

describe('toErrorResponse', () => {
  test('DomainError kinds map to 404/403/409/400 with the domain code', () => {
    const cases = [
      ['not_found', 404],
      ['forbidden', 403],
      ['conflict', 409],
      ['invalid', 400],
    ] as const;
    for (const [kind, status] of cases) {
      assert.deepEqual(toErrorResponse(new DomainError(`CODE_${kind}`, `msg ${kind}`, kind)), {
        statusCode: status,
        code: `CODE_${kind}`,
        message: `msg ${kind}`,
      });
    }
  });

  test('ObjectStoreError: part errors → 400 INVALID_PART, NoSuchUpload → 404, others are internal', () => {
    for (const code of ['InvalidPart', 'InvalidPartOrder', 'EntityTooSmall']) {
      const r = toErrorResponse(new ObjectStoreError(code, 'bad part'));
      assert.equal(r.statusCode, 400);
      assert.equal(r.code, 'INVALID_PART');
    }
    assert.equal(toErrorResponse(new ObjectStoreError('NoSuchUpload', 'x')).statusCode, 404);
    const internal = toErrorResponse(new ObjectStoreError('AccessDenied', 'disk /var/data is full'));
    assert.equal(internal.statusCode, 500);
    assert.doesNotMatch(internal.message, /disk/);
  });

  test('InvalidCursorError → 400 INVALID_CURSOR', () => {
    const r = toErrorResponse(new InvalidCursorError('tampered'));
    assert.equal(r.statusCode, 400);
    assert.equal(r.code, 'INVALID_CURSOR');
  });

  test('catalogue errors keep their status and code', () => {
    assert.deepEqual(toErrorResponse(new Errors.UsernameTaken('bob')), {
      statusCode: 409,
      code: 'USERNAME_TAKEN',
      message: 'username bob is already taken',
    });
    assert.equal(toErrorResponse(new Errors.RateLimited('1 hour')).statusCode, 429);
  });

  test('unknown errors and non-errors are 500 INTERNAL without the internal message', () => {
    for (const e of [new Error('connection string postgres://secret'), 'boom', null, { statusCode: 503, message: 'upstream secret' }]) {
      const r = toErrorResponse(e);
      assert.equal(r.statusCode, 500);
      assert.equal(r.code, 'INTERNAL');
      assert.doesNotMatch(r.message, /secret/);
    }
  });

  test('validation errors carry details with a JSON pointer per failure', () => {
    const err = Object.assign(new Error('body/size_bytes must be integer'), {
      statusCode: 400,
      validationContext: 'body',
      validation: [{ instancePath: '/size_bytes', message: 'must be integer', keyword: 'type', params: {} }],
    });
    const r = toErrorResponse(err);
    assert.equal(r.code, 'VALIDATION_ERROR');
    assert.deepEqual(r.details, [{ path: '/body/size_bytes', message: 'must be integer', keyword: 'type' }]);
  });

  test('a backing server that is down (the adapters\' typed errors) → 503 SERVICE_UNAVAILABLE, without the internal message', () => {
    const down = [
      new KeyValueStoreError('STORE_IO', 'redis kv store comments: get failed: connect ECONNREFUSED 127.0.0.1:6379 secret'),
      new AnalyticsStoreError('ANALYTICS_IO', 'clickhouse query failed secret'),
      new SearchIndexError('SEARCH_UNAVAILABLE', 'typesense: search: ECONNREFUSED secret'),
      new ObjectStoreError('ServiceUnavailable', 'S3 server unavailable: ECONNREFUSED secret'),
      new ObjectStoreError('SlowDown', 'reduce your request rate secret'),
      new RedisRateLimitStoreError('RATE_LIMIT_STORE_IO', 'rate-limit store: hit failed secret'),
    ];
    for (const e of down) {
      const r = toErrorResponse(e);
      assert.equal(r.statusCode, 503, e.message);
      assert.equal(r.code, 'SERVICE_UNAVAILABLE');
      assert.doesNotMatch(r.message, /secret|ECONNREFUSED/);
    }
    // The same classes with a code that is not an outage stay what they were.
    for (const e of [new KeyValueStoreError('STORE_CORRUPT', 'x'), new SearchIndexError('SEARCH_SCHEMA', 'x'), new AnalyticsStoreError('ANALYTICS_CLOSED', 'x')]) {
      assert.equal(toErrorResponse(e).statusCode, 500, e.code);
    }
  });

  test('the handler answers an unavailable server with Retry-After', async () => {
    const app = Fastify({ logger: false });
    app.setErrorHandler(gatewayErrorHandler);
    app.get('/down', async () => { throw new SearchIndexError('SEARCH_UNAVAILABLE', 'typesense: search: fetch failed'); });
    const res = await app.inject({ method: 'GET', url: '/down' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    assert.equal(res.json().code, 'SERVICE_UNAVAILABLE');
    await app.close();
  });

  test('a command with no outcome in time (cluster mode) → 503 COMMAND_TIMEOUT with Retry-After, not a 500', async () => {
    const app = Fastify({ logger: false });
    app.setErrorHandler(gatewayErrorHandler);
    app.post('/cmd', async () => { throw new CommandTimeoutError('01J0000000000000000000000', 10_000); });
    const res = await app.inject({ method: 'POST', url: '/cmd' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], String(UNAVAILABLE_RETRY_AFTER_SECONDS));
    assert.equal(res.json().code, 'COMMAND_TIMEOUT');
    await app.close();
  });
});
