/**
 * Replay benchmark (issue 12: "replay rebuild ≥ 50,000 events/s per projection … in standalone"):
 * how fast each read model is rebuilt from offset 0 on standalone mode's embedded adapters, with
 * their real durability (files in a temp dir, the log synced per append, read models once a second as in standalone), against the ceiling of reading and
 * decoding the same topics from the same log in the same run.
 *
 *   npm run bench:replay -- [--events 200000] [--projections video-detail,comments,…] [--max-seconds 180]
 *
 * 1. Workload (bench/replay/workload.ts): ≈ `--events` events of a 30-day history — users,
 *    videos through upload → processing → progressive publishing → renditions → completion (a few
 *    abandoned, failed, edited, deleted), comments and replies, and player heartbeats on
 *    Zipf-popular videos (≈ 80 % of the events) — encoded with the real Avro codec (in-process
 *    schema registry on the same log, as standalone) and appended in batches to an embedded log
 *    in a temp dir (6 partitions per topic, the default). The log is then closed and reopened, as
 *    `streamwave replay --offline` or a restarted server opens it.
 * 2. Baseline: each event topic read back (500 records per read, the consumer's batch size) and
 *    decoded, nothing applied: "log read + decode", per projection over its own input topics.
 * 3. Per projection (the six read models of projections/read-model.port.ts, or `--projections`):
 *    a projection manager over the standalone read models (deploy/shared/embedded-read-models.ts)
 *    is started on the empty data dir, so its primary instance is first built from offset 0 by
 *    the projection runtime ("first build", shown for comparison); then
 *    `manager.replay(name, { fromBeginning: true })` — the code path behind `POST /admin/replays`
 *    and `streamwave replay` — rebuilds it into a shadow instance on a fresh store, in its own
 *    consumer group, until caught up, and swaps it in. The figure is that replay: events of the
 *    projection's input topics / seconds from the replay's start to its swap (the manager's own
 *    ReplayStatus times). A diagnostic column shows the runtime feeding a projection that applies
 *    nothing (consumer loop, group offset commits, decode), to split runtime and read-model costs,
 *    and the CPU time of this process and of every other process during each replay (another
 *    process competing for the cores makes a figure pessimistic; it is flagged).
 *    `BENCH_CPU_PROFILE_DIR=dir` writes a CPU profile of each replay window (bench/replay/profile.ts).
 *
 * Goal: ≥ 50,000 events/s per projection in standalone. A read model that cannot run here (chDB
 * missing, a failure) is reported and skipped. Progress goes to stderr, the table to stdout, and
 * last the `BENCH-RESULT` line (bench/support/result.ts). A benchmark, not a test: exits 0 whatever
 * the figures. The temp dir is removed at the end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createEmbeddedEventLog, type EmbeddedEventLog } from '../platform/log/embedded/embedded-event-log.adapter.ts';
import { READ_MODELS, type ReadModelName } from '../projections/read-model.port.ts';
import { createAvroEventCodec } from '../schemas/codec/avro-event-codec.ts';
import { createInProcessSchemaRegistryApi } from '../schemas/codec/schema-registry-api.ts';
import { createSchemaRegistry, type SchemaRegistry } from '../schemas/registry/schema-registry.ts';
import { ensureEventTopics, TOPICS } from '../schemas/topics.ts';
import { inputsOf, standaloneReadModels } from './replay/read-model-slots.ts';
import { readAndDecode, rebuild, runtimeNoApply, type RebuildResult, type Timed } from './replay/measure.ts';
import { generateWorkload, writeWorkload } from './replay/workload.ts';
import { printResult, type BenchFigure } from './support/result.ts';
import { table } from './support/table.ts';

/** Goal of issue 12: a replay rebuilds each projection at ≥ 50,000 events/s in standalone. */
export const REPLAY_GOAL_EVENTS_PER_SECOND = 50_000;
/** A replay shorter than this (seconds) is flagged: its fixed costs weigh on its rate. */
const SHORT_REBUILD_SECONDS = 0.25;
/** Other processes' CPU above this share of the replay's wall time (of one core) flags it as contended. */
const CONTENDED_SHARE = 0.2;

const T_START = performance.now();
/** A progress line on stderr, stamped with seconds since the start. */
const progress = (msg: string): void => {
  process.stderr.write(`[${((performance.now() - T_START) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
};

/** `records / seconds`, events/s (0 for no time). */
const rate = (t: Timed): number => (t.seconds > 0 ? t.records / t.seconds : 0);
const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const pct = (a: number, b: number): string => (b > 0 ? `${((100 * a) / b).toFixed(0)}%` : '-');

/** The log and codec of a data dir, as standalone opens them. */
async function openLog(dataDir: string): Promise<{ log: EmbeddedEventLog; registry: SchemaRegistry; codec: ReturnType<typeof createAvroEventCodec> }> {
  const log = await createEmbeddedEventLog({ dataDir });
  const registry = createSchemaRegistry({ log });
  await registry.start();
  const codec = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry) });
  await codec.registerAll();
  return { log, registry, codec };
}

interface ProjectionRow {
  name: ReadModelName;
  inputs: readonly string[];
  baseline: Timed;
  noApply?: Timed;
  result?: RebuildResult;
  skipped?: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '200000' },
      projections: { type: 'string', default: READ_MODELS.join(',') },
      'max-seconds': { type: 'string', default: '180' },
    },
  });
  const events = Number(values.events);
  const maxSeconds = Number(values['max-seconds']);
  const names = values.projections.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(READ_MODELS as readonly string[]).includes(n));
  if (!(events > 0) || !(maxSeconds > 0) || unknown.length) {
    console.error(`usage: npm run bench:replay -- [--events N>0] [--projections ${READ_MODELS.join(',')}] [--max-seconds S>0]${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
    process.exitCode = 2;
    return;
  }
  const projections = names as ReadModelName[];

  const dataDir = await mkdtemp(join(tmpdir(), 'streamwave-bench-replay-'));
  let open: Awaited<ReturnType<typeof openLog>> | undefined;
  const close = async () => {
    if (!open) return;
    const o = open;
    open = undefined;
    await o.registry.stop();
    await o.log.close();
  };
  try {
    progress(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${loadavg()[0].toFixed(2)}; data dir ${dataDir}`);

    // ---- 1. workload -----------------------------------------------------------------------
    progress(`generating ≈ ${int(events)} events…`);
    const workload = generateWorkload({ events, onProgress: (n) => progress(`  generated ${int(n)} events`) });
    const mix = Object.entries(workload.counts).sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${int(n)}`).join(', ');
    progress(`${int(workload.events.length)} events: ${workload.users} users, ${workload.videos} videos, ${int(workload.sessions)} playback sessions (${mix})`);
    open = await openLog(dataDir);
    await ensureEventTopics(open.log);
    const tw = performance.now();
    let lastLog = 0;
    const written = await writeWorkload(open.log, open.codec, workload.events, {
      onProgress: (n) => {
        if (performance.now() - lastLog < 2000 && n < workload.events.length) return;
        lastLog = performance.now();
        progress(`  written ${int(n)}/${int(workload.events.length)} events (${int(n / ((performance.now() - tw) / 1000))} events/s, encode + append with fsync)`);
      },
    });
    const perTopic = Object.values(TOPICS).map((t) => `${t} ${int(written.get(t) ?? 0)}`).join(', ');
    progress(`log written in ${((performance.now() - tw) / 1000).toFixed(1)} s: ${perTopic}`);
    workload.events.length = 0; // let the generated objects go
    await close();
    open = await openLog(dataDir);
    const { log, codec } = open;

    // ---- 2. baseline: read + decode, per topic (best of two passes, the first warms up) ------
    progress('baseline: reading and decoding every topic (2 passes)…');
    const perTopicBaseline = new Map<string, Timed>();
    for (let pass = 0; pass < 2; pass++) {
      for (const topic of Object.values(TOPICS)) {
        const t = await readAndDecode(log, codec, topic);
        const best = perTopicBaseline.get(topic);
        if (!best || t.seconds < best.seconds) perTopicBaseline.set(topic, t);
      }
    }
    for (const [topic, t] of perTopicBaseline) progress(`  ${topic}: ${int(t.records)} records, ${int(rate(t))} events/s`);
    const baselineOf = (inputs: readonly string[]): Timed => inputs.reduce<Timed>((acc, topic) => {
      const t = perTopicBaseline.get(topic) ?? { records: 0, seconds: 0 };
      return { records: acc.records + t.records, seconds: acc.seconds + t.seconds };
    }, { records: 0, seconds: 0 });

    // ---- 3. per projection: runtime without apply, then first build + replay --------------------
    const models = await standaloneReadModels(dataDir, randomBytes(32));
    const rows: ProjectionRow[] = [];
    for (const name of projections) {
      const inputs = await inputsOf(name);
      const row: ProjectionRow = { name, inputs, baseline: baselineOf(inputs) };
      rows.push(row);
      const slot = models.slots[name];
      if (!slot) {
        row.skipped = models.unavailable.get(name) ?? 'not available here';
        progress(`${name}: SKIPPED — ${row.skipped}`);
        continue;
      }
      progress(`${name} (inputs ${inputs.join(', ')}): runtime feeding a projection that applies nothing…`);
      row.noApply = await runtimeNoApply(log, codec, inputs, `bench.replay.no-apply.${name}`);
      progress(`  runtime, no apply: ${int(row.noApply.records)} events in ${row.noApply.seconds.toFixed(2)} s = ${int(rate(row.noApply))} events/s`);
      progress(`${name}: first build of the primary instance, then replay from offset 0 into a shadow…`);
      try {
        row.result = await rebuild({
          log, codec, slot, pointers: models.pointers, inputs, maxSeconds,
          onProgress: (phase, consumed, total) => progress(`  ${name} ${phase}: ${int(consumed)}/${int(total)} events (${pct(consumed, total)})`),
        });
        const r = row.result;
        if (r.profile) progress(`  CPU profile of the replay: ${r.profile}`);
        progress(`  first build: ${int(r.firstBuild.records)} events in ${r.firstBuild.seconds.toFixed(2)} s = ${int(rate(r.firstBuild))} events/s${r.firstBuild.caughtUp ? '' : ` (NOT caught up within ${maxSeconds} s)`}`);
        if (r.replay) {
          progress(`  replay: ${int(r.replay.records)} events in ${r.replay.seconds.toFixed(2)} s = ${int(rate(r.replay))} events/s${r.replay.caughtUp ? '' : ` (NOT caught up within ${maxSeconds} s)`}`);
        }
      } catch (err) {
        row.skipped = `cannot run here: ${(err as Error).message.split('\n')[0]}`;
        progress(`${name}: SKIPPED — ${row.skipped}`);
      }
    }

    // ---- report -------------------------------------------------------------------------------
    const goal = `≥ ${REPLAY_GOAL_EVENTS_PER_SECOND.toLocaleString('en-US')} events/s`;
    console.log(`\n=== bench:replay — rebuild from offset 0 per projection, standalone (embedded log + embedded stores, synced as in standalone) ===`);
    const workloadLine = `workload: ${int(workload.sessions)} playback sessions, ${workload.videos} videos, ${workload.users} users; ${perTopic}`;
    console.log(workloadLine);
    console.log(`node ${process.version}, ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
    const figures: BenchFigure[] = [];
    let short = false;
    let contended = false;
    const tableRows = rows.map((r) => {
      const base = rate(r.baseline);
      const noApply = r.noApply ? int(rate(r.noApply)) : '-';
      if (r.skipped || !r.result) return [r.name, int(r.baseline.records), '-', '-', '-', int(base), '-', noApply, '-', `skipped: ${r.skipped ?? '?'}`];
      const { firstBuild: first, replay } = r.result;
      const value = replay ? rate(replay) : 0;
      const met = !!replay?.caughtUp && value >= REPLAY_GOAL_EVENTS_PER_SECOND;
      const isShort = !!replay && replay.seconds < SHORT_REBUILD_SECONDS;
      const busy = replay?.othersCpuSeconds !== undefined && replay.othersCpuSeconds > CONTENDED_SHARE * replay.seconds;
      short ||= isShort;
      contended ||= busy;
      figures.push({
        name: `replay rebuild, ${r.name} (standalone)`, value: Math.round(value), unit: 'events/s',
        baseline: { name: 'log read + decode', value: Math.round(base) }, goal, met,
      });
      return [
        r.name, int(r.result.records), `${int(rate(first))}${first.caughtUp ? '' : '*'}`,
        replay ? `${replay.seconds.toFixed(2)}${replay.caughtUp ? '' : '*'}` : '-',
        replay ? `${int(value)}${isShort ? '†' : ''}` : '-', int(base),
        base > 0 && replay ? `${(value / base).toFixed(2)}×` : '-', noApply,
        replay ? `${replay.cpuSeconds.toFixed(2)} / ${replay.othersCpuSeconds?.toFixed(2) ?? '?'}${busy ? '‡' : ''}` : '-',
        replay ? (met ? 'yes' : 'NO') : 'NO (no replay)',
      ];
    });
    console.log(table(
      ['projection', 'events', 'first build ev/s', 'replay s', 'replay ev/s', 'read+decode ev/s', 'replay/baseline', 'runtime no-apply ev/s', 'CPU s self/others', goal],
      tableRows,
    ));
    console.log([
      '',
      'events: records on the projection\'s input topics. replay: manager.replay(fromBeginning) into a shadow on a fresh store, start → swap (the figure).',
      'first build: the primary instance of the empty data dir built from offset 0 by the same runtime (manager.start() → caught up).',
      'read+decode: the same topics read from the same log (500 records per read) and Avro-decoded, nothing applied: the ceiling.',
      'runtime no-apply: the projection runtime (consumer loop, group offsets committed once a second, decode) feeding a node that applies nothing.',
      'CPU s: this process\'s CPU time during the replay (all threads) / every other process\'s (from /proc/stat; includes the kernel threads flushing this process\'s fsyncs, ≈ 0.1 core).',
      '* not caught up within --max-seconds: rate over what was consumed.',
      ...(short ? [`† rebuild shorter than ${SHORT_REBUILD_SECONDS} s: fixed costs (opening the store, subscribing, the pointer write) weigh on it; more a latency than a throughput.`] : []),
      ...(contended ? [`‡ other processes used more than ${CONTENDED_SHARE * 100} % of a core during this replay: the figure is pessimistic.`] : []),
    ].join('\n'));

    const notes = [
      workloadLine,
      'standalone adapters in a temp dir, synced as in standalone; figure = manager.replay(fromBeginning) into a shadow on a fresh store, start → swap',
      ...rows.filter((r) => r.result).map((r) => `${r.name}: first build ${int(rate(r.result!.firstBuild))} events/s, replay CPU ${r.result!.replay?.cpuSeconds.toFixed(2) ?? '?'} s self / ${r.result!.replay?.othersCpuSeconds?.toFixed(2) ?? '?'} s other processes`),
      ...rows.filter((r) => r.result?.profile).map((r) => `${r.name}: CPU profile ${r.result!.profile}`),
      ...rows.filter((r) => r.skipped).map((r) => `${r.name} skipped: ${r.skipped}`),
    ];
    printResult({ bench: 'replay', figures, notes });
  } finally {
    await close().catch((err) => progress(`closing the log failed: ${(err as Error).message}`));
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
