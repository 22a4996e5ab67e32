/**
 * Reads samples out of the Prometheus text exposition format (what `registry.metrics()` and
 * GET /metrics return), for tests that scrape the real registry instead of poking at metric objects.
 */

/** One sample line: `name{label="v",…} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample of the exposition text (comments skipped; label values unescaped). */
export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** Samples named `name` whose labels include `match` (other labels ignored). */
export function samplesOf(text: string, name: string, match: Record<string, string> = {}): Sample[] {
  return parseSamples(text).filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

/**
 * The value of the one sample named `name` matching `match`; undefined when there is none.
 * @throws Error when several samples match (the test must name more labels)
 */
export function sampleValue(text: string, name: string, match: Record<string, string> = {}): number | undefined {
  const found = samplesOf(text, name, match);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(match)}: name more labels`);
  return found[0]?.value;
}

/** Sum of the samples named `name` matching `match` (0 when none). */
export const sampleSum = (text: string, name: string, match: Record<string, string> = {}): number =>
  samplesOf(text, name, match).reduce((s, x) => s + x.value, 0);
