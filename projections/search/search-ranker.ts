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
 * only the page (by score, then id). One difference: documents discarded but not yet vacuumed
 * (MiniSearch vacuums once about 10 % of the index is discarded) count for nothing here, while
 * MiniSearch#search lowers a term's document frequency as it meets them, so documents it scores
 * before such a posting get a slightly lower weight than those after it; the ranker's scores are
 * MiniSearch's on the vacuumed index.
 *
 * It reads the index through the state MiniSearch 7 declares `protected` (its extension surface
 * for subclasses: `_index`, `_fieldIds`, `_fieldLength`, `_avgFieldLength`, `_documentCount`,
 * `_documentIds`, `_idToShortId`, `_nextId`, `_dirtCount`, `_options`); {@link createSearchRanker}
 * checks that they are there and throws otherwise (the search projection creates its ranker when it
 * loads, so a MiniSearch release that changes them fails start-up, not with wrong pages).
 * Options it does not implement (`boostDocument`, `boostTerm`, `filter`, `fields`, `combineWith`
 * other than OR) are refused at creation: `search.projection.ts` uses none of them.
 */
import type MiniSearch from 'minisearch';
import type { SearchOptions } from 'minisearch';
import { before, insertRanked, rankedList, type Ranked, type ScoredQuery } from './ranked-list.ts';

export { before, rankedList, type Ranked, type ScoredQuery } from './ranked-list.ts';

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
/** Postings kept packed (12 bytes each: about 48 MiB); see `packedFor`. */
const MAX_PACKED_POSTINGS = 4_000_000;
/** A packed posting list: live documents (short ids) and their BM25+ term-frequency parts. */
interface Packed { docs: Int32Array; parts: Float64Array }
/** Distinct query terms tracked per document (a bit each); longer queries fall back to MiniSearch#search. */
const MAX_TERMS = 31;

/** A ranker bound to one MiniSearch instance: `score` scores `query` as `index.search(query)` with the index's options would. */
export interface SearchRanker { score(query: string): ScoredQuery }

/** Set bits of a 32-bit integer. */
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
  /** Documents the current term touched, then documents the query matched (first-match order), and their counts. */
  touched: new Int32Array(0),
  nTouched: 0,
  matched: new Int32Array(0),
  nMatched: 0,
  termStamp: 0,
  queryStamp: 0,
};

/** Grows the scratch to hold short ids below `size`; a grown scratch starts with fresh stamps. */
function ensureScratch(size: number): void {
  if (scratch.termAcc.length >= size) return;
  const n = Math.max(size, scratch.termAcc.length * 2, 1024);
  Object.assign(scratch, {
    termAcc: new Float64Array(n), termSeen: new Uint32Array(n), sum: new Float64Array(n), bits: new Int32Array(n), querySeen: new Uint32Array(n),
    touched: new Int32Array(n), matched: new Int32Array(n), termStamp: 0, queryStamp: 0,
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
  if (!(m._index && typeof m._index.fuzzyGet === 'function' && typeof m._index.atPrefix === 'function' && m._fieldIds
    && m._fieldLength instanceof Map && Array.isArray(m._avgFieldLength) && m._documentIds instanceof Map && m._idToShortId instanceof Map
    && typeof m._nextId === 'number' && typeof m._documentCount === 'number' && typeof m._dirtCount === 'number' && m._options?.tokenize)) {
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

  /**
   * Field lengths (terms) per field, indexed by short id: MiniSearch sets a document's once, when
   * it is added under a new short id, so the copy only grows, up to `_nextId`.
   */
  const lengths: Uint32Array[] = m._options.fields.map(() => new Uint32Array(0));
  let lengthsUpTo = 0;
  function syncLengths(): void {
    const upTo = m._nextId;
    if (upTo < lengthsUpTo) lengthsUpTo = 0; // removeAll() starts short ids from 0 again
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

  /**
   * Packed posting lists of the current index version: per (term, field) posting Map, its live
   * documents and their BM25+ term-frequency part `d + tf·(k+1) / (tf + k·(1 − b + b·len/avg))`
   * (MiniSearch's expression, so scores stay identical). A version is `_nextId`, `_documentCount`
   * and `_dirtCount`: every add, discard, remove or vacuum changes one of them (and the field length
   * averages with them), so a change of the index drops every packed list. At most
   * `MAX_PACKED_POSTINGS` postings are kept; lists beyond that are read from the Map each time.
   */
  const indexVersion = (): string => `${m._nextId}/${m._documentCount}/${m._dirtCount}`;
  let packed = new Map<Map<number, number>, Packed>();
  let packedVersion = '';
  let packedPostings = 0;
  function packedFor(freqs: Map<number, number>, fieldId: number): Packed {
    const hit = packed.get(freqs);
    if (hit) return hit;
    const dirty = m._dirtCount !== 0;
    const avg = m._avgFieldLength[fieldId]!;
    const len = lengths[fieldId]!;
    const docs = new Int32Array(freqs.size);
    const parts = new Float64Array(freqs.size);
    let n = 0;
    freqs.forEach((tf, doc) => {
      if (dirty && !m._documentIds.has(doc)) return; // discarded, not vacuumed yet: not a match
      docs[n] = doc;
      parts[n++] = bmD + (tf * (bmK + 1)) / (tf + bmK * (1 - bmB + (bmB * len[doc]!) / avg));
    });
    const list: Packed = n === docs.length ? { docs, parts } : { docs: docs.slice(0, n), parts: parts.slice(0, n) };
    if (packedPostings + n <= MAX_PACKED_POSTINGS) {
      packed.set(freqs, list);
      packedPostings += n;
    }
    return list;
  }
  /** Drops the packed lists when the index changed since they were packed. */
  function syncPacked(): void {
    const version = indexVersion();
    if (version === packedVersion) return;
    packed = new Map();
    packedPostings = 0;
    packedVersion = version;
  }

  /** Adds the weighted BM25+ of `data` (one derived term) to the current term's accumulator. */
  function addTerm(data: FieldTermData | undefined, weight: number): void {
    if (!data) return;
    const total = m._documentCount;
    const { termAcc, termSeen, termStamp, touched } = scratch;
    let nTouched = scratch.nTouched;
    for (const { id: fieldId, boost } of fields) {
      const freqs = data.get(fieldId);
      if (!freqs) continue;
      const { docs, parts } = packedFor(freqs, fieldId);
      // MiniSearch's document frequency: the list's live documents.
      const matching = docs.length;
      const idf = Math.log(1 + (total - matching + 0.5) / (matching + 0.5));
      const w = weight * boost;
      for (let i = 0; i < docs.length; i++) {
        const doc = docs[i]!;
        const s = w * (idf * parts[i]!);
        if (termSeen[doc] !== termStamp) {
          termSeen[doc] = termStamp;
          termAcc[doc] = s;
          touched[nTouched++] = doc;
        } else {
          termAcc[doc] += s;
        }
      }
    }
    scratch.nTouched = nTouched;
  }

  const tokenize = opts.tokenize ?? m._options.tokenize;
  const processTerm = opts.processTerm ?? m._options.processTerm;

  /** Adds the current term's sums to the query's (MiniSearch's OR, in its order of additions); `bit` marks the term. */
  function mergeTerm(bit: number): void {
    const { touched, nTouched, termAcc, querySeen, queryStamp, sum, bits, matched } = scratch;
    let nMatched = scratch.nMatched;
    for (let i = 0; i < nTouched; i++) {
      const doc = touched[i]!;
      if (querySeen[doc] !== queryStamp) {
        querySeen[doc] = queryStamp;
        sum[doc] = termAcc[doc]!;
        bits[doc] = bit;
        matched[nMatched++] = doc;
      } else {
        sum[doc] += termAcc[doc]!;
        bits[doc] |= bit;
      }
    }
    scratch.nMatched = nMatched;
  }

  /**
   * Scores every match of `terms` into the scratch: `matched[0..nMatched)` (short ids, in
   * first-match order) and `sum[doc]`, the sum over query terms times the number of distinct query
   * terms the document matched (MiniSearch's quality factor).
   */
  function scoreAll(terms: string[], distinct: string[]): void {
    ensureScratch(m._nextId + 1);
    syncLengths();
    syncPacked();
    scratch.queryStamp = nextStamp(scratch.queryStamp, scratch.querySeen);
    scratch.nMatched = 0;
    terms.forEach((term, i) => {
      scratch.termStamp = nextStamp(scratch.termStamp, scratch.termSeen);
      scratch.nTouched = 0;
      addTerm(m._index.get(term), 1);
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
          addTerm(data, (weights.prefix * t.length) / (t.length + 0.3 * distance));
        }
      }
      if (fuzzyMatches) {
        for (const [t, [data, distance]] of fuzzyMatches) {
          if (!distance) continue;
          addTerm(data, (weights.fuzzy * t.length) / (t.length + distance));
        }
      }
      mergeTerm(1 << distinct.indexOf(term));
    });
    const { matched, nMatched, sum, bits } = scratch;
    for (let i = 0; i < nMatched; i++) sum[matched[i]!] *= popcount(bits[matched[i]!]!) || 1;
  }

  return {
    score(query: string): ScoredQuery {
      const terms = tokenize(query).flatMap((t) => processTerm(t) || []).filter((t): t is string => !!t);
      const distinct = [...new Set(terms)];
      if (distinct.length > MAX_TERMS) return fallback(index, query);
      scoreAll(terms, distinct);
      // Read from the scratch, not copied (a common word matches most of the index): valid until the next score().
      const { matched: docs, sum, querySeen } = scratch;
      const count = scratch.nMatched;
      const stampAt = scratch.queryStamp;
      const version = indexVersion();
      const current = () => {
        if (scratch.queryStamp !== stampAt || scratch.matched !== docs) throw new Error('search ranker: a scored query was read after the next score()');
        if (indexVersion() !== version) throw new Error('search ranker: a scored query was read after the index changed');
      };
      return {
        count,
        scoreOf(id) {
          current();
          const doc = m._idToShortId.get(id);
          return doc !== undefined && querySeen[doc] === stampAt ? sum[doc] : undefined;
        },
        top(k, accept, after) {
          current();
          const page: Ranked[] = [];
          if (k <= 0) return page;
          for (let i = 0; i < count; i++) {
            const doc = docs[i]!;
            const score = sum[doc]!;
            if (page.length === k && score < page[k - 1]!.score) continue; // rejected before its id is looked up
            if (after && score > after.score) continue;
            const r = { id: String(m._documentIds.get(doc)), score };
            if ((after && !before(after, r)) || (page.length === k && !before(r, page[k - 1]!)) || !accept(r.id)) continue;
            insertRanked(page, r, k);
          }
          return page;
        },
        countThrough(last, accept) {
          current();
          let n = 0;
          for (let i = 0; i < count; i++) {
            const doc = docs[i]!;
            const score = sum[doc]!;
            if (score < last.score) continue; // after `last`: decided before the id is looked up
            const id = String(m._documentIds.get(doc));
            if ((score > last.score || id <= last.id) && accept(id)) n++;
          }
          return n;
        },
        matches(accept) {
          current();
          const out: string[] = [];
          for (let i = 0; i < count; i++) {
            const id = String(m._documentIds.get(docs[i]!));
            if (accept(id)) out.push(id);
          }
          return out;
        },
      };
    },
  };
}

/** A query of more distinct terms than the ranker tracks: MiniSearch's own search, all matches ranked. */
const fallback = <T>(index: MiniSearch<T>, query: string): ScoredQuery =>
  rankedList(index.search(query).map((r) => ({ id: String(r.id), score: r.score })));
