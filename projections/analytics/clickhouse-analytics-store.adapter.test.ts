/**
 * The AnalyticsStore contract on both SQL dialects of analytics.sql.ts:
 * - modern path: chDB (ClickHouse 26.x in process), the statements a ClickHouse ≥ 23 server runs
 *   with server-side `query_params`;
 * - compat path: a real ClickHouse 18.16 server (Debian's clickhouse-server, started here through
 *   deploy/local/clickhouse.sh) through @clickhouse/client, with client-side literal binding;
 * - the compat statements on chDB too, so both dialects are shown to agree on one engine;
 * - the ClickHouse adapter itself in the modern dialect, through @clickhouse/client, against chDB
 *   behind a shim of ClickHouse's HTTP interface (no ClickHouse ≥ 23 server runs here).
 * Plus what only a server has: version detection, the server's error messages, a server that does
 * not answer, and a restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@clickhouse/client';
import { startChdbHttpShim, type ChdbHttpShim } from '../../test/support/chdb-http-shim.ts';
import { clickhouseRequirement, startClickHouseServer, type ClickHouseServer } from '../../test/support/clickhouse-server.ts';
import { freePort } from '../../test/support/kafka-broker.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { HOSTILE_STRINGS, testAnalyticsStore } from './analytics-store.contract.ts';
import { analyticsSql } from './analytics.sql.ts';
import { createChdbAnalyticsStore } from './chdb-analytics-store.adapter.ts';
import { createClickHouseAnalyticsStore, dialectFor, dropClickHouseDatabase, listClickHouseDatabases } from './clickhouse-analytics-store.adapter.ts';

/** Runs one statement on the server at `url` (the contract's `exec`). */
async function execAt(url: string, statement: string): Promise<void> {
  const client = createClient({ url });
  try {
    await client.command({ query: statement });
  } finally {
    await client.close();
  }
}

const root = await mkdtemp(join(tmpdir(), 'sw-ch-'));
after(() => rm(root, { recursive: true, force: true }));
// libchdb binds one data directory per process: every chDB store of this file lives in this one.
const chdbPath = join(root, 'chdb');

describe('AnalyticsStore contract, modern dialect on chDB (the statements of ClickHouse ≥ 23)', () => {
  testAnalyticsStore({ open: (database) => createChdbAnalyticsStore({ path: chdbPath, database, dialect: 'modern' }) });
});

describe('AnalyticsStore contract, compat-18 statements on chDB (both dialects agree on one engine)', () => {
  testAnalyticsStore({ open: (database) => createChdbAnalyticsStore({ path: chdbPath, database, dialect: 'compat-18' }) });
});

describe('ClickHouse analytics store, modern dialect, through @clickhouse/client and chDB behind its HTTP interface (test/support/chdb-http-shim.ts)', () => {
  let shim: ChdbHttpShim | undefined;
  before(async () => { shim = await startChdbHttpShim(chdbPath); });
  after(() => shim?.close());

  describe('AnalyticsStore contract, dialect auto-detected (modern on 26.x)', () => {
    testAnalyticsStore({ open: (database) => createClickHouseAnalyticsStore({ url: shim!.url, database }), concurrent: true, exec: (statement) => execAt(shim!.url, statement) });
  });

  test('modern sends the statement text with {name:Type} placeholders and the values as query_params; a batch is one INSERT', async () => {
    const store = await createClickHouseAnalyticsStore({ url: shim!.url, database: 'shim_modern' });
    try {
      assert.equal(store.dialect, 'modern');
      const from = shim!.requests.length;
      const row = { video_id: "v'1", session_id: 's', viewer_id: '', watched_seconds: 20, video_duration_seconds: 60, viewed_at: Date.UTC(2026, 10, 24, 10), session_started_at: Date.UTC(2026, 10, 24, 9), topic: TOPICS.views, partition: 0, offset: 0 };
      await store.insertHeartbeats([row, { ...row, offset: 1 }, { ...row, offset: 2 }]);
      assert.equal((await store.videoAnalytics("v'1")).views, 1);
      const sent = shim!.requests.slice(from);
      assert.deepEqual(sent.filter((r) => r.insertRows !== undefined).map((r) => [r.query, r.insertRows]), [['INSERT INTO shim_modern.view_heartbeats FORMAT JSONEachRow', 3]]);
      const totals = sent.find((r) => r.query.includes('uniqExactIf'))!;
      assert.match(totals.query, /video_id = \{video_id:String\}/);
      assert.ok(!totals.query.includes("v\\'1"), 'no literal of the video id in the text');
      assert.equal(totals.params.video_id, "v'1");
      assert.equal(totals.params.min_view_seconds, undefined, 'the view rule is in the sessions view, not a query parameter');
    } finally {
      await store.close();
    }
  });

  test('given six partitions\' batches inserted at once, then they go as one INSERT (six with gatherInserts false), and each partition\'s checkpoint is its own', async () => {
    for (const gatherInserts of [true, false]) {
      const database = `shim_gather_${gatherInserts}`;
      const store = await createClickHouseAnalyticsStore({ url: shim!.url, database, gatherInserts });
      try {
        const from = shim!.requests.length;
        const row = (partition: number, offset: number) => ({ video_id: `v${partition}`, session_id: `s${offset}`, viewer_id: '', watched_seconds: 20, video_duration_seconds: 60, viewed_at: Date.UTC(2026, 10, 24, 10), session_started_at: Date.UTC(2026, 10, 24, 9), topic: TOPICS.views, partition, offset });
        await Promise.all([0, 1, 2, 3, 4, 5].map((p) => store.insertHeartbeats([row(p, 10 * p), row(p, 10 * p + 1)])));
        const inserts = shim!.requests.slice(from).filter((r) => r.insertRows !== undefined).map((r) => r.insertRows);
        assert.deepEqual(inserts, gatherInserts ? [12] : [2, 2, 2, 2, 2, 2]);
        assert.deepEqual(await store.checkpoint(), new Map([0, 1, 2, 3, 4, 5].map((p) => [`${TOPICS.views}:${p}`, 10 * p + 2])));
      } finally {
        await store.close();
      }
    }
  });
});

const skip = await clickhouseRequirement();

describe('ClickHouse analytics store on a real ClickHouse server (Debian clickhouse-server)', { skip }, () => {
  let server: ClickHouseServer | undefined;
  before(async () => {
    const t = Date.now();
    server = await startClickHouseServer();
    console.log(`# ClickHouse server ${server.url} (pid ${server.pid}) answering after ${Date.now() - t} ms`);
  });
  after(() => server?.stop());
  const url = () => server!.url;

  describe('AnalyticsStore contract, dialect auto-detected (compat-18 on 18.16)', () => {
    testAnalyticsStore({ open: (database) => createClickHouseAnalyticsStore({ url: url(), database }), concurrent: true, exec: (statement) => execAt(url(), statement) });
  });

  test('auto picks compat-18 on this server and says which version it found', async () => {
    const store = await createClickHouseAnalyticsStore({ url: url(), database: 'detect' });
    try {
      assert.match(store.serverVersion, /^\d+\.\d+/);
      assert.equal(store.dialect, dialectFor(store.serverVersion));
      if (store.serverVersion.startsWith('18.')) assert.equal(store.dialect, 'compat-18');
    } finally {
      await store.close();
    }
    assert.equal(dialectFor('18.16.1'), 'compat-18');
    assert.equal(dialectFor('22.8.1.1'), 'compat-18');
    assert.equal(dialectFor('23.3.1'), 'modern');
    assert.equal(dialectFor('24.8.4.13'), 'modern');
    assert.equal(dialectFor('garbage'), 'compat-18');
  });

  test('the hostile strings come back from the server unchanged as literals (client-side binding round trip)', async () => {
    const client = createClient({ url: url() });
    try {
      const sql = analyticsSql('streamwave', 'compat-18');
      for (const s of HOSTILE_STRINGS) {
        const bound = sql.bind('SELECT {s:String} AS s, length({s:String}) AS n', { s });
        const [row] = await (await client.query({ query: bound.query, format: 'JSONEachRow' })).json<{ s: string; n: string | number }>();
        assert.equal(row!.s, s, `round trip of ${JSON.stringify(s)}`);
        assert.equal(Number(row!.n), Buffer.byteLength(s, 'utf8'));
      }
    } finally {
      await client.close();
    }
  });

  test('a statement the server refuses is ANALYTICS_IO with the server\'s message (modern DDL on 18.16; a dropped table)', async (t) => {
    const store = await createClickHouseAnalyticsStore({ url: url(), database: 'refused' });
    const modern = store.dialect === 'compat-18'
      ? createClickHouseAnalyticsStore({ url: url(), database: 'refused_modern', dialect: 'modern' })
      : undefined;
    try {
      if (modern) await assert.rejects(modern, (e: Error & { code?: string }) => e.code === 'ANALYTICS_IO' && /DateTime64/.test(e.message));
      else t.diagnostic('server is modern: the modern DDL is accepted, only the dropped table is checked');
      await dropClickHouseDatabase({ url: url() }, 'refused');
      await assert.rejects(store.videoAnalytics('v1'), (e: Error & { code?: string }) => e.code === 'ANALYTICS_IO' && /refused\.view_heartbeats|doesn't exist|UNKNOWN_TABLE/i.test(e.message));
      await assert.rejects(store.insertHeartbeats([{ video_id: 'v', session_id: 's', viewer_id: '', watched_seconds: 1, video_duration_seconds: 1, viewed_at: 0, topic: TOPICS.views, partition: 0, offset: 0 }]), { code: 'ANALYTICS_IO' });
    } finally {
      await store.close();
    }
  });

  test('given a read model written before the sessions view (heartbeats, no video_sessions), when it is opened, then the stored heartbeats are aggregated once and the figures stay', async () => {
    const database = `backfill_${Date.now()}`;
    const row = (offset: number, session: string, watched: number) => ({ video_id: 'v', session_id: session, viewer_id: session === 'a' ? 'u1' : '', watched_seconds: watched, video_duration_seconds: 60, viewed_at: Date.UTC(2026, 10, 24, 10, 0, offset), topic: TOPICS.views, partition: 0, offset });
    const first = await createClickHouseAnalyticsStore({ url: url(), database });
    await first.insertHeartbeats([row(0, 'a', 4), row(1, 'a', 12), row(2, 'b', 30), row(3, 'c', 3)]);
    const before = await first.videoAnalytics('v');
    await first.close();
    assert.deepEqual([before.views, before.watch_time_seconds], [2, 45]);
    const client = createClient({ url: url() });
    try {
      // What the previous release left: no view, no sessions table, no marker.
      for (const table of ['video_sessions_mv', 'video_sessions', 'video_sessions_backfilled']) await client.command({ query: `DROP TABLE ${database}.${table}` });
      // A rolling upgrade: a new projector made the table and the view and stopped before its
      // backfill, and an old one's insert went through the view meanwhile: video_sessions is not
      // empty, yet the heartbeats stored before the view are still to be aggregated.
      const sql = analyticsSql(database, first.dialect);
      for (const query of [sql.videoSessions.createTable, sql.videoSessions.createView]) await client.command({ query });
      await client.insert({ table: `${database}.view_heartbeats`, values: [sql.toJsonRow(row(5, 'd', 1))], format: 'JSONEachRow' });
      const reopened = await createClickHouseAnalyticsStore({ url: url(), database });
      try {
        const after = await reopened.videoAnalytics('v');
        assert.deepEqual({ ...after, watch_time_seconds: after.watch_time_seconds - 1 }, before, 'the heartbeats stored before the view, and the 1 s the view took meanwhile');
        await reopened.insertHeartbeats([row(4, 'c', 15)]);
        assert.equal((await reopened.videoAnalytics('v')).views, 3, 'the view aggregates new heartbeats after the backfill');
      } finally {
        await reopened.close();
      }
      const again = await createClickHouseAnalyticsStore({ url: url(), database });
      await again.close();
      const [count] = await (await client.query({ query: `SELECT count() AS n FROM (SELECT session_id FROM ${database}.video_sessions FINAL)`, format: 'JSONEachRow' })).json<{ n: string | number }>();
      assert.equal(Number(count!.n), 4, 'one row per session once merged, however often it was opened');
    } finally {
      await dropClickHouseDatabase({ url: url() }, database);
      await client.close();
    }
  });

  test('replay databases: listed by prefix and dropped; an illegal name is refused before any request', async () => {
    const a = await createClickHouseAnalyticsStore({ url: url(), database: 'streamwave_replay_1' });
    await a.close();
    assert.deepEqual(await listClickHouseDatabases({ url: url() }, 'streamwave_replay_'), ['streamwave_replay_1']);
    await dropClickHouseDatabase({ url: url() }, 'streamwave_replay_1');
    assert.deepEqual(await listClickHouseDatabases({ url: url() }, 'streamwave_replay_'), []);
    await assert.rejects(dropClickHouseDatabase({ url: url() }, 'x; DROP DATABASE streamwave'), { code: 'ANALYTICS_IO' });
    await assert.rejects(createClickHouseAnalyticsStore({ url: url(), database: 'x; DROP DATABASE streamwave' }), { code: 'ANALYTICS_IO' });
    await assert.rejects(createClickHouseAnalyticsStore({ url: url(), database: 'ok', dialect: 'ancient' as never }), { code: 'ANALYTICS_IO' });
  });

  test('the data survives a server restart, and a store that lived through the outage serves again', async () => {
    const store = await createClickHouseAnalyticsStore({ url: url(), database: 'restart' });
    try {
      const row = { video_id: 'v1', session_id: 's1', viewer_id: '', watched_seconds: 20, video_duration_seconds: 60, viewed_at: Date.UTC(2026, 10, 24, 10), topic: TOPICS.views, partition: 0, offset: 0 };
      await store.insertHeartbeats([row]);
      await server!.restart();
      assert.equal((await store.videoAnalytics('v1')).views, 1);
      await store.insertHeartbeats([{ ...row, session_id: 's2', offset: 1 }]);
      assert.deepEqual(await store.checkpoint(), new Map([[`${TOPICS.views}:0`, 2]]));
    } finally {
      await store.close();
    }
  });

  test('a frozen server (SIGSTOP): calls reject with ANALYTICS_IO after requestTimeoutMs; after SIGCONT the same store serves again', async () => {
    const store = await createClickHouseAnalyticsStore({ url: url(), database: 'frozen', requestTimeoutMs: 500 });
    const pid = server!.pid;
    try {
      process.kill(pid, 'SIGSTOP');
      try {
        await assert.rejects(store.videoAnalytics('v1'), (e: Error & { code?: string }) => e.code === 'ANALYTICS_IO' && /timeout/i.test(e.message));
        await assert.rejects(store.insertHeartbeats([{ video_id: 'v1', session_id: 's', viewer_id: '', watched_seconds: 20, video_duration_seconds: 60, viewed_at: 0, topic: TOPICS.views, partition: 0, offset: 0 }]), { code: 'ANALYTICS_IO' });
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      // The insert may or may not have landed before the timeout (at-least-once): either way the checkpoint tells.
      const cp = await store.checkpoint();
      assert.ok(cp.size === 0 || cp.get(`${TOPICS.views}:0`) === 1);
      assert.equal((await store.videoAnalytics('nobody')).views, 0);
    } finally {
      await store.close();
    }
  });
});

describe('ClickHouse analytics store against a server that accepts connections and never answers', () => {
  let silent: Server;
  let port = 0;
  const sockets = new Set<Socket>();
  before(async () => {
    port = await freePort();
    silent = createServer((s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
    await new Promise<void>((res) => silent.listen(port, '127.0.0.1', res));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((res) => silent.close(() => res()));
  });

  test('opening rejects with ANALYTICS_IO once requestTimeoutMs has passed, instead of hanging', async () => {
    await assert.rejects(
      createClickHouseAnalyticsStore({ url: `http://127.0.0.1:${port}`, database: 'x', requestTimeoutMs: 300 }),
      (e: Error & { code?: string }) => e.code === 'ANALYTICS_IO' && /timeout/i.test(e.message),
    );
  });

  test('nothing listening: ANALYTICS_IO with the connection error', async () => {
    const closedPort = await freePort();
    await assert.rejects(
      createClickHouseAnalyticsStore({ url: `http://127.0.0.1:${closedPort}`, database: 'x', requestTimeoutMs: 2_000 }),
      (e: Error & { code?: string }) => e.code === 'ANALYTICS_IO' && /ECONNREFUSED/.test(e.message),
    );
  });

  test('bad options are ANALYTICS_IO, not a crash', async () => {
    await assert.rejects(createClickHouseAnalyticsStore({ url: 'not a url', database: 'x' }), { code: 'ANALYTICS_IO' });
    await assert.rejects(createClickHouseAnalyticsStore({ url: `http://127.0.0.1:${port}`, database: 'x', requestTimeoutMs: -1 }), { code: 'ANALYTICS_IO' });
  });
});
