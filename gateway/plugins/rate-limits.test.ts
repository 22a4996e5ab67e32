/**
 * Rate limits (issue 8, findings 2, 4, 6, 9), each attack reproduced on the real wiring
 * (gateway/testing/test-gateway.ts); addresses are set with inject's `remoteAddress`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import { createTestGateway, type TestGateway } from '../testing/test-gateway.ts';
import { parseRateLimits, RATE_LIMIT_RULES, rulesOf } from '../rate-limit/rate-limit.rules.ts';

const ATTACKER = '203.0.113.66';
const OWNER = '198.51.100.7';

function assertRateLimited(res: LightMyRequestResponse, what: string): void {
  assert.equal(res.statusCode, 429, `${what}: ${res.statusCode} ${res.body}`);
  assert.equal(res.json().code, 'RATE_LIMITED');
  assert.equal(res.json().statusCode, 429);
  const retryAfter = Number(res.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `${what}: Retry-After ${res.headers['retry-after']}`);
}

describe('login brute force (per account + address)', () => {
  let t: TestGateway;
  before(async () => {
    t = await createTestGateway({ rateLimits: {} });
    await t.signUp('alice', 'alice-right-password');
    await t.signUp('bob', 'bob-right-password');
  });
  after(() => t.close());
  const login = (username: string, password: string, remoteAddress: string) =>
    t.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { username, password }, remoteAddress });

  test('10 wrong passwords → 10 × 401; the 11th → 429 with Retry-After; the owner from another address still logs in', async () => {
    const max = RATE_LIMIT_RULES['login.failures'].max;
    const statuses: number[] = [];
    for (let i = 0; i < max; i++) statuses.push((await login('alice', `guess-${i}`, ATTACKER)).statusCode);
    assert.deepEqual(statuses, Array(max).fill(401));
    const eleventh = await login('alice', 'guess-11', ATTACKER);
    assertRateLimited(eleventh, '11th wrong password');
    console.log(`# ${max} wrong passwords: ${max} × 401; 11th: 429 Retry-After ${eleventh.headers['retry-after']} s`);
    // Even the right password is refused from the attacking address for the window (no oracle)…
    assertRateLimited(await login('alice', 'alice-right-password', ATTACKER), 'right password from the attacker');
    // …but the owner, from elsewhere, is not locked out (no lockout abuse).
    assert.equal((await login('alice', 'alice-right-password', OWNER)).statusCode, 200);
    // The username is normalised like registration's (NFKC, case): ALICE is the same account.
    assertRateLimited(await login('ALICE', 'guess', ATTACKER), 'the same account in capitals');
    // Another account from the attacking address has its own budget.
    assert.equal((await login('bob', 'wrong', ATTACKER)).statusCode, 401);
    assert.equal((await login('bob', 'bob-right-password', ATTACKER)).statusCode, 200);
  });
});

describe('concurrent guesses', () => {
  test('20 wrong passwords sent at once from one address: at most 10 are tried (401), the rest 429', async () => {
    const t = await createTestGateway({ rateLimits: {} });
    try {
      await t.signUp('carol', 'carol-right-password');
      const res = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          t.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { username: 'carol', password: `guess-${i}` }, remoteAddress: ATTACKER }),
        ),
      );
      const statuses = res.map((r) => r.statusCode);
      console.log(`# 20 concurrent guesses: ${statuses.filter((s) => s === 401).length} × 401, ${statuses.filter((s) => s === 429).length} × 429`);
      assert.equal(statuses.filter((s) => s === 401).length, RATE_LIMIT_RULES['login.failures'].max);
      assert.equal(statuses.filter((s) => s === 429).length, 20 - RATE_LIMIT_RULES['login.failures'].max);
    } finally {
      await t.close();
    }
  });
});

describe('credential stuffing from one address (login.ip)', () => {
  test('many accounts from one address: past login.ip every attempt is 429, whatever the account', async () => {
    const t = await createTestGateway({ rateLimits: { 'login.ip': { max: 5, windowSeconds: 900 } } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) {
        const res = await t.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { username: `victim${i}`, password: 'Summer2026!' }, remoteAddress: ATTACKER });
        statuses.push(res.statusCode);
        if (res.statusCode === 429) assertRateLimited(res, 'stuffing');
      }
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
    } finally {
      await t.close();
    }
  });
});

describe('registration flood from one address', () => {
  test('the registrations past register.ip get 429, nothing is sent for them; another address still registers', async () => {
    const t = await createTestGateway({ rateLimits: {} });
    try {
      const max = RATE_LIMIT_RULES['register.ip'].max;
      const register = (name: string, remoteAddress: string) =>
        t.inject({ method: 'POST', url: '/api/v1/users', payload: { username: name, email: `${name}@example.com`, password: 'flood-password' }, remoteAddress });
      const statuses: number[] = [];
      for (let i = 0; i < max + 5; i++) statuses.push((await register(`bot${i}`, ATTACKER)).statusCode);
      assert.deepEqual(statuses, [...Array(max).fill(201), ...Array(5).fill(429)]);
      assertRateLimited(await register('bot-last', ATTACKER), 'registration flood');
      assert.equal(t.world.sent.filter((c) => c.type === 'RegisterUser').length, max);
      console.log(`# ${max + 6} registrations from one address: ${max} × 201, 6 × 429`);
      assert.equal((await register('human', OWNER)).statusCode, 201);
    } finally {
      await t.close();
    }
  });
});

describe('heartbeats, search and writes', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  let videoId: string;
  before(async () => {
    t = await createTestGateway({
      rateLimits: {
        'heartbeat.session': { max: 3, windowSeconds: 60 },
        'heartbeat.ip': { max: 8, windowSeconds: 60 },
        'search.ip': { max: 4, windowSeconds: 60 },
        'write.account': { max: 3, windowSeconds: 60 },
      },
    });
    alice = await t.signUp('alice');
    videoId = await t.uploadVideo(alice.token, { publish: true });
  });
  after(() => t.close());
  const beat = (sessionId: string, remoteAddress: string) =>
    t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/views`, payload: { session_id: sessionId, watched_seconds: 1, position_seconds: 1 }, remoteAddress });

  test('heartbeats per session: the 4th of one session is 429, another session is not', async () => {
    for (let i = 0; i < 3; i++) assert.notEqual((await beat('session-a', '192.0.2.1')).statusCode, 429);
    assertRateLimited(await beat('session-a', '192.0.2.1'), '4th heartbeat of a session');
    assert.notEqual((await beat('session-b', '192.0.2.1')).statusCode, 429);
  });

  test('heartbeats per address: fresh (forged) session ids do not escape the address limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await beat(`forged-${i}`, '192.0.2.2')).statusCode);
    assert.equal(statuses.filter((s) => s === 429).length, 2, `statuses ${statuses.join(',')}`);
    assert.ok(statuses.slice(0, 8).every((s) => s !== 429));
    assert.notEqual((await beat('forged-x', '192.0.2.3')).statusCode, 429, 'another address has its own budget');
  });

  test('search per address', async () => {
    const search = (remoteAddress: string) => t.inject({ method: 'GET', url: '/api/v1/search/videos?q=clip', remoteAddress });
    for (let i = 0; i < 4; i++) assert.equal((await search('192.0.2.4')).statusCode, 200);
    assertRateLimited(await search('192.0.2.4'), '5th search');
    const head = await t.inject({ method: 'HEAD', url: '/api/v1/search/videos?q=clip', remoteAddress: '192.0.2.4' });
    assert.equal(head.statusCode, 429, 'HEAD (the GET handler, body dropped) does not escape the limit');
    assert.ok(Number(head.headers['retry-after']) >= 1);
    assert.equal((await search('192.0.2.5')).statusCode, 200);
  });

  test('writes per account, whatever the address', async () => {
    const bob = await t.signUp('bob');
    const comment = (remoteAddress: string) =>
      t.inject({ method: 'POST', url: `/api/v1/videos/${videoId}/comments`, token: bob.token, payload: { body: 'hi' }, remoteAddress });
    const statuses = [];
    for (const ip of ['192.0.2.6', '192.0.2.7', '192.0.2.8', '192.0.2.9']) statuses.push((await comment(ip)).statusCode);
    assert.deepEqual(statuses.slice(0, 3), [201, 201, 201]);
    assert.equal(statuses[3], 429);
  });
});

describe('behind a trusted proxy (STREAMWAVE_TRUST_PROXY)', () => {
  test('clients are told apart by X-Forwarded-For, not by the balancer address they all share', async () => {
    const t = await createTestGateway({ trustProxy: true, rateLimits: { 'search.ip': { max: 1, windowSeconds: 60 } } });
    try {
      const search = (client: string) =>
        t.inject({ method: 'GET', url: '/api/v1/search/videos?q=x', remoteAddress: '10.0.0.2', headers: { 'x-forwarded-for': client } });
      assert.equal((await search('192.0.2.10')).statusCode, 200);
      assertRateLimited(await search('192.0.2.10'), 'same client');
      assert.equal((await search('192.0.2.11')).statusCode, 200, 'another client behind the same balancer');
    } finally {
      await t.close();
    }
  });
});

describe('STREAMWAVE_RATE_LIMITS=off', () => {
  test('switches every limit off: wrong passwords stay 401, registrations and uploads go through', async () => {
    const t = await createTestGateway({ rateLimits: 'off', uploadsPerHour: 1 });
    try {
      const alice = await t.signUp('alice', 'alice-right-password');
      for (let i = 0; i < 12; i++) {
        const res = await t.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { username: 'alice', password: `x${i}` }, remoteAddress: ATTACKER });
        assert.equal(res.statusCode, 401);
      }
      for (let i = 0; i < 12; i++) {
        const res = await t.inject({ method: 'POST', url: '/api/v1/users', payload: { username: `user${i}`, email: `user${i}@example.com`, password: 'password-1' }, remoteAddress: ATTACKER });
        assert.equal(res.statusCode, 201);
      }
      await t.startUpload(alice.token);
      await t.startUpload(alice.token); // over uploadsPerHour=1, but off means off
    } finally {
      await t.close();
    }
  });
});

describe('rulesOf: the routes each rule covers', () => {
  test('API writes, heartbeats, search; S3 and registry writes but not their reads; media and plain reads unlimited', () => {
    assert.deepEqual(rulesOf('POST', '/api/v1/videos/:id/comments'), ['write.ip', 'write.account']);
    assert.deepEqual(rulesOf('GET', '/api/v1/uploads/:upload_id'), ['write.ip', 'write.account']);
    assert.deepEqual(rulesOf('POST', '/api/v1/videos/:id/views'), ['heartbeat.ip', 'heartbeat.session']);
    assert.deepEqual(rulesOf('PUT', '/s3/*'), ['s3.ip']);
    assert.deepEqual(rulesOf('GET', '/s3/*'), []);
    assert.deepEqual(rulesOf('PUT', '/registry/config'), ['registry.ip']);
    assert.deepEqual(rulesOf('GET', '/registry/subjects'), []);
    assert.deepEqual(rulesOf('GET', '/media/*'), []);
    assert.deepEqual(rulesOf('GET', '/api/v1/videos/:id'), []);
    assert.deepEqual(rulesOf('HEAD', '/api/v1/search/videos'), ['search.ip'], 'HEAD runs the GET handler');
  });
});

describe('parseRateLimits (STREAMWAVE_RATE_LIMITS)', () => {
  test('on/empty → defaults, off → off, overrides with units', () => {
    assert.deepEqual(parseRateLimits(undefined), {});
    assert.deepEqual(parseRateLimits('on'), {});
    assert.equal(parseRateLimits('off'), 'off');
    assert.deepEqual(parseRateLimits('register.ip=20/1h, search.ip=600/90s'), {
      'register.ip': { max: 20, windowSeconds: 3600 },
      'search.ip': { max: 600, windowSeconds: 90 },
    });
  });
  test('an unknown rule or a bad value is an error naming it', () => {
    assert.throws(() => parseRateLimits('nope=1/1m'), /nope=1\/1m.*register\.ip/);
    assert.throws(() => parseRateLimits('search.ip=ten/1m'), /search\.ip=ten/);
    assert.throws(() => parseRateLimits('search.ip=1/0s'), /at least 1s/);
  });
});
