/** Outcome of reading an HTTP `Range` header against an object of known size. */
export type ByteRangeDecision =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/**
 * Single byte-range requests per RFC 9110 §14.1.2: `bytes=a-b`, `bytes=a-`, `bytes=-n` (suffix).
 * `end` is inclusive and clamped to `size - 1`. Malformed headers, other units and multi-range
 * requests yield `full` (RFC 9110 lets a server ignore Range); a range starting at or past the end
 * (or any range of an empty object) is `unsatisfiable` (→ 416 with `Content-Range: bytes *\/size`).
 */
export function decideByteRange(header: string | undefined, size: number): ByteRangeDecision {
  if (!header) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' };
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end };
}
