import type { JsonValue, KeyValueEntry, ScanOptions } from './key-value-store.port.ts';

/**
 * The in-memory core of the key-value stores: keys kept sorted by UTF-16 code unit (JS `<`, which
 * for the ASCII keys the read models use is Redis' byte order), values kept serialised as JSON so
 * every read returns a fresh copy, as from Redis. Durability is the adapter's business.
 */
/** Keys per chunk before it splits in two (inserts and deletes move at most this many keys). */
const CHUNK_MAX = 512;

/** A position in the chunked key list: chunk `c`, index `i` in it; `c === chunks.length` is the end. */
interface Pos { c: number; i: number }

/**
 * The smallest string greater than every string starting with `prefix` (its last code unit below
 * 0xFFFF incremented), or undefined when there is none (then the range runs to the end).
 */
function prefixEnd(prefix: string): string | undefined {
  for (let n = prefix.length - 1; n >= 0; n--) {
    const u = prefix.charCodeAt(n);
    if (u < 0xffff) return prefix.slice(0, n) + String.fromCharCode(u + 1);
  }
  return undefined;
}

/**
 * Keys are kept in sorted chunks of at most CHUNK_MAX (issue 8: a flat sorted array made every
 * insert O(n), so per-session view state made the store quadratic): an insert or delete costs
 * O(log n) to find the spot plus O(CHUNK_MAX) to move keys inside one chunk.
 */
export class SortedJsonMap {
  private readonly chunks: string[][] = [];
  private readonly values = new Map<string, string>();

  get size(): number {
    return this.values.size;
  }

  /** Position of the first key ≥ `k` (the end position when none). */
  private lowerBound(k: string): Pos {
    const { chunks } = this;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid];
      if (chunk[chunk.length - 1] < k) lo = mid + 1; else hi = mid;
    }
    if (lo === chunks.length) return { c: lo, i: 0 };
    const chunk = chunks[lo];
    let a = 0;
    let b = chunk.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (chunk[mid] < k) a = mid + 1; else b = mid;
    }
    return { c: lo, i: a };
  }

  private keyAt(p: Pos): string | undefined {
    return this.chunks[p.c]?.[p.i];
  }

  private next(p: Pos): Pos {
    return p.i + 1 < this.chunks[p.c].length ? { c: p.c, i: p.i + 1 } : { c: p.c + 1, i: 0 };
  }

  /** The position before `p`, or undefined at the start. */
  private prev(p: Pos): Pos | undefined {
    if (p.i > 0) return { c: p.c, i: p.i - 1 };
    if (p.c === 0) return undefined;
    return { c: p.c - 1, i: this.chunks[p.c - 1].length - 1 };
  }

  /** Stores an already-serialised JSON value. */
  putJson(key: string, json: string): void {
    if (!this.values.has(key)) {
      const { chunks } = this;
      if (chunks.length === 0) chunks.push([key]);
      else {
        const p = this.lowerBound(key);
        const c = Math.min(p.c, chunks.length - 1);
        const chunk = chunks[c];
        chunk.splice(p.c === chunks.length ? chunk.length : p.i, 0, key);
        if (chunk.length > CHUNK_MAX) chunks.splice(c + 1, 0, chunk.splice(chunk.length >>> 1));
      }
    }
    this.values.set(key, json);
  }

  delete(key: string): void {
    if (!this.values.delete(key)) return;
    const p = this.lowerBound(key);
    const chunk = this.chunks[p.c];
    chunk.splice(p.i, 1);
    if (chunk.length === 0) this.chunks.splice(p.c, 1);
  }

  /** The stored JSON text of `key`, unparsed (the same string until the value is replaced). */
  getJson(key: string): string | undefined {
    return this.values.get(key);
  }

  get<T = JsonValue>(key: string): T | undefined {
    const v = this.values.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }

  /** Entries whose key starts with `prefix`, in key order (descending when `reverse`), after `o.after` exclusive. */
  scan<T = JsonValue>(prefix: string, o: ScanOptions): KeyValueEntry<T>[] {
    const out: KeyValueEntry<T>[] = [];
    const limit = Math.max(0, Math.floor(o.limit));
    if (limit === 0 || this.chunks.length === 0) return out;
    const entry = (k: string): KeyValueEntry<T> => ({ key: k, value: JSON.parse(this.values.get(k)!) as T });
    const end: Pos = { c: this.chunks.length, i: 0 };
    if (!o.reverse) {
      let p = this.lowerBound(prefix);
      if (o.after !== undefined && o.after >= prefix) {
        p = this.lowerBound(o.after);
        if (this.keyAt(p) === o.after) p = this.next(p);
      }
      for (let k = this.keyAt(p); k !== undefined && out.length < limit && k.startsWith(prefix); p = this.next(p), k = this.keyAt(p)) out.push(entry(k));
      return out;
    }
    const stop = prefixEnd(prefix);
    let p = this.prev(stop === undefined ? end : this.lowerBound(stop));
    if (o.after !== undefined && p) {
      const a = this.prev(this.lowerBound(o.after));
      if (!a) return out;
      if (a.c < p.c || (a.c === p.c && a.i < p.i)) p = a;
    }
    for (; p && out.length < limit; p = this.prev(p)) {
      const k = this.keyAt(p)!;
      if (!k.startsWith(prefix)) break;
      out.push(entry(k));
    }
    return out;
  }

  /** `[key, serialised value]` in key order. */
  *entries(): IterableIterator<[string, string]> {
    for (const chunk of this.chunks) for (const k of chunk) yield [k, this.values.get(k)!];
  }
}
