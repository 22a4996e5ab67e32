/** `/health/live`, `/health/ready` and the `/health` alias (issue 8, finding 7), through the real gateway wiring. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';
import { createReadiness } from '../../../platform/health/readiness.port.ts';

describe('health: live and ready', () => {
  let t: TestGateway;
  let diskLow = false;
  const readiness = createReadiness();
  readiness.register('disk', () => (diskLow ? { code: 'DISK_SPACE_LOW', message: 'data directory has 1 bytes free, below the floor of 2 bytes' } : undefined));
  before(async () => { t = await createTestGateway({}, { readiness, health: async () => ({ mode: 'standalone', lag: { comments: 0 } }) }); });
  after(() => t.close());

  test('ready: /health/ready and /health answer 200 with the probe fields, live answers 200', async () => {
    for (const url of ['/health/ready', '/health']) {
      const res = await t.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.deepEqual(res.json(), { status: 'ok', mode: 'standalone', lag: { comments: 0 } });
    }
    assert.deepEqual((await t.inject({ method: 'GET', url: '/health/live' })).json(), { status: 'ok' });
  });

  test('not ready: 503 with machine-readable reasons on ready and /health, live stays 200, and back', async () => {
    diskLow = true;
    for (const url of ['/health/ready', '/health']) {
      const res = await t.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 503, url);
      const body = res.json();
      assert.equal(body.status, 'unavailable');
      assert.deepEqual(body.lag, { comments: 0 }, 'the probe fields stay');
      assert.deepEqual(body.reasons.map((r: { check: string; code: string }) => [r.check, r.code]), [['disk', 'DISK_SPACE_LOW']]);
    }
    assert.equal((await t.inject({ method: 'GET', url: '/health/live' })).statusCode, 200);
    diskLow = false;
    assert.equal((await t.inject({ method: 'GET', url: '/health/ready' })).statusCode, 200);
  });

  test('a throwing health probe → 503 CHECK_FAILED without its message', async () => {
    const sick = await createTestGateway({}, { readiness: createReadiness(), health: async () => { throw new Error('disk /secret failed'); } });
    try {
      const res = await sick.inject({ method: 'GET', url: '/health/ready' });
      assert.equal(res.statusCode, 503);
      assert.deepEqual(res.json().reasons.map((r: { code: string }) => r.code), ['CHECK_FAILED']);
      assert.doesNotMatch(res.body, /secret/);
    } finally {
      await sick.close();
    }
  });
});
