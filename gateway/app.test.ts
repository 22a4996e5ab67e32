/**
 * HTTP contract of the gateway (fastify.inject on the real wiring (gateway/testing/test-gateway.ts)): auth, validation, the error
 * catalogue, health, metrics and the OpenAPI document.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { createTestGateway, TEST_JWT_SECRET, type TestGateway } from './testing/test-gateway.ts';

/** Independent HS256 JWT encoder (RFC 7515 compact serialisation), to forge tokens in tests. */
function signJwt(payload: object, secret: string, header: object = { alg: 'HS256', typ: 'JWT' }): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc(header)}.${enc(payload)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = token.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), payload: JSON.parse(Buffer.from(p!, 'base64url').toString()) };
}

describe('users and tokens', () => {
  let t: TestGateway;
  before(async () => {
    t = await createTestGateway({ tokenTtlSeconds: 900 });
  });
  after(() => t.close());

  test('register → 201 id; the event stores a PHC hash, never the password', async () => {
    const res = await t.inject({ method: 'POST', url: '/api/v1/users', payload: { username: 'alice', email: 'alice@example.com', password: 'wonderland-42' } });
    assert.equal(res.statusCode, 201);
    const { id } = res.json<{ id: string }>();
    assert.match(id, /^usr_[0-9A-HJKMNP-TV-Z]{26}$/);
    const registered = (await t.world.events()).find((x) => x.event.type === 'UserRegistered');
    assert.ok(registered && registered.event.type === 'UserRegistered');
    assert.equal(registered.event.data.userId, id);
    assert.match(registered.event.data.passwordHash, /^\$scrypt\$ln=14,r=8,p=1\$/);
    assert.ok(!JSON.stringify(await t.world.events()).includes('wonderland-42'));
  });

  test('duplicate username (any case) → 409 USERNAME_TAKEN', async () => {
    const res = await t.inject({ method: 'POST', url: '/api/v1/users', payload: { username: 'ALICE', email: 'other@example.com', password: 'whatever-123' } });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().code, 'USERNAME_TAKEN');
  });

  test('token: OAuth2 response shape, HS256 JWT with sub = user id and exp = iat + ttl', async () => {
    const user = (await t.world.readModels['user-accounts'].findUserByUsername('alice'))!;
    const res = await t.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { username: 'alice', password: 'wonderland-42', grant_type: 'password' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json<{ access_token: string; token_type: string; expires_in: number }>();
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 900);
    const { header, payload } = decodeJwt(body.access_token);
    assert.equal(header.alg, 'HS256');
    assert.equal(payload.sub, user.userId);
    assert.equal((payload.exp as number) - (payload.iat as number), 900);
  });

  test('token accepts application/x-www-form-urlencoded (RFC 6749 §4.3.2)', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/api/v1/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=password&username=alice&password=wonderland-42',
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().token_type, 'Bearer');
  });

  test('wrong password and unknown user are the same 401 INVALID_CREDENTIALS', async () => {
    for (const payload of [{ username: 'alice', password: 'wrong-password' }, { username: 'nobody', password: 'wonderland-42' }]) {
      const res = await t.inject({ method: 'POST', url: '/api/v1/auth/token', payload });
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().code, 'INVALID_CREDENTIALS');
    }
  });

  test('an unsupported grant_type is a 400', async () => {
    const res = await t.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { username: 'alice', password: 'wonderland-42', grant_type: 'client_credentials' } });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'VALIDATION_ERROR');
  });
});

describe('request validation and the error catalogue', () => {
  let t: TestGateway;
  before(async () => {
    t = await createTestGateway();
  });
  after(() => t.close());

  test('malformed JSON → 400 MALFORMED_JSON', async () => {
    const res = await t.inject({ method: 'POST', url: '/api/v1/users', headers: { 'content-type': 'application/json' }, payload: '{"username": "bob",' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'MALFORMED_JSON');
  });

  test('unknown field → 400 VALIDATION_ERROR naming the field (rejected, not stripped)', async () => {
    const res = await t.inject({ method: 'POST', url: '/api/v1/users', payload: { username: 'bob', email: 'bob@example.com', password: 'password-1', admin: true } });
    assert.equal(res.statusCode, 400);
    const body = res.json();
    assert.equal(body.code, 'VALIDATION_ERROR');
    assert.ok(body.details.some((d: { message: string }) => d.message.includes('admin')));
    assert.equal(t.world.sent.length, 0);
  });

  test('wrong types and broken rules → 400 VALIDATION_ERROR with the offending path', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ username: 'bob', email: 'not-an-email', password: 'password-1' }, '/body/email'],
      [{ username: 'bob', email: 'bob@example.com', password: 'short' }, '/body/password'],
      [{ username: 'b o b', email: 'bob@example.com', password: 'password-1' }, '/body/username'],
      [{ username: 12345, email: 'bob@example.com', password: 'password-1' }, '/body/username'],
    ];
    for (const [payload, path] of cases) {
      const res = await t.inject({ method: 'POST', url: '/api/v1/users', payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      const body = res.json();
      assert.equal(body.code, 'VALIDATION_ERROR');
      assert.equal(body.details[0].path, path);
    }
  });

  test('non-JSON bodies → 415 UNSUPPORTED_MEDIA_TYPE; bad URL encoding → 400; over-long path parameter → 414', async () => {
    for (const [type, payload] of [['text/plain', 'hi'], ['application/x-www-form-urlencoded', 'username=bob']]) {
      const res = await t.inject({ method: 'POST', url: '/api/v1/users', headers: { 'content-type': type }, payload });
      assert.equal(res.statusCode, 415, type);
      assert.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE');
    }
    const badUrl = await t.inject({ method: 'GET', url: '/api/v1/videos/%E0%A4%A' });
    assert.equal(badUrl.statusCode, 400);
    assert.equal(badUrl.json().code, 'BAD_URL');
    const long = await t.inject({ method: 'GET', url: `/api/v1/videos/${'x'.repeat(2000)}` });
    assert.equal(long.statusCode, 414);
    assert.equal(long.json().code, 'URI_TOO_LONG');
  });

  test('a body above the limit → 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await t.inject({ method: 'POST', url: '/api/v1/users', payload: { username: 'x'.repeat(1_100_000), email: 'a@b.co', password: 'password-1' } });
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().code, 'PAYLOAD_TOO_LARGE');
  });

  test('unknown route → 404 NOT_FOUND in the same error shape', async () => {
    const res = await t.inject({ method: 'GET', url: '/api/v1/nothing-here' });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(Object.keys(res.json()).sort(), ['code', 'message', 'statusCode']);
  });

  test('an unexpected failure is 500 INTERNAL and hides the internal message', async () => {
    const leaky = await createTestGateway({}, {
      commandBus: { send: async () => { throw new Error('kafka broker 10.0.0.7 password=hunter2'); } },
    });
    try {
      const res = await leaky.inject({ method: 'POST', url: '/api/v1/users', payload: { username: 'carol', email: 'carol@example.com', password: 'password-1' } });
      assert.equal(res.statusCode, 500);
      assert.equal(res.json().code, 'INTERNAL');
      assert.doesNotMatch(res.body, /hunter2|10\.0\.0\.7/);
    } finally {
      await leaky.close();
    }
  });
});

describe('bearer authentication', () => {
  let t: TestGateway;
  let userId: string;
  before(async () => {
    t = await createTestGateway();
    ({ id: userId } = await t.signUp('dave'));
  });
  after(() => t.close());

  const history = (headers: Record<string, string> = {}) => t.inject({ method: 'GET', url: '/api/v1/users/me/history', headers });

  test('missing token → 401 UNAUTHORIZED with WWW-Authenticate: Bearer', async () => {
    const res = await history();
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'UNAUTHORIZED');
    assert.match(String(res.headers['www-authenticate']), /^Bearer/);
  });

  test('garbage, foreign-signed, expired, alg=none and sub-less tokens → 401 INVALID_TOKEN', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const tokens = {
      garbage: 'not.a.jwt',
      foreign: signJwt({ sub: userId, iat: nowS, exp: nowS + 600 }, 'another-secret-another-secret-1234'),
      expired: signJwt({ sub: userId, iat: nowS - 7200, exp: nowS - 3600 }, TEST_JWT_SECRET),
      none: `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: userId })).toString('base64url')}.`,
      noSub: signJwt({ iat: nowS, exp: nowS + 600 }, TEST_JWT_SECRET),
    };
    for (const [name, token] of Object.entries(tokens)) {
      const res = await history({ authorization: `Bearer ${token}` });
      assert.equal(res.statusCode, 401, name);
      assert.equal(res.json().code, 'INVALID_TOKEN', name);
    }
    const basic = await history({ authorization: 'Basic ZGF2ZTpwdw==' });
    assert.equal(basic.json().code, 'INVALID_TOKEN');
  });

  test('a valid token we did not issue through login but signed with our secret (kid, iss, aud as ours) is accepted', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const claims = { sub: userId, iat: nowS, exp: nowS + 60, iss: 'streamwave', aud: 'streamwave-api' };
    const res = await history({ authorization: `Bearer ${signJwt(claims, TEST_JWT_SECRET, { alg: 'HS256', typ: 'JWT', kid: 'default' })}` });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { history: [] });
    // Issue 8: the same token without kid, iss or aud is refused.
    for (const [c, h] of [[claims, { alg: 'HS256' }], [{ ...claims, iss: undefined }, { alg: 'HS256', kid: 'default' }], [{ ...claims, aud: 'x' }, { alg: 'HS256', kid: 'default' }]] as const) {
      assert.equal((await history({ authorization: `Bearer ${signJwt(c, TEST_JWT_SECRET, h)}` })).statusCode, 401);
    }
  });
});

describe('health, metrics, docs, mounted plugins', () => {
  let t: TestGateway;
  const extra: FastifyPluginAsync = async (f) => {
    f.get('/ping', async () => ({ pong: true }));
  };
  before(async () => {
    t = await createTestGateway({}, { health: async () => ({ log: 'up', lag: 0 }), plugins: [{ plugin: extra, prefix: '/registry' }] });
  });
  after(() => t.close());

  test('issue 8: every response carries X-Content-Type-Options: nosniff (API, errors, 404, docs, mounted plugins)', async () => {
    for (const url of ['/health', '/api/v1/users/me/history', '/nowhere', '/docs/json', '/registry/ping', '/metrics']) {
      const res = await t.inject({ method: 'GET', url });
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
    }
    const bad = await t.inject({ method: 'POST', url: '/api/v1/users', payload: '{not json', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.headers['x-content-type-options'], 'nosniff');
  });

  test('GET /health merges the health probe', async () => {
    const res = await t.inject({ method: 'GET', url: '/health' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok', log: 'up', lag: 0 });
  });

  test('GET /health → 503 when the probe throws, without its message', async () => {
    const sick = await createTestGateway({}, { health: async () => { throw new Error('disk /secret failed'); } });
    try {
      const res = await sick.inject({ method: 'GET', url: '/health' });
      assert.equal(res.statusCode, 503);
      assert.doesNotMatch(res.body, /secret/);
    } finally {
      await sick.close();
    }
  });

  test('GET /metrics exposes request counts and durations labelled by route pattern and status', async () => {
    await t.inject({ method: 'GET', url: '/api/v1/videos/vid_missing' });
    const res = await t.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.match(res.body, /http_requests_total\{method="GET",route="\/api\/v1\/videos\/:id",status_code="404"\} 1/);
    assert.match(res.body, /http_request_duration_seconds_bucket\{[^}]*route="\/api\/v1\/videos\/:id"/);
  });

  test('/docs/json is an OpenAPI 3 document with every public path and a bearer scheme', async () => {
    const res = await t.inject({ method: 'GET', url: '/docs/json' });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.match(doc.openapi, /^3\./);
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    const expected: Record<string, string[]> = {
      '/api/v1/users': ['post'],
      '/api/v1/users/me/history': ['get'],
      '/api/v1/auth/token': ['post'],
      '/api/v1/uploads': ['post'],
      '/api/v1/uploads/{upload_id}': ['get'],
      '/api/v1/uploads/{upload_id}/complete': ['post'],
      '/api/v1/videos/{id}': ['get', 'patch', 'delete'],
      '/api/v1/videos/{id}/status': ['get'],
      '/api/v1/videos/{id}/stream': ['get'],
      '/api/v1/videos/{id}/views': ['post'],
      '/api/v1/videos/{id}/comments': ['get', 'post'],
      '/api/v1/videos/{id}/analytics': ['get'],
      '/api/v1/users/me/analytics': ['get'],
      '/api/v1/search/videos': ['get'],
      '/health': ['get'],
      '/metrics': ['get'],
    };
    for (const [path, methods] of Object.entries(expected)) {
      assert.ok(doc.paths[path], `missing ${path}`);
      for (const m of methods) assert.ok(doc.paths[path][m], `missing ${m.toUpperCase()} ${path}`);
    }
    assert.deepEqual(doc.paths['/api/v1/videos/{id}'].patch.security, [{ bearerAuth: [] }]);
    assert.ok(doc.paths['/api/v1/uploads'].post.responses['201']);
  });

  test('plugins passed in deps are mounted at their prefix', async () => {
    const res = await t.inject({ method: 'GET', url: '/registry/ping' });
    assert.deepEqual(res.json(), { pong: true });
  });
});

describe('resolveGatewayConfig', () => {
  test('applies defaults and rejects impossible settings', async () => {
    const { resolveGatewayConfig } = await import('./app.ts');
    const c = resolveGatewayConfig({ jwtSecret: 's' });
    assert.equal(c.tokenTtlSeconds, 3600);
    assert.equal(c.maxUploadBytes, 4 * 1024 ** 3);
    assert.equal(c.minPartSizeBytes, 5 * 1024 ** 2);
    assert.equal(c.maxPartSizeBytes, 64 * 1024 ** 2);
    assert.equal(c.uploadsPerHour, 5);
    assert.throws(() => resolveGatewayConfig({ jwtSecret: '' }), /jwtSecret/);
    assert.throws(() => resolveGatewayConfig({ jwtSecret: 's', minPartSizeBytes: 10, maxPartSizeBytes: 5 }), /minPartSizeBytes/);
    assert.throws(() => resolveGatewayConfig({ jwtSecret: 's', tokenTtlSeconds: -1 }), /tokenTtlSeconds/);
  });
});

describe('access log (issue 12: no log line per successful request)', () => {
  test('failures and slow requests are logged at info, successful ones only at debug', async () => {
    const { Writable } = await import('node:stream');
    const { default: pino } = await import('pino');
    const lines: { level: number; msg: string; statusCode?: number; url?: string }[] = [];
    const sink = new Writable({ write(chunk: Buffer, _e, cb) { for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l)); cb(); } });
    const atInfo = await createTestGateway({}, { logger: pino({ level: 'info' }, sink) });
    try {
      assert.equal((await atInfo.inject({ method: 'GET', url: '/health' })).statusCode, 200);
      assert.equal((await atInfo.inject({ method: 'GET', url: '/api/v1/videos/vid_missing' })).statusCode, 404);
    } finally {
      await atInfo.close();
    }
    const completed = lines.filter((l) => l.msg === 'request completed');
    assert.deepEqual(completed.map((l) => [l.statusCode, l.url]), [[404, '/api/v1/videos/vid_missing']]);
    assert.ok(!lines.some((l) => l.msg === 'incoming request'), 'no per-request line from Fastify');

    lines.length = 0;
    const atDebug = await createTestGateway({}, { logger: pino({ level: 'debug' }, sink) });
    try {
      await atDebug.inject({ method: 'GET', url: '/health' });
    } finally {
      await atDebug.close();
    }
    assert.ok(lines.some((l) => l.msg === 'request completed' && l.statusCode === 200 && l.level === 20), 'a 200 is logged at debug');
  });
});
