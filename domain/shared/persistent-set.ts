/**
 * A persistent (immutable from the outside) set of strings with `add` and `delete`: each returns a
 * new set and leaves the old one unchanged, like `new Set(old).add(x)`, but in O(1) amortised on
 * the usual linear history. Why: `evolve` must be pure, yet a video's likers can number millions,
 * and copying the set on every VideoLiked would make an aggregate rebuild quadratic
 * (AppendOnlySet does the same for sets that only grow).
 *
 * How: all versions share one `Map<id, toggles>`, where `toggles` lists the version numbers at
 * which the id went in or out (in, out, in, …). A version sees an id as a member when an odd number
 * of its toggles are below the version's own number. Changing the newest version (the tip) appends
 * to the shared map; changing an older one (a branch, e.g. a test that evolves the same state
 * twice) copies what that version sees first.
 */
export class PersistentSet {
  private constructor(
    private readonly shared: { toggles: Map<string, number[]>; tip: number },
    /** This version's number: it sees the toggles below it. */
    private readonly version: number,
    /** Members of this version. */
    readonly size: number,
  ) {}

  static empty(): PersistentSet {
    return new PersistentSet({ toggles: new Map(), tip: 0 }, 0, 0);
  }

  has(id: string): boolean {
    const t = this.shared.toggles.get(id);
    if (t === undefined) return false;
    let n = t.length;
    while (n > 0 && t[n - 1] >= this.version) n--;
    return (n & 1) === 1;
  }

  /** A version that also contains `id` (this one if it already does). */
  add(id: string): PersistentSet {
    return this.has(id) ? this : this.toggle(id, 1);
  }

  /** A version without `id` (this one if it does not contain it). */
  delete(id: string): PersistentSet {
    return this.has(id) ? this.toggle(id, -1) : this;
  }

  private toggle(id: string, delta: 1 | -1): PersistentSet {
    let shared = this.shared;
    if (shared.tip !== this.version) {
      const toggles = new Map<string, number[]>();
      for (const [k, t] of shared.toggles) {
        const seen = t.filter((v) => v < this.version);
        if (seen.length) toggles.set(k, seen);
      }
      shared = { toggles, tip: this.version };
    }
    const t = shared.toggles.get(id);
    if (t) t.push(this.version);
    else shared.toggles.set(id, [this.version]);
    shared.tip = this.version + 1;
    return new PersistentSet(shared, this.version + 1, this.size + delta);
  }
}
