/**
 * The analytics projection's record end-to-end latency (and batch duration) over a benchmark's load
 * (`streamwave_projection_record_e2e_latency_seconds{projection="analytics"}`, KIP-613's
 * record-e2e-latency: a record's log timestamp → its batch applied to the read model), from the
 * difference of two scrapes of every process that runs the projection. It splits a freshness
 * figure in two: how long an event takes to reach the read model, and the rest (the creator's
 * read finding it).
 */
import { samplesOf } from '../../test/support/prometheus-text.ts';

/** The histograms scraped: each record's end-to-end latency, and each batch's apply + checkpoint. */
export const E2E_METRIC = 'streamwave_projection_record_e2e_latency_seconds';
export const BATCH_METRIC = 'streamwave_projection_batch_duration_seconds';

/** Cumulative bucket counts by upper bound (seconds; `+Inf` as Infinity), summed over processes. */
export type Buckets = Map<number, number>;

/**
 * Scrapes `GET <url>/metrics` of each of `urls` and sums the analytics projection's buckets of
 * each histogram in `metrics`, by name. A process that does not answer (or has no such series)
 * adds nothing.
 */
export async function scrapeAnalyticsHistograms(urls: readonly string[], metrics: readonly string[] = [E2E_METRIC, BATCH_METRIC]): Promise<Map<string, Buckets>> {
  const sums = new Map(metrics.map((m) => [m, new Map() as Buckets]));
  for (const url of urls) {
    const text = await fetch(`${url}/metrics`).then((r) => (r.ok ? r.text() : ''), () => '');
    for (const [metric, sum] of sums) {
      for (const s of samplesOf(text, `${metric}_bucket`, { projection: 'analytics' })) {
        const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
        sum.set(le, (sum.get(le) ?? 0) + s.value);
      }
    }
  }
  return sums;
}

/**
 * The `q` quantile (0–1), seconds, of what was observed between scrapes `before` and `after`,
 * interpolated linearly within its bucket as Prometheus' `histogram_quantile` does (so it is as
 * coarse as the buckets: 0.1 s between 0.1 and 1 s); the count observed with it. Undefined when
 * nothing was observed; the largest finite bound when the quantile is in the `+Inf` bucket.
 */
export function quantileBetween(before: Buckets, after: Buckets, q: number): { seconds: number; count: number } | undefined {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const delta = bounds.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const count = delta[delta.length - 1] ?? 0;
  if (count <= 0) return undefined;
  const rank = q * count;
  for (let i = 0; i < bounds.length; i++) {
    if (delta[i]! < rank) continue;
    const upper = bounds[i]!;
    const lower = i > 0 ? bounds[i - 1]! : 0;
    if (!Number.isFinite(upper)) return { seconds: lower, count };
    const below = i > 0 ? delta[i - 1]! : 0;
    const inBucket = delta[i]! - below;
    return { seconds: lower + (upper - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1), count };
  }
  return undefined;
}
