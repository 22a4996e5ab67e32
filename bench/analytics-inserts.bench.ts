/**
 * Analytics inserts on a ClickHouse server gathered across input partitions (issue 15): the
 * analytics projection applies up to twelve partitions' batches at once, each one insert; the
 * ClickHouse adapter sends the inserts into one table made within INSERT_GROUP_LINGER_MS of the
 * first one waiting as one INSERT (sql-analytics-store.ts gatheredInserts). The freshness
 * benchmark shows it only with `--videos N` (one video loads one partition of each topic).
 *
 *   npm run bench:analytics-inserts -- [--rounds 50] [--partitions 12] [--rows 30] [--runs 3]
 *
 * Workload: `--rounds` rounds, each `--partitions` batches of `--rows` heartbeats (one batch per
 * partition, as a fetch over many videos hands them; the projection applies at most twelve at once,
 * ANALYTICS_PARTITIONS_CONCURRENTLY, the default here; the figures below in the README were
 * measured with 4, the default then) inserted at once through the
 * AnalyticsStore, the next round when all are in. One unmeasured round of each first warms the
 * server up. Alternately with inserts gathered (the default) and one INSERT
 * per batch (`gatherInserts: false`, the baseline), each on a database of its own, `--runs` times.
 * Printed per run: INSERT queries the server counted (system.events), wall time, rows/s.
 * Figure: rows/s gathered against the baseline's (medians). Needs a ClickHouse server
 * (deploy/local/clickhouse.sh); a benchmark: exits 0 whatever the figures.
 */
import { parseArgs } from 'node:util';
import { createClient } from '@clickhouse/client';
import { ANALYTICS_PARTITIONS_CONCURRENTLY } from '../projections/analytics/analytics.projection.ts';
import { createClickHouseAnalyticsStore } from '../projections/analytics/clickhouse-analytics-store.adapter.ts';
import type { HeartbeatRow } from '../projections/analytics/analytics-store.port.ts';
import { TOPICS } from '../schemas/topics.ts';
import { clickhouseMissing, startClickHouseServer } from '../test/support/clickhouse-server.ts';
import { printResult } from './support/result.ts';
import { median, table } from './support/table.ts';

const { values: args } = parseArgs({ options: {
  rounds: { type: 'string', default: '50' }, partitions: { type: 'string', default: String(ANALYTICS_PARTITIONS_CONCURRENTLY) },
  rows: { type: 'string', default: '30' }, runs: { type: 'string', default: '3' },
} });
const [rounds, partitions, rowsPer, runs] = [args.rounds, args.partitions, args.rows, args.runs].map(Number) as [number, number, number, number];

const missing = await clickhouseMissing();
if (missing) {
  console.log(`analytics-inserts: no ClickHouse server (${missing}); nothing measured`);
  printResult({ bench: 'analytics-inserts', figures: [], notes: [`skipped: ${missing}`] });
  process.exit(0);
}
const server = await startClickHouseServer();
const client = createClient({ url: server.url });
try {
  /** The server's INSERT query count so far. */
  const insertQueries = async () => {
    const [row] = await (await client.query({ query: "SELECT value FROM system.events WHERE event = 'InsertQuery'", format: 'JSONEachRow' })).json<{ value: string | number }>();
    return Number(row?.value ?? 0);
  };
  const measured: { gathered: boolean; inserts: number; ms: number; rowsPerS: number }[] = [];
  for (let run = -2; run < runs * 2; run++) {
    const gathered = run % 2 === 0;
    const warmUp = run < 0;
    const store = await createClickHouseAnalyticsStore({ url: server.url, database: `bench_inserts_${process.pid}_${run + 2}`, gatherInserts: gathered });
    try {
      const offsets = new Array<number>(partitions).fill(0);
      const batch = (p: number, round: number): HeartbeatRow[] => Array.from({ length: rowsPer }, (_, i) => ({
        video_id: `v${p}_${i % 5}`, session_id: `s${p}_${round}_${i}`, viewer_id: `u${i}`, watched_seconds: 10, video_duration_seconds: 60,
        viewed_at: Date.now(), session_started_at: Date.now() - 10_000, topic: TOPICS.views, partition: p, offset: offsets[p]!++,
      }));
      const before = await insertQueries();
      const t0 = performance.now();
      for (let round = 0; round < (warmUp ? 1 : rounds); round++) {
        await Promise.all(offsets.map((_, p) => store.insertHeartbeats(batch(p, round))));
        if (!warmUp && (round + 1) % Math.max(1, Math.floor(rounds / 5)) === 0) process.stderr.write(`  run ${run + 1}/${runs * 2} (${gathered ? 'gathered' : 'one per batch'}): ${round + 1}/${rounds} rounds\n`);
      }
      const ms = performance.now() - t0;
      if (!warmUp) measured.push({ gathered, inserts: (await insertQueries()) - before, ms, rowsPerS: (rounds * partitions * rowsPer) / (ms / 1000) });
    } finally {
      await store.close();
    }
  }
  console.log(`\nAnalytics inserts, ${rounds} rounds of ${partitions} partitions' batches of ${rowsPer} heartbeats at once (ClickHouse server ${server.url})`);
  console.log(table(['run', 'inserts', 'INSERT queries', 'wall ms', 'rows/s'], measured.map((m, i) => [String(i + 1), m.gathered ? 'gathered' : 'one per batch', String(m.inserts), m.ms.toFixed(0), m.rowsPerS.toFixed(0)])));
  const rate = (g: boolean) => median(measured.filter((m) => m.gathered === g).map((m) => m.rowsPerS));
  printResult({
    bench: 'analytics-inserts',
    figures: [{ name: 'analytics heartbeat inserts, partitions\' batches gathered', value: rate(true), unit: 'rows/s', baseline: { name: 'one INSERT per batch', value: rate(false) } }],
    notes: [`analytics-inserts: ${rounds} rounds × ${partitions} partitions × ${rowsPer} rows, median of ${runs} runs each, alternating`],
  });
} finally {
  await client.close();
  await server.stop();
}
