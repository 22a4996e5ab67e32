import type { JsonValue, KeyValueEntry, ScanOptions } from './key-value-store.port.ts';

/**
 * The in-memory core of the key-value stores: keys kept sorted by UTF-16 code unit (JS `<`, which
 * for the ASCII keys the read models use is Redis' byte order), values kept serialised as JSON so
 * every read returns a fresh copy, as from Redis. Durability is the adapter's business.
 */
export class SortedJsonMap {
  private readonly keys: string[] = [];
  private readonly values = new Map<string, string>();

  get size(): number {
    return this.keys.length;
  }

  /** Index of the first key ≥ `k`. */
  private lowerBound(k: string): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keys[mid] < k) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /** Stores an already-serialised JSON value. */
  putJson(key: string, json: string): void {
    if (!this.values.has(key)) this.keys.splice(this.lowerBound(key), 0, key);
    this.values.set(key, json);
  }

  delete(key: string): void {
    if (!this.values.delete(key)) return;
    this.keys.splice(this.lowerBound(key), 1);
  }

  get<T = JsonValue>(key: string): T | undefined {
    const v = this.values.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }

  /** Entries whose key starts with `prefix`, in key order (descending when `reverse`), after `o.after` exclusive. */
  scan<T = JsonValue>(prefix: string, o: ScanOptions): KeyValueEntry<T>[] {
    const { keys } = this;
    const out: KeyValueEntry<T>[] = [];
    const limit = Math.max(0, Math.floor(o.limit));
    if (limit === 0) return out;
    const entry = (k: string): KeyValueEntry<T> => ({ key: k, value: JSON.parse(this.values.get(k)!) as T });
    if (!o.reverse) {
      let i = this.lowerBound(prefix);
      if (o.after !== undefined && o.after >= prefix) {
        i = this.lowerBound(o.after);
        if (keys[i] === o.after) i++;
      }
      for (; i < keys.length && out.length < limit && keys[i].startsWith(prefix); i++) out.push(entry(keys[i]));
      return out;
    }
    // End of the prefix range: keys ≥ prefix that start with it are contiguous.
    let lo = this.lowerBound(prefix);
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid].startsWith(prefix)) lo = mid + 1; else hi = mid;
    }
    let i = lo - 1;
    if (o.after !== undefined) i = Math.min(i, this.lowerBound(o.after) - 1);
    for (; i >= 0 && out.length < limit && keys[i].startsWith(prefix); i--) out.push(entry(keys[i]));
    return out;
  }

  /** `[key, serialised value]` in key order. */
  *entries(): IterableIterator<[string, string]> {
    for (const k of this.keys) yield [k, this.values.get(k)!];
  }
}
