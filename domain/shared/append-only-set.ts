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
    private readonly shared: { ordinals: Map<string, number> },
    /** Number of ids visible to this version. */
    readonly size: number,
  ) {}

  static empty(): AppendOnlySet {
    return new AppendOnlySet({ ordinals: new Map() }, 0);
  }

  has(id: string): boolean {
    const ordinal = this.shared.ordinals.get(id);
    return ordinal !== undefined && ordinal < this.size;
  }

  /** A version that also contains `id` (this one if it already does). */
  add(id: string): AppendOnlySet {
    if (this.has(id)) return this;
    const ordinals = this.shared.ordinals;
    if (ordinals.size === this.size) {
      // This version is the tip: extending the shared map is invisible to older versions.
      ordinals.set(id, this.size);
      return new AppendOnlySet(this.shared, this.size + 1);
    }
    const copy = new Map<string, number>();
    for (const [k, v] of ordinals) if (v < this.size) copy.set(k, v);
    copy.set(id, this.size);
    return new AppendOnlySet({ ordinals: copy }, this.size + 1);
  }

  /** Ids in insertion order. */
  *[Symbol.iterator](): IterableIterator<string> {
    for (const [k, v] of this.shared.ordinals) if (v < this.size) yield k;
  }
}
