/**
 * The machine-readable summary every benchmark prints last, so that `npm run bench`
 * (bench/all.bench.ts) can gather each benchmark's figures into one table (issue 12).
 *
 * One line on stdout: `BENCH-RESULT ` followed by the JSON of a BenchResult. A benchmark may
 * print it once per run; the table uses the last one of each benchmark.
 */

/** One measured figure, with the baseline it is compared with when it has one. */
export interface BenchFigure {
  /** What was measured, e.g. `video detail reads (standalone)`. */
  name: string;
  /** The measured value, in `unit`. */
  value: number;
  /** `req/s`, `events/s`, `ms`, `s`, `x` (a ratio) … */
  unit: string;
  /** The baseline measured in the same run, in the same unit. */
  baseline?: { name: string; value: number };
  /** The goal as written in the issue, e.g. `≥ 1.0× bare Redis`; with `met` when it was judged. */
  goal?: string;
  /** Whether this run met `goal`. */
  met?: boolean;
}

/** What one benchmark reports. */
export interface BenchResult {
  /** The benchmark's npm script name without `bench:`, e.g. `gateway`. */
  bench: string;
  figures: BenchFigure[];
  /** Free-text notes for the table's footer (the workload, caveats). */
  notes?: string[];
}

/** bench:log's figure for one partition's end-to-end rate through StreamWave on Kafka (the scale-out model's input). */
export const PER_PARTITION_FIGURE = 'StreamWave through Kafka + projection, per partition';

/** The marker that starts a result line. */
export const RESULT_MARKER = 'BENCH-RESULT ';

/** Prints `result` as one `BENCH-RESULT {json}` line on stdout. */
export function printResult(result: BenchResult): void {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
}

/** The results found in a benchmark's stdout, in order (malformed lines are skipped). */
export function parseResults(stdout: string): BenchResult[] {
  const out: BenchResult[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(RESULT_MARKER)) continue;
    try {
      const r = JSON.parse(line.slice(RESULT_MARKER.length)) as BenchResult;
      if (typeof r.bench === 'string' && Array.isArray(r.figures)) out.push(r);
    } catch { /* not ours */ }
  }
  return out;
}

/**
 * `f`'s value divided by its baseline's (a throughput: above 1 is faster than the baseline; a
 * duration: below 1 is), as the issues write ratios; undefined without a usable baseline.
 */
export function ratioToBaseline(f: BenchFigure): number | undefined {
  if (!f.baseline || !(f.baseline.value > 0) || !Number.isFinite(f.value)) return undefined;
  return f.value / f.baseline.value;
}
