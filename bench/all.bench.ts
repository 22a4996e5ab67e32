/**
 * `npm run bench` (issue 12): runs every benchmark, one after the other, and prints ONE table of
 * their figures, each next to the baseline it measured in the same run, with the machine (cores,
 * CPU, memory, load average before and after each benchmark) and the versions that matter.
 *
 *   npm run bench                        every benchmark with the settings below
 *   npm run bench -- --only gateway,log  some of them (names: see BENCHES)
 *   npm run bench -- --markdown out.md   also writes the table as Markdown (for the README)
 *
 * Each benchmark runs as its own process (`tsx bench/<name>…`), its progress (stderr) and its own
 * tables (stdout) passed through as they come; the figures come from the `BENCH-RESULT` line it
 * prints last (bench/support/result.ts). A benchmark that fails or prints no result gets a row
 * saying so; the others still run. Exits 0 whatever the figures: a benchmark, not a test.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseResults, PER_PARTITION_FIGURE, ratioToBaseline, type BenchResult } from './support/result.ts';

const ROOT = join(import.meta.dirname, '..');

/** Every benchmark `npm run bench` runs, in order, with the arguments it gets. */
const BENCHES: { name: string; file: string; args: string[]; what: string }[] = [
  { name: 'gateway', file: 'bench/gateway.bench.ts', args: [], what: 'gateway reads and view heartbeats vs bare Fastify' },
  // 100,000 events: a window of about 3 s per variant; the default 20,000 (0.7 s) moved the
  // Kafka ratio between 0.76x and 1.09x from run to run on 2 cores.
  { name: 'log', file: 'bench/log.bench.ts', args: ['--events', '100000', '--runs', '3'], what: 'the event log through Kafka and a projection vs bare kafkajs' },
  { name: 'replay', file: 'bench/replay.bench.ts', args: [], what: 'rebuilding each read model from offset 0' },
  { name: 'search', file: 'bench/search.bench.ts', args: [], what: 'search latency at 100,000 videos' },
  { name: 'transcode', file: 'bench/transcode.bench.ts', args: ['--runs', '1'], what: 'first playable and the ladder vs one plain ffmpeg command' },
  { name: 'freshness', file: 'bench/freshness.bench.ts', args: [], what: 'view and playback events → creator analytics under 1,000 events/s (issue 15)' },
  { name: 'freshness-cluster', file: 'bench/freshness.bench.ts', args: ['--target', 'cluster'], what: 'the same on a local cluster (Kafka, ClickHouse server, two of every scalable role)' },
  // On two cores the second instances only compete for the cores: one of each takes the rate.
  { name: 'freshness-cluster-1', file: 'bench/freshness.bench.ts', args: ['--target', 'cluster', '--instances', '1'], what: 'the same with one of every role' },
  { name: 'analytics-inserts', file: 'bench/analytics-inserts.bench.ts', args: [], what: 'analytics inserts of several partitions gathered into one INSERT vs one per batch (ClickHouse server)' },
  { name: 'analytics-scale', file: 'bench/analytics-scale.bench.ts', args: [], what: 'the creator analytics read as a video\'s events pile up (ClickHouse server and chDB)' },
];

const loads = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

/** `<cmd> <args>`'s first output line, or `absent` when it cannot run. */
function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).split('\n')[0]!.trim();
  } catch {
    return 'absent';
  }
}

/** The installed version of an npm package, or `absent`. */
function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'absent';
  }
}

/** The versions the figures depend on, one `name version` string each. */
function versions(): string[] {
  const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const kafka = /<kafka\.version>([^<]+)</.exec(readFileSync(join(ROOT, 'deploy/local/pom.xml'), 'utf8'))?.[1] ?? '?';
  let commit = 'unknown';
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { /* not a checkout */ }
  return [
    `streamwave ${own.version} (${commit})`,
    `node ${process.version}`,
    `ffmpeg ${firstLine('ffmpeg', ['-version']).replace(/^ffmpeg version (\S+).*$/, '$1')}`,
    `kafka ${kafka} (broker)`,
    `redis ${firstLine('redis-server', ['--version']).replace(/^.*\bv=(\S+).*$/, '$1')}`,
    ...['fastify', 'kafkajs', '@platformatic/kafka', 'ioredis', 'minisearch', 'autocannon'].map((p) => `${p} ${packageVersion(p)}`),
  ];
}

/** Runs one benchmark; resolves with its stdout and exit code (its stderr goes to ours). */
function runBench(file: string, args: string[]): Promise<{ stdout: string; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, file), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      process.stdout.write(d);
    });
    child.once('error', (err) => resolve({ stdout: `${stdout}\n${err.message}`, code: -1 }));
    child.once('exit', (code) => resolve({ stdout, code }));
  });
}

/** A number with 3 significant digits at most and thousands separators (`52,300`, `4.21`). */
function num(x: number): string {
  if (!Number.isFinite(x)) return '–';
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

interface Row { bench: string; figure: string; value: string; baseline: string; ratio: string; goal: string }

/** The table's rows: one per figure, or one saying why a benchmark has none. */
function rowsOf(name: string, result: BenchResult | undefined, failure: string | undefined): Row[] {
  if (!result) return [{ bench: name, figure: failure ?? 'no result printed', value: '', baseline: '', ratio: '', goal: '' }];
  return result.figures.map((f) => {
    const ratio = ratioToBaseline(f);
    return {
      bench: name,
      figure: f.name,
      value: `${num(f.value)} ${f.unit}`,
      baseline: f.baseline ? `${num(f.baseline.value)} ${f.unit} (${f.baseline.name})` : '',
      ratio: ratio === undefined ? '' : `${ratio.toFixed(2)}×`,
      goal: f.goal ? `${f.goal}${f.met === undefined ? '' : f.met ? ': met' : ': MISSED'}` : '',
    };
  });
}

const HEADER: (keyof Row)[] = ['bench', 'figure', 'value', 'baseline', 'ratio', 'goal'];

function textTable(rows: Row[]): string {
  const widths = HEADER.map((h) => Math.max(h.length, ...rows.map((r) => r[h].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(HEADER.map((h) => r[h])))].join('\n');
}

function markdownTable(rows: Row[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  return [`| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${HEADER.map((h) => esc(r[h])).join(' | ')} |`)].join('\n');
}

/** The value of the first figure named `name` (or starting with it) in `results`. */
function figure(results: BenchResult[], name: string): number | undefined {
  for (const r of results) for (const f of r.figures) if (f.name.startsWith(name) && Number.isFinite(f.value)) return f.value;
  return undefined;
}

/**
 * Scale-out by model (issue 12): this 2-core machine cannot run several gateways or brokers, so
 * the throughput of N gateways (each on its own core) over N partitions is modelled from what one
 * instance did here: reads scale with the gateways (each reads its own read-model replica; the
 * Redis server's own limit is not modelled); heartbeats are bounded by the gateways and by the
 * partitions, whichever is lower (bench:log's per-partition rate through StreamWave on Kafka).
 * @returns the table's text, or undefined when the figures it needs were not measured
 */
function scaleOutModel(results: BenchResult[]): string | undefined {
  const reads = figure(results, 'video detail reads');
  const beats = figure(results, 'view heartbeats');
  const partition = figure(results, PER_PARTITION_FIGURE);
  if (reads === undefined && beats === undefined) return undefined;
  const cell = (x: number | undefined): string => (x === undefined ? '–' : num(x));
  const header = ['gateways = partitions', 'detail reads/s', 'heartbeats/s (gateways)', 'events/s (partitions)', 'heartbeats/s (model)'];
  const rows = [1, 2, 4, 8, 16].map((n) => {
    const byGateways = beats === undefined ? undefined : n * beats;
    const byPartitions = partition === undefined ? undefined : n * partition;
    const model = byGateways === undefined ? undefined : byPartitions === undefined ? byGateways : Math.min(byGateways, byPartitions);
    return [String(n), cell(reads === undefined ? undefined : n * reads), cell(byGateways), cell(byPartitions), cell(model)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [
    'Scale-out model (one gateway per core; measured here for one instance: '
      + `${cell(reads)} reads/s, ${cell(beats)} heartbeats/s standalone; ${cell(partition)} events/s per partition through Kafka):`,
    line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, skip: { type: 'string' }, markdown: { type: 'string' } } });
  const only = values.only?.split(',').map((s) => s.trim()).filter(Boolean);
  const skip = new Set(values.skip?.split(',').map((s) => s.trim()));
  const unknown = [...(only ?? []), ...skip].filter((n) => n && !BENCHES.some((b) => b.name === n));
  if (unknown.length) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}`);
  const chosen = BENCHES.filter((b) => (!only || only.includes(b.name)) && !skip.has(b.name));

  const machine = `${cpus().length} cores × ${cpus()[0]?.model.trim() ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  const rows: Row[] = [];
  const results: BenchResult[] = [];
  const loadLines: string[] = [];
  const started = performance.now();
  for (const [i, b] of chosen.entries()) {
    process.stderr.write(`\n[bench ${i + 1}/${chosen.length}] ${b.name}: ${b.what}\n`);
    const before = loads();
    const t0 = performance.now();
    const { stdout, code } = await runBench(b.file, b.args);
    const seconds = (performance.now() - t0) / 1000;
    loadLines.push(`${b.name}: ${seconds.toFixed(0)} s, load average ${before} → ${loads()}`);
    const result = parseResults(stdout).at(-1);
    if (result) results.push(result);
    rows.push(...rowsOf(b.name, result, code === 0 ? undefined : `failed (exit code ${code}); see its output above`));
  }

  const v = versions();
  console.log(`\n=== StreamWave benchmarks (npm run bench), ${new Date().toISOString()} ===`);
  console.log(`machine: ${machine}; ${((performance.now() - started) / 60_000).toFixed(1)} min in all`);
  for (const l of loadLines) console.log(`  ${l}`);
  console.log(`versions: ${v.join(', ')}\n`);
  console.log(textTable(rows));
  console.log('\nRatios are figure / baseline, both measured in this run (a throughput above 1× beats its baseline; a time below 1× does).');
  const model = scaleOutModel(results);
  if (model) console.log(`\n${model}`);
  if (values.markdown) {
    const md = [
      `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}; ${v.join(', ')}.`, '', markdownTable(rows), '',
      ...loadLines.map((l) => `- ${l}`), '', ...(model ? ['```', model, '```', ''] : []),
    ].join('\n');
    writeFileSync(values.markdown, md);
    console.log(`Markdown written to ${values.markdown}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
