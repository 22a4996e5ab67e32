/**
 * The result order of the search read model and the page selection over a list of ranked matches:
 * what search-ranker.ts's scored queries offer, for a plain array (MiniSearch's own results, or the
 * matches re-keyed by another sort, e.g. `sort=date`, issue 14).
 */

/** A ranked match: its external document id and its sort key (MiniSearch's `SearchResult.score`, or the `publishedAt` of sort=date). */
export interface Ranked { id: string; score: number }

/** Result order: by score, then by id (the Typesense adapter's `sort_by`). True when `a` comes before `b`. */
export const before = (a: Ranked, b: Ranked): boolean => a.score > b.score || (a.score === b.score && a.id < b.id);

/**
 * The matches of one query, scored; pages are selected from it. A ranker's scored query reads the
 * ranker's scratch: use it before the next `score()` (any ranker), which makes its methods throw.
 */
export interface ScoredQuery {
  /** Matching documents (before any filter). */
  readonly count: number;
  /** The score of document `id` for this query, or undefined when it does not match. */
  scoreOf(id: string): number | undefined;
  /**
   * The first `k` matches in result order ({@link before}) that come strictly after `after` (when
   * given) and that `accept` keeps. `accept` is called only for matches that would enter the page
   * at the time they are seen, so a filter reading other state stays off most of the matches.
   */
  top(k: number, accept: (id: string) => boolean, after?: Ranked): Ranked[];
  /** How many matches `accept` keeps that come before `last` in result order, or are `last`: the results a reader has seen up to it. */
  countThrough(last: Ranked, accept: (id: string) => boolean): number;
  /** The ids of every match `accept` keeps, in no particular order (facets, other sorts). */
  matches(accept: (id: string) => boolean): string[];
}

/** Inserts `r` into `page` (kept in result order, at most `k` long). */
export function insertRanked(page: Ranked[], r: Ranked, k: number): void {
  let lo = 0;
  let hi = page.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(page[mid]!, r)) lo = mid + 1;
    else hi = mid;
  }
  page.splice(lo, 0, r);
  if (page.length > k) page.pop();
}

/** A ScoredQuery over `results` (any order; ids distinct). */
export function rankedList(results: Ranked[]): ScoredQuery {
  let byId: Map<string, number> | undefined; // built on the first scoreOf only: a first page never asks
  return {
    count: results.length,
    scoreOf: (id) => (byId ??= new Map(results.map((r) => [r.id, r.score]))).get(id),
    countThrough: (last, accept) => results.filter((r) => !before(last, r) && accept(r.id)).length,
    matches: (accept) => results.filter((r) => accept(r.id)).map((r) => r.id),
    top(k, accept, after) {
      const page: Ranked[] = [];
      if (k <= 0) return page;
      for (const r of results) {
        if ((after && !before(after, r)) || (page.length === k && !before(r, page[k - 1]!)) || !accept(r.id)) continue;
        insertRanked(page, r, k);
      }
      return page;
    },
  };
}
