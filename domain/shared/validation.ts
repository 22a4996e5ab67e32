/**
 * Length of a string in Unicode code points, not UTF-16 code units, so an emoji counts as one
 * character against limits such as "title 1..200 chars".
 */
export function charLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** A finite, non-negative number (rejects NaN, ±Infinity, negatives and non-numbers). */
export function isNonNegativeFinite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0;
}

/** A non-empty string after trimming. */
export function isNonBlank(x: unknown): x is string {
  return typeof x === 'string' && x.trim().length > 0;
}
