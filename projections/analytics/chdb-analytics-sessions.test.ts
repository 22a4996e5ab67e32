/**
 * The chDB store's two sessions (chdb-analytics-store.adapter.ts): the creators' reads run on a
 * session of their own, beside the writes, and never while the buffers are flushed (a flush between
 * a read's look at a table and at its Buffer would hide the flushed rows from it). Every statement
 * is recorded by wrapping chDB's Session methods.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { createChdbAnalyticsStore } from './chdb-analytics-store.adapter.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { HeartbeatRow } from './analytics-store.port.ts';

let dir: string | undefined;
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** One statement as it ran: on which session, what, from when to when (performance.now(), ms). */
interface Ran { session: Session; kind: 'flush' | 'read' | 'other'; from: number; to: number }

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const heartbeats = (round: number): HeartbeatRow[] => Array.from({ length: 20 }, (_, i) => ({
  video_id: 'v1', session_id: `s${round}-${i}`, viewer_id: '', watched_seconds: 30, video_duration_seconds: 60,
  viewed_at: T0 + round * 100 + i, session_started_at: T0 - 60_000, topic: TOPICS.views, partition: 0, offset: round * 20 + i,
}));

test('given inserts flushed after each one and creators\' reads at the same time, then the reads run on a session of their own and no flush ever overlaps a read', async () => {
  dir = await mkdtemp(join(tmpdir(), 'sw-chdb-sessions-'));
  const ran: Ran[] = [];
  const proto = Session.prototype as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const originals = Object.fromEntries(['queryAsync', 'queryBindAsync', 'insert'].map((m) => [m, proto[m]!]));
  for (const [method, original] of Object.entries(originals)) {
    proto[method] = async function (this: Session, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : '';
      const kind = text.startsWith('OPTIMIZE') ? 'flush' : method === 'queryBindAsync' ? 'read' : 'other';
      const from = performance.now();
      try {
        return await original.apply(this, args);
      } finally {
        ran.push({ session: this, kind, from, to: performance.now() });
      }
    };
  }
  try {
    const store = await createChdbAnalyticsStore({ path: join(dir, 'analytics'), bufferFlushMs: 0 });
    try {
      ran.length = 0; // what setting up the tables ran does not count
      // When 30 inserts one after the other (each followed by a flush) and 30 reads of the figures
      // one after the other run together.
      await Promise.all([
        (async () => { for (let round = 0; round < 30; round++) await store.insertHeartbeats(heartbeats(round)); })(),
        (async () => { for (let n = 0; n < 30; n++) await store.videoInsights('v1', { now: T0 + 60_000, interval: 'minute', timeZone: 'UTC' }); })(),
      ]);
      assert.equal((await store.videoAnalytics('v1')).views, 600, 'every heartbeat counted');
    } finally {
      await store.close();
    }
  } finally {
    Object.assign(proto, originals);
  }

  // Then the reads ran on one session, the flushes on another,
  const reads = ran.filter((r) => r.kind === 'read');
  const flushes = ran.filter((r) => r.kind === 'flush');
  assert.ok(reads.length >= 30 * 7 && flushes.length >= 30, `${reads.length} reads, ${flushes.length} flush statements`);
  assert.equal(new Set(reads.map((r) => r.session)).size, 1);
  assert.equal(new Set(flushes.map((r) => r.session)).size, 1);
  assert.notEqual(reads[0]!.session, flushes[0]!.session);
  // and no flush statement overlapped a read.
  for (const f of flushes) {
    const overlapping = reads.filter((r) => r.from < f.to && f.from < r.to);
    assert.equal(overlapping.length, 0, `a flush (${f.from.toFixed(1)}–${f.to.toFixed(1)} ms) overlapped ${overlapping.length} read(s)`);
  }
});
