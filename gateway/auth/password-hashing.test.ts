/**
 * Issue 8, finding 6: scrypt shares libuv's thread pool with the log's fsyncs, so unbounded
 * hashing during a login flood stalls disk I/O. Hashing is bounded (gateway/auth/password.ts);
 * these tests assert the bound and the progress of an fsync'ed append during a flood (ordering,
 * not timings: libuv's queue is FIFO, so an append queued behind N scrypts completes after them).
 */
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createEmbeddedEventLog } from '../../platform/log/embedded/embedded-event-log.adapter.ts';
import { createTestGateway } from '../testing/test-gateway.ts';
import { configurePasswordHashing, hashPassword, passwordHashingStats, verifyPassword } from './password.ts';

const FLOOD = 24;
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
afterEach(() => configurePasswordHashing({ concurrency: 2, queue: 32 }));

/** Starts FLOOD verifications, then one fsync'ed append; returns how many verifications had finished when the append was durable. */
async function appendDuringFlood(): Promise<{ doneAtAppend: number; total: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'sw-scrypt-'));
  dirs.push(dir);
  const log = await createEmbeddedEventLog({ dataDir: dir, logger: pino({ level: 'silent' }) });
  await log.createTopic({ name: 'probe', partitions: 1 });
  const phc = await hashPassword('the right one');
  let done = 0;
  const flood = Array.from({ length: FLOOD }, (_, i) => verifyPassword(`guess ${i}`, phc).then(() => { done++; }));
  await log.append('probe', [{ key: 'k', value: Buffer.from('during the flood') }]);
  const doneAtAppend = done;
  await Promise.all(flood);
  await log.close();
  return { doneAtAppend, total: done };
}

describe('bounded password hashing', () => {
  test('N concurrent verifications never run more than the bound at once, and all complete', async () => {
    configurePasswordHashing({ concurrency: 2, queue: 64 });
    const phc = await hashPassword('pw');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => verifyPassword(i === 7 ? 'pw' : `no ${i}`, phc)));
    const stats = passwordHashingStats();
    console.log(`# 20 concurrent verifications: peak ${stats.peakActive} at once (bound 2), ${results.filter(Boolean).length} right`);
    assert.equal(stats.peakActive, 2);
    assert.deepEqual(results.map((r, i) => (r ? i : -1)).filter((i) => i >= 0), [7]);
    assert.equal(stats.active + stats.queued, 0);
  });

  test('an fsync-bound log append completes during a login flood (bounded), instead of after it (unbounded)', async () => {
    configurePasswordHashing({ concurrency: 2, queue: 64 });
    const bounded = await appendDuringFlood();
    configurePasswordHashing({ concurrency: 64, queue: 0 });
    const unbounded = await appendDuringFlood();
    console.log(`# append durable after ${bounded.doneAtAppend}/${FLOOD} verifications with the bound, after ${unbounded.doneAtAppend}/${FLOOD} without`);
    assert.equal(bounded.total, FLOOD);
    assert.equal(unbounded.total, FLOOD);
    // Without the bound every scrypt is queued in libuv ahead of the append's write and fsync: the
    // append waits for (nearly) the whole flood — the attack. With it, two threads stay free for I/O.
    assert.ok(unbounded.doneAtAppend >= FLOOD - 4, `unbounded: ${unbounded.doneAtAppend}`);
    assert.ok(bounded.doneAtAppend < FLOOD / 2, `bounded: ${bounded.doneAtAppend}`);
  });

  test('logins over the bound and the queue get 503 SERVER_BUSY with Retry-After, never another 5xx; the rest answer', async () => {
    const t = await createTestGateway({ passwordHashConcurrency: 1, passwordHashQueue: 2, rateLimits: 'off' });
    try {
      await t.signUp('alice', 'alice-password');
      const res = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          t.inject({ method: 'POST', url: '/api/v1/auth/token', payload: { username: 'alice', password: i % 2 ? 'alice-password' : 'wrong' } }),
        ),
      );
      const statuses = res.map((r) => r.statusCode);
      console.log(`# 10 concurrent logins, hashing bound 1 + queue 2: ${statuses.join(' ')}; peak ${passwordHashingStats().peakActive}`);
      assert.equal(passwordHashingStats().peakActive, 1);
      assert.ok(statuses.every((s) => [200, 401, 503].includes(s)), statuses.join(','));
      const busy = res.filter((r) => r.statusCode === 503);
      assert.ok(busy.length >= 1);
      for (const r of busy) {
        assert.equal(r.json().code, 'SERVER_BUSY');
        assert.ok(Number(r.headers['retry-after']) >= 1);
      }
      assert.ok(statuses.filter((s) => s !== 503).length >= 3, 'the admitted ones (1 running + 2 queued) answer');
    } finally {
      await t.close();
    }
  });
});
