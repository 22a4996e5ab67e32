/**
 * Issue 8 (findings 4, 6, 9) against `streamwave start` in a child process, configured through
 * STREAMWAVE_* like an operator would: a registration flood and a login brute force get 429 with
 * Retry-After, a trickled body is cut (408, connection closed), SIGTERM stops it cleanly (exit 0).
 *
 * The same tests run against cluster:local (issue 9) with STREAMWAVE_E2E_TARGET=cluster
 * (`npm run test:cluster`, test/support/e2e-target.ts): the overrides go to every role, the
 * floods alternate between the two gateways (the limits are shared in Redis), and SIGTERM must
 * stop every role with exit 0. No test is excluded in cluster mode.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IN_CLUSTER, startE2eTarget, type E2eTarget } from '../support/e2e-target.ts';

let sw: E2eTarget;
let tmp: string;

/** POST through the `i`-th gateway (round robin; the only one in standalone mode). */
const post = async (path: string, body: unknown, i = 0) => {
  const r = await fetch(`${sw.urls[i % sw.urls.length]}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, retryAfter: r.headers.get('retry-after'), json: (await r.json()) as { code?: string } };
};

describe(`limits on ${IN_CLUSTER ? 'cluster:local' : 'a standalone process'}`, () => {
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sw-limits-e2e-'));
    sw = await startE2eTarget({
      dataDir: tmp,
      env: { STREAMWAVE_RATE_LIMITS: 'register.ip=3/1h', STREAMWAVE_BODY_TIMEOUT_SECONDS: '1', STREAMWAVE_SHUTDOWN_TIMEOUT_SECONDS: '20' },
    });
  });
  after(async () => {
    await sw?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('registration flood from one address: 3 × 201 (STREAMWAVE_RATE_LIMITS override), then 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 6; i++) {
      last = await post('/api/v1/users', { username: `flooder${i}`, email: `f${i}@example.com`, password: 'flood-password' }, i);
      statuses.push(last.status);
    }
    console.log(`# 6 registrations: ${statuses.join(' ')}; Retry-After ${last?.retryAfter} s`);
    assert.deepEqual(statuses, [201, 201, 201, 429, 429, 429]);
    assert.equal(last!.json.code, 'RATE_LIMITED');
    assert.ok(Number(last!.retryAfter) >= 1);
  });

  test('10 wrong passwords → 10 × 401, the 11th → 429 with Retry-After', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof post>> | undefined;
    for (let i = 0; i < 11; i++) {
      last = await post('/api/v1/auth/token', { username: 'flooder0', password: `guess-${i}` }, i);
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [...Array(10).fill(401), 429]);
    assert.equal(last!.json.code, 'RATE_LIMITED');
    assert.ok(Number(last!.retryAfter) >= 1);
  });

  test('a trickled body is cut: 408 REQUEST_TIMEOUT and the connection closed', async () => {
    // Login, not registration: this address has used up its registrations above.
    const body = JSON.stringify({ username: 'slowpoke', password: 'slow-password-that-takes-a-while' });
    const socket = connect(sw.port, '127.0.0.1');
    let received = '';
    let sent = 0;
    socket.on('data', (d) => { received += d; });
    socket.on('error', () => {});
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(`POST /api/v1/auth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    const trickle = setInterval(() => { if (sent < body.length - 1 && !socket.destroyed) socket.write(body[sent++]!); }, 100);
    await new Promise<void>((r) => socket.once('close', () => r()));
    clearInterval(trickle);
    console.log(`# trickled ${sent}/${body.length} body bytes; answer: ${received.split('\r\n')[0]}`);
    assert.match(received, /^HTTP\/1\.1 408 /);
    assert.match(received, /REQUEST_TIMEOUT/);
    assert.ok(sent < body.length - 1);
  });

  test(`SIGTERM: ${IN_CLUSTER ? 'every role stops' : 'stops'} within the deadline and exits 0`, async () => {
    await sw.stop();
    assert.deepEqual(sw.exits().filter((e) => e.code !== 0), [], sw.output().slice(-3000));
  });
});
