/**
 * Timing helpers of the search benchmark: a closed-loop HTTP client with a fixed number of
 * requests in flight (keep-alive connections, one per in-flight slot), bare MiniSearch timed per
 * query, latency percentiles and a text table.
 */
import { Agent } from 'node:http';
import MiniSearch from 'minisearch';
import type { SearchDoc } from '../../projections/search/search-model.ts';
import { INDEX_OPTIONS } from '../../projections/search/search.projection.ts';
import { httpText } from '../support/http.ts';
import { percentile } from '../support/table.ts';

/** A bare MiniSearch index of `docs` with the search model's options; `ms`: time to build it, ms. */
export function buildBareIndex(docs: readonly SearchDoc[]): { index: MiniSearch<SearchDoc>; ms: number } {
  const t0 = performance.now();
  const index = new MiniSearch<SearchDoc>(INDEX_OPTIONS);
  index.addAll(docs as SearchDoc[]);
  return { index, ms: performance.now() - t0 };
}

/**
 * Runs each query on the bare index, one after the other, as a client of MiniSearch would: the
 * search, then the first page of `pageSize` hits. Per query: latency, ms, and the number of matches.
 */
export function runBare(index: MiniSearch<SearchDoc>, queries: readonly string[], pageSize: number): { latencies: Float64Array; matches: Uint32Array; wallMs: number } {
  const latencies = new Float64Array(queries.length);
  const matches = new Uint32Array(queries.length);
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < queries.length; i++) {
    const s = performance.now();
    const results = index.search(queries[i]!);
    const page = results.slice(0, pageSize);
    latencies[i] = performance.now() - s;
    matches[i] = results.length;
    sink += page.length;
  }
  const wallMs = performance.now() - t0;
  if (sink < 0) console.error(sink); // keeps the page from being optimised away
  return { latencies, matches, wallMs };
}

/** The first page the bare index gives `q` in the read model's order (score, then videoId), as ids. */
export function barePage(index: MiniSearch<SearchDoc>, q: string, pageSize: number): string[] {
  return index.search(q)
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, pageSize)
    .map((r) => r.id as string);
}

/** What `runHttp` measured. */
export interface HttpRun {
  /** Per query, in list order: request sent → response body read, ms. */
  latencies: Float64Array;
  /** First request sent → last response read, ms. */
  wallMs: number;
  /** Answers other than 200, and requests that failed. */
  errors: number;
  /** One example of an error, for the report. */
  firstError?: string;
}

/**
 * Sends `paths` (relative to `baseUrl`) with exactly `concurrency` requests in flight (closed
 * loop: each slot sends its next query when the previous answer is read), over keep-alive
 * connections. Reads every body whole; counts non-200 answers as errors.
 */
export async function runHttp(baseUrl: string, paths: readonly string[], concurrency: number): Promise<HttpRun> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies = new Float64Array(paths.length);
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const slot = async () => {
    for (;;) {
      const i = next++;
      if (i >= paths.length) return;
      const t0 = performance.now();
      try {
        const r = await httpText(`${baseUrl}${paths[i]}`, agent);
        latencies[i] = performance.now() - t0;
        if (r.status !== 200) {
          errors++;
          firstError ??= `${r.status} ${r.body.slice(0, 200)}`;
        }
      } catch (err) {
        latencies[i] = performance.now() - t0;
        errors++;
        firstError ??= String(err);
      }
    }
  };
  const t0 = performance.now();
  try {
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, slot));
  } finally {
    agent.destroy();
  }
  return { latencies, wallMs: performance.now() - t0, errors, firstError };
}

/** Latency summary, ms, and throughput, queries/s (`n` / `wallMs`). */
export interface Summary {
  n: number;
  qps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Summarises `latencies` (ms) of `n` queries that took `wallMs` (ms) in all. */
export function summarise(latencies: ArrayLike<number>, wallMs: number): Summary {
  const sorted = Float64Array.from(latencies).sort();
  return {
    n: sorted.length,
    qps: sorted.length / (wallMs / 1000),
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1]! : NaN,
  };
}

/** A number with `digits` decimals ('–' for NaN). */
export const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');
