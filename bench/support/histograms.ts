/**
 * Prometheus histograms over a benchmark's load: scraped from the roles' `/metrics` before and
 * after it, summed over processes, and a quantile of what was observed in between (e.g. the
 * freshness benchmark's analytics projection: `streamwave_projection_record_e2e_latency_seconds`,
 * KIP-613's record-e2e-latency, and its batch duration).
 */
import { samplesOf } from '../../test/support/prometheus-text.ts';

/** Cumulative bucket counts by upper bound (seconds; `+Inf` as Infinity), summed over processes. */
export type Buckets = Map<number, number>;

/**
 * Scrapes `GET <url>/metrics` of each of `urls` and sums the buckets of each histogram in
 * `metrics` (by name) over the series whose labels include `match`. A process that does not
 * answer (or has no such series) adds nothing.
 */
export async function scrapeHistograms(urls: readonly string[], metrics: readonly string[], match: Record<string, string> = {}): Promise<Map<string, Buckets>> {
  const sums = new Map(metrics.map((m) => [m, new Map() as Buckets]));
  for (const url of urls) {
    const text = await fetch(`${url}/metrics`).then((r) => (r.ok ? r.text() : ''), () => '');
    for (const [metric, sum] of sums) {
      for (const s of samplesOf(text, `${metric}_bucket`, match)) {
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
