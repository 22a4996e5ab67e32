/**
 * The chDB store gathers the inserts of several input partitions into one INSERT per table
 * (sql-analytics-store.ts gatheredInserts, issue 15): a standalone load over many videos, hence
 * many partitions, made one insert (one part, fsynced) per partition and table, one after the
 * other on chDB's one session, and the creators' numbers lagged seconds behind.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import { TOPICS } from '../../schemas/topics.ts';
import type { PlaybackRow } from './analytics-store.port.ts';
import { createChdbAnalyticsStore } from './chdb-analytics-store.adapter.ts';

let dir: string | undefined;
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const PARTITIONS = [0, 1, 2, 3, 4, 5];

/** A playback start of session `s<partition>` of video `v<partition>` at `offset` of `partition`. */
const start = (partition: number, offset: number): PlaybackRow => ({
  video_id: `v${partition}`, session_id: `s${partition}`, type: 'PlaybackStarted', position_seconds: 0, startup_time_ms: 100 + partition,
  rendition_height: 720, rebuffer_ms: null, error_code: '', at: T0 + offset, topic: TOPICS.playback, partition, offset,
});

test('given six partitions\' playback batches inserted at once, then they go in at most two INSERTs, not one per partition, and every partition keeps its own checkpoint and figures', async () => {
  dir = await mkdtemp(join(tmpdir(), 'sw-chdb-gather-'));
  const path = join(dir, 'analytics');
  const store = await createChdbAnalyticsStore({ path });
  // A second session on the same directory, to see the parts the inserts made.
  const parts = new Session(path);
  try {
    // When six partitions' batches (two events each) are inserted together.
    await Promise.all(PARTITIONS.map((p) => store.insertPlaybackEvents([start(p, 10 * p), start(p, 10 * p + 1)])));

    // Then the running totals' table got at most two inserts, not six (each insert takes the
    // table's next block number, and a part, merged or not, spans the numbers of the inserts in
    // it): the first batch to reach it goes after the linger, and the others, whose session
    // look-ups ran on the one session meanwhile, wait for it and go together. (The events go
    // through a Buffer, whose inserts make no parts; they are gathered by the same code.)
    const r = await parts.queryAsync("SELECT table, max(max_block_number) AS inserts FROM system.parts WHERE database = 'streamwave' AND table = 'playback_sessions' GROUP BY table", { format: 'JSONEachRow' });
    const inserts = r.text().trim().split('\n').map((l) => JSON.parse(l) as { table: string; inserts: number | string });
    assert.deepEqual(inserts.map((i) => i.table), ['playback_sessions']);
    for (const i of inserts) assert.ok(Number(i.inserts) <= 2, `${i.table}: ${i.inserts} inserts for ${PARTITIONS.length} partitions' batches`);

    // And each partition's checkpoint is its own, and each video counts its own two starts.
    const checkpoint = await store.checkpoint();
    for (const p of PARTITIONS) assert.equal(checkpoint.get(`${TOPICS.playback}:${p}`), 10 * p + 2);
    for (const p of PARTITIONS) {
      const i = await store.videoInsights(`v${p}`, { now: T0 + 60_000, interval: 'minute', timeZone: 'UTC' });
      assert.deepEqual([i.startup_time_ms.samples, i.startup_time_ms.p50], [2, 100 + p]);
    }
  } finally {
    parts.close();
    await store.close();
  }
});

test('given an insert still gathering with others (its linger not over), when the store closes, then the insert lands before the session closes and its events are there after reopening', async () => {
  dir ??= await mkdtemp(join(tmpdir(), 'sw-chdb-gather-'));
  const path = join(dir, 'close-race');
  const store = await createChdbAnalyticsStore({ path });
  // When a batch is inserted and close() is called in the same turn, while the insert waits for company.
  const inserted = store.insertPlaybackEvents([start(0, 0), start(0, 1)]);
  const closed = store.close();

  // Then the insert succeeds (it ran on the open session, not on a closed one), and so does close.
  await inserted;
  await closed;
  // And a call after close is refused with the store's own code.
  await assert.rejects(store.insertPlaybackEvents([start(0, 2)]), { code: 'ANALYTICS_CLOSED' });
  const reopened = await createChdbAnalyticsStore({ path });
  try {
    assert.equal((await reopened.checkpoint()).get(`${TOPICS.playback}:0`), 2);
    const i = await reopened.videoInsights('v0', { now: T0 + 60_000, interval: 'minute', timeZone: 'UTC' });
    assert.equal(i.startup_time_ms.samples, 2);
  } finally {
    await reopened.close();
  }
});
