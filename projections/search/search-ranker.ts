/**
 * Top-k ranking over a MiniSearch index without materialising every match.
 *
 * `MiniSearch#search` builds one result object per matching document (with its matched terms and
 * fields), copies its stored fields and sorts them all. A common word matches most of the index
 * (85–99 % of 100,000 videos in bench:search), so a page of 20 cost 30–500 ms, almost all of it
 * spent on results nobody sees (issue 12: search p99 ≤ 20 ms at 100,000 videos). This module
 * computes the same scores — MiniSearch 7's BM25+ per field, its exact/prefix/fuzzy term expansion
 * and weights, its OR combination and its "number of query terms matched" quality factor, added in
 * the same order so the floating-point sums are the same — into reused typed arrays, and selects
 * only the page (by score, then id).
 *
 * It reads the index through the state MiniSearch 7 declares `protected` (its extension surface
 * for subclasses: `_index`, `_fieldIds`, `_fieldLength`, `_avgFieldLength`, `_documentCount`,
 * `_documentIds`, `_nextId`, `_options`); {@link createSearchRanker} checks that they are there and
 * throws otherwise, so a MiniSearch release that changes them fails at start, not with wrong pages.
 * Options it does not implement (`boostDocument`, `boostTerm`, `filter`, `fields`, `combineWith`
 * other than OR) are refused at creation: `search.projection.ts` uses none of them.
 */
import type MiniSearch from 'minisearch';
import type { SearchOptions } from 'minisearch';

/** A ranked match: its external document id and its score (MiniSearch's `SearchResult.score`). */
export interface Ranked { id: string; score: number }

/** Result order: by score, then by id (the Typesense adapter's `sort_by`). True when `a` comes before `b`. */
export const before = (a: Ranked, b: Ranked): boolean => a.score > b.score || (a.score === b.score && a.id < b.id);

/** Per term: field id → (document short id → term frequency), MiniSearch's posting lists. */
type FieldTermData = Map<number, Map<number, number>>;

/** The protected state of a MiniSearch 7 instance the ranker reads (see the file comment). */
interface MiniSearchState {
  _options: {
    fields: string[];
    tokenize: (text: string, fieldName?: string) => string[];
    processTerm: (term: string, fieldName?: string) => string | string[] | null | undefined | false;
    searchOptions: SearchOptions;
  };
  _index: {
    get(term: string): FieldTermData | undefined;
    atPrefix(prefix: string): Iterable<[string, FieldTermData]>;
    fuzzyGet(term: string, maxDistance: number): Map<string, [FieldTermData, number]>;
  };
  _documentCount: number;
  _documentIds: Map<number, unknown>;
  _idToShortId: Map<unknown, number>;
  _fieldIds: Record<string, number>;
  _fieldLength: Map<number, number[]>;
  _avgFieldLength: number[];
  _nextId: number;
  _dirtCount: number;
}

/** MiniSearch 7's defaults for the options the ranker implements (its `defaultSearchOptions`). */
const DEFAULT_WEIGHTS = { fuzzy: 0.45, prefix: 0.375 };
const DEFAULT_BM25 = { k: 1.2, b: 0.7, d: 0.5 };
const DEFAULT_MAX_FUZZY = 6;
/** Distinct query terms tracked per document (a bit each); longer queries fall back to MiniSearch#search. */
const MAX_TERMS = 31;

/** The matches of one query, scored; pages are selected from it. */
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
}

/** A ranker bound to one MiniSearch instance. */
export interface SearchRanker {
  /** Scores `query` as `index.search(query)` with the index's search options would. */
  score(query: string): ScoredQuery;
}

const popcount = (x: number): number => {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
};

/**
 * Reused scratch, indexed by document short id (a query runs synchronously, so one set serves the
 * process): the current query term's score sum and the stamp of the term that last touched each
 * document; the query's score sum, matched-terms bits and the stamp of the query that last touched it.
 */
const scratch = {
  termAcc: new Float64Array(0),
  termSeen: new Uint32Array(0),
  sum: new Float64Array(0),
  bits: new Int32Array(0),
  querySeen: new Uint32Array(0),
  termStamp: 0,
  queryStamp: 0,
};

/** Grows the scratch to hold short ids below `size`; a grown scratch starts with fresh stamps. */
function ensureScratch(size: number): void {
  if (scratch.termAcc.length >= size) return;
  const n = Math.max(size, scratch.termAcc.length * 2, 1024);
  Object.assign(scratch, {
    termAcc: new Float64Array(n), termSeen: new Uint32Array(n), sum: new Float64Array(n), bits: new Int32Array(n), querySeen: new Uint32Array(n),
    termStamp: 0, queryStamp: 0,
  });
}

/** The next stamp after `s` (0 means "never"); on wrap-around `seen` is cleared. */
function nextStamp(s: number, seen: Uint32Array): number {
  if (s + 1 < 0xffffffff) return s + 1;
  seen.fill(0);
  return 1;
}

/**
 * A ranker over `index` (see the file comment).
 * @throws Error when `index` lacks MiniSearch 7's protected state, or uses a search option the
 *   ranker does not implement.
 */
export function createSearchRanker<T>(index: MiniSearch<T>): SearchRanker {
  const m = index as unknown as MiniSearchState;
  if (!(m._index && typeof m._index.fuzzyGet === 'function' && m._fieldIds && m._fieldLength instanceof Map
    && Array.isArray(m._avgFieldLength) && m._documentIds instanceof Map && m._options?.tokenize)) {
    throw new Error('search ranker: this MiniSearch does not expose the MiniSearch 7 state it reads');
  }
  const opts = m._options.searchOptions;
  for (const unsupported of ['boostDocument', 'boostTerm', 'filter', 'fields'] as const) {
    if (opts[unsupported] !== undefined) throw new Error(`search ranker: search option ${unsupported} is not implemented`);
  }
  if (opts.combineWith !== undefined && String(opts.combineWith).toUpperCase() !== 'OR') throw new Error('search ranker: only combineWith OR is implemented');
  const weights = { ...DEFAULT_WEIGHTS, ...opts.weights };
  const { k: bmK, b: bmB, d: bmD } = { ...DEFAULT_BM25, ...opts.bm25 };
  const maxFuzzy = opts.maxFuzzy ?? DEFAULT_MAX_FUZZY;
  const fields = m._options.fields.map((f) => ({ id: m._fieldIds[f]!, boost: (opts.boost as Record<string, number> | undefined)?.[f] || 1 }));

  /** Live postings of a term in a field: MiniSearch counts the list's size, less discarded documents. */
  const liveCount = (freqs: Map<number, number>): number => {
    if (m._dirtCount === 0) return freqs.size;
    let n = 0;
    for (const d of freqs.keys()) if (m._documentIds.has(d)) n++;
    return n;
  };

  /**
   * Field lengths (terms) per field, indexed by short id: MiniSearch sets a document's once, when
   * it is added under a new short id, so the copy only grows, up to `_nextId`.
   */
  const lengths: Uint32Array[] = m._options.fields.map(() => new Uint32Array(0));
  let lengthsUpTo = 0;
  function syncLengths(): void {
    const upTo = m._nextId;
    if (upTo <= lengthsUpTo) return;
    if (lengths[0]!.length < upTo) {
      const n = Math.max(upTo, lengths[0]!.length * 2, 1024);
      for (let f = 0; f < lengths.length; f++) { const grown = new Uint32Array(n); grown.set(lengths[f]!); lengths[f] = grown; }
    }
    for (let doc = lengthsUpTo; doc < upTo; doc++) {
      const fl = m._fieldLength.get(doc);
      if (fl) for (let f = 0; f < lengths.length; f++) lengths[f]![doc] = fl[f] ?? 0;
    }
    lengthsUpTo = upTo;
  }

  /** Adds the weighted BM25+ of `data` (one derived term) to the current term's accumulator. */
  function addTerm(data: FieldTermData | undefined, weight: number, touched: number[]): void {
    if (!data) return;
    const total = m._documentCount;
    const dirty = m._dirtCount !== 0;
    const live = m._documentIds;
    const { termAcc, termSeen, termStamp } = scratch;
    for (const { id: fieldId, boost } of fields) {
      const freqs = data.get(fieldId);
      if (!freqs) continue;
      const matching = liveCount(freqs);
      const avg = m._avgFieldLength[fieldId]!;
      const idf = Math.log(1 + (total - matching + 0.5) / (matching + 0.5));
      const w = weight * boost;
      const len = lengths[fieldId]!;
      freqs.forEach((tf, doc) => {
        if (dirty && !live.has(doc)) return;
        const s = w * (idf * (bmD + (tf * (bmK + 1)) / (tf + bmK * (1 - bmB + (bmB * len[doc]!) / avg))));
        if (termSeen[doc] !== termStamp) {
          termSeen[doc] = termStamp;
          termAcc[doc] = s;
          touched.push(doc);
        } else {
          termAcc[doc] += s;
        }
      });
    }
  }

  const tokenize = opts.tokenize ?? m._options.tokenize;
  const processTerm = opts.processTerm ?? m._options.processTerm;

  /**
   * Every match of `terms` (short ids, in first-match order) with its score: the sum over query
   * terms, times the number of distinct query terms it matched (MiniSearch's quality factor).
   */
  function scoreAll(terms: string[], distinct: string[]): { docs: Int32Array; scores: Float64Array } {
    ensureScratch(m._nextId + 1);
    syncLengths();
    scratch.queryStamp = nextStamp(scratch.queryStamp, scratch.querySeen);
    const matched: number[] = [];
    terms.forEach((term, i) => {
      scratch.termStamp = nextStamp(scratch.termStamp, scratch.termSeen);
      const touched: number[] = [];
      addTerm(m._index.get(term), 1, touched);
      const fuzzyOpt = typeof opts.fuzzy === 'function' ? opts.fuzzy(term, i, terms) : opts.fuzzy;
      const prefix = typeof opts.prefix === 'function' ? opts.prefix(term, i, terms) : opts.prefix === true;
      let fuzzyMatches: Map<string, [FieldTermData, number]> | undefined;
      if (fuzzyOpt) {
        const f = fuzzyOpt === true ? 0.2 : fuzzyOpt;
        const maxDistance = f < 1 ? Math.min(maxFuzzy, Math.round(term.length * f)) : f;
        if (maxDistance) fuzzyMatches = m._index.fuzzyGet(term, maxDistance);
      }
      if (prefix) {
        for (const [t, data] of m._index.atPrefix(term)) {
          const distance = t.length - term.length;
          if (!distance) continue;
          fuzzyMatches?.delete(t); // scored as a prefix match only, as MiniSearch does
          addTerm(data, (weights.prefix * t.length) / (t.length + 0.3 * distance), touched);
        }
      }
      if (fuzzyMatches) {
        for (const [t, [data, distance]] of fuzzyMatches) {
          if (!distance) continue;
          addTerm(data, (weights.fuzzy * t.length) / (t.length + distance), touched);
        }
      }
      // OR of the query terms: the term's sum added to the document's (MiniSearch's order of additions).
      const bit = 1 << distinct.indexOf(term);
      for (const doc of touched) {
        if (scratch.querySeen[doc] !== scratch.queryStamp) {
          scratch.querySeen[doc] = scratch.queryStamp;
          scratch.sum[doc] = scratch.termAcc[doc]!;
          scratch.bits[doc] = bit;
          matched.push(doc);
        } else {
          scratch.sum[doc] += scratch.termAcc[doc]!;
          scratch.bits[doc] |= bit;
        }
      }
    });
    const docs = Int32Array.from(matched);
    const scores = new Float64Array(docs.length);
    for (let i = 0; i < docs.length; i++) scores[i] = scratch.sum[docs[i]!]! * (popcount(scratch.bits[docs[i]!]!) || 1);
    return { docs, scores };
  }

  return {
    score(query: string): ScoredQuery {
      const terms = tokenize(query).flatMap((t) => processTerm(t) || []).filter((t): t is string => !!t);
      const distinct = [...new Set(terms)];
      if (distinct.length > MAX_TERMS) return fallback(index, query);
      const { docs, scores } = scoreAll(terms, distinct);
      const idOf = (i: number) => String(m._documentIds.get(docs[i]!));
      return {
        count: docs.length,
        scoreOf(id) {
          const doc = m._idToShortId.get(id);
          const i = doc === undefined ? -1 : docs.indexOf(doc);
          return i < 0 ? undefined : scores[i];
        },
        top(k, accept, after) {
          const page: Ranked[] = [];
          if (k <= 0) return page;
          for (let i = 0; i < docs.length; i++) {
            const score = scores[i]!;
            if (page.length === k && score < page[k - 1]!.score) continue; // rejected before its id is looked up
            if (after && score > after.score) continue;
            const r = { id: idOf(i), score };
            if ((after && !before(after, r)) || (page.length === k && !before(r, page[k - 1]!)) || !accept(r.id)) continue;
            insertRanked(page, r, k);
          }
          return page;
        },
      };
    },
  };
}

/** Inserts `r` into `page` (kept in result order, at most `k` long). */
function insertRanked(page: Ranked[], r: Ranked, k: number): void {
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

/** A query of more distinct terms than the ranker tracks: MiniSearch's own search, all matches ranked. */
function fallback<T>(index: MiniSearch<T>, query: string): ScoredQuery {
  const results: Ranked[] = index.search(query).map((r) => ({ id: String(r.id), score: r.score }));
  return {
    count: results.length,
    scoreOf: (id) => results.find((r) => r.id === id)?.score,
    top(k, accept, after) {
      const page: Ranked[] = [];
      for (const r of results) {
        if ((after && !before(after, r)) || (page.length === k && !before(r, page[k - 1]!)) || !accept(r.id)) continue;
        insertRanked(page, r, k);
      }
      return page;
    },
  };
}
