/**
 * A persistent (immutable from the outside) set of strings that only grows: `add` returns a new
 * set and leaves the old one unchanged, like `new Set(old).add(x)`, but in O(1) amortised on the
 * usual linear history. Why: `evolve` must be pure, yet a video's comment thread can hold
 * hundreds of thousands of ids and copying the set on every CommentPosted would make an aggregate
 * rebuild quadratic.
 *
 * How: all versions share one `Map<id, ordinal>`; a version sees the ids whose ordinal is below
 * its own `size`. Adding to the newest version (the tip) appends to the shared map; adding to an
 * older version (a branch, e.g. a test that evolves the same state twice) copies its prefix first.
 */
export class AppendOnlySet {
  private constructor(
    /** `values`: the value an id was added with, if any (written once, like the id). */
    private readonly shared: { ordinals: Map<string, number>; values: Map<string, string> },
    /** Number of ids visible to this version. */
    readonly size: number,
  ) {}

  static empty(): AppendOnlySet {
    return new AppendOnlySet({ ordinals: new Map(), values: new Map() }, 0);
  }

  has(id: string): boolean {
    const ordinal = this.shared.ordinals.get(id);
    return ordinal !== undefined && ordinal < this.size;
  }

  /** The value `id` was added with (e.g. a comment's author), or undefined (not a member, or added without one). */
  valueOf(id: string): string | undefined {
    return this.has(id) ? this.shared.values.get(id) : undefined;
  }

  /**
   * A version that also contains `id`, with `value` when given (this one if it already contains
   * `id`: the first value stays).
   */
  add(id: string, value?: string): AppendOnlySet {
    if (this.has(id)) return this;
    const ordinals = this.shared.ordinals;
    if (ordinals.size === this.size) {
      // This version is the tip: extending the shared maps is invisible to older versions.
      ordinals.set(id, this.size);
      if (value !== undefined) this.shared.values.set(id, value);
      return new AppendOnlySet(this.shared, this.size + 1);
    }
    const copy = new Map<string, number>();
    const values = new Map<string, string>();
    for (const [k, v] of ordinals) {
      if (v >= this.size) continue;
      copy.set(k, v);
      const x = this.shared.values.get(k);
      if (x !== undefined) values.set(k, x);
    }
    copy.set(id, this.size);
    if (value !== undefined) values.set(id, value);
    return new AppendOnlySet({ ordinals: copy, values }, this.size + 1);
  }

  /** Ids in insertion order. */
  *[Symbol.iterator](): IterableIterator<string> {
    for (const [k, v] of this.shared.ordinals) if (v < this.size) yield k;
  }
}
