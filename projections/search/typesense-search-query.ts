/**
 * How the Typesense search read model (typesense-search-store.ts) stores and asks for what issue 14
 * adds to search: the filter and facet fields of a search-collection document, and the
 * `filter_by`, `sort_by` and facet parameters of a search, with the facet counts mapped back to
 * TagFacet. Only what Typesense 0.24 serves; the rules themselves (canonical filters, inclusive
 * bounds, tag keys, facet order) are search-model.ts's, shared with the MiniSearch engine.
 */
import { assertNever } from '../../domain/shared/event.ts';
import { MAX_TAG_FACETS, tagKeysOf, toHit, type SearchDoc } from './search-model.ts';
import { type SearchFilters, type SearchSort, type TagFacet } from './search.port.ts';

/**
 * Hex characters per token of an exact key: with its `k<i>z` label a token stays within the 100
 * characters Typesense 0.24 indexes whole (longer tokens are cut, so they neither filter nor facet
 * exactly; found by the adapter's tests).
 */
const HEX_PER_TOKEN = 90;

/**
 * The form in which an owner id or a tag key is stored, filtered by and faceted on: its UTF-8
 * bytes in lowercase hex, in space-separated tokens of at most 90 hex digits, each labelled with
 * its position (`k0z…`, `k1z…`); the empty string is `k0z`. Why: Typesense 0.24 tokenises string
 * fields even for `:=` filters and facets (lowercased, punctuation dropped, accents folded,
 * tokens cut at 100 characters), so stored as-is `C++`, `c#` and `c` would be one tag, `Alice`
 * and `alice` one channel, and two long tags sharing their first 100 characters one tag. Hex
 * tokens come through that unchanged, `:=` on a string (or on one element of a string[]) matches
 * the whole token sequence, and the labels make each key's token set its own. The result never
 * contains a backtick, so it can always be quoted in `filter_by`.
 */
export function exactKey(value: string): string {
  const hex = Buffer.from(value, 'utf8').toString('hex');
  const tokens: string[] = [];
  for (let i = 0; i === 0 || i * HEX_PER_TOKEN < hex.length; i++) tokens.push(`k${i}z${hex.slice(i * HEX_PER_TOKEN, (i + 1) * HEX_PER_TOKEN)}`);
  return tokens.join(' ');
}

/** The value `exactKey` encoded (what a facet count's `value` holds). */
export const fromExactKey = (key: string): string =>
  Buffer.from(key.split(' ').map((t) => t.replace(/^k\d+z/, '')).join(''), 'hex').toString('utf8');

/**
 * The fields of the search collection's document of a searchable video `d`, id aside: the hit
 * (search.port.ts SearchHit, returned as stored), `publishedAt` (ms; 0 when unknown, as
 * passesFilters counts it), `durationSeconds` only when known (an optional Typesense field must
 * be absent, not null; a video without a duration then fails every duration bound, as
 * SearchFilters says), `ownerKey` (exactKey of the owner id) and `tagKeys` (exactKey of each
 * distinct, non-empty tagKey of its tags).
 */
export function searchFields(d: SearchDoc): Record<string, unknown> {
  const { durationSeconds, ...hit } = toHit(d);
  return {
    ...hit,
    ...(durationSeconds != null && { durationSeconds }),
    publishedAt: d.publishedAt ?? 0,
    ownerKey: exactKey(d.ownerId),
    tagKeys: tagKeysOf(d.tags).map(exactKey),
  };
}

/** Largest magnitude a float bound is sent with (Typesense floats are 32-bit: ~3.4e38). */
const FLOAT_MAX = 1e38;
/** Smallest non-zero magnitude a float bound is sent with (0.24 refuses subnormal float32 literals). */
const FLOAT_MIN = 1e-30;

/**
 * `field:<op><v>` for an inclusive float bound, or undefined for NaN (no bound, as passesFilters
 * reads it). Infinite or huge bounds are clamped to ±1e38 and magnitudes below 1e-30 become a
 * comparison with 0 (strict when 0 fails the bound): every stored duration is far inside that.
 * Typesense compares at float32 precision, so a duration within ~1e-7 (relative) of a bound may
 * land on the other side of it than in the MiniSearch engine.
 */
function floatBound(field: string, op: '>=' | '<=', v: number): string | undefined {
  if (Number.isNaN(v)) return undefined;
  const x = Math.max(-FLOAT_MAX, Math.min(FLOAT_MAX, v));
  if (x !== 0 && Math.abs(x) < FLOAT_MIN) return `${field}:${(op === '>=') === (x > 0) ? op[0] : op}0`;
  return `${field}:${op}${x}`;
}

/** `field:<op><v>` for an inclusive bound on an int64 field (rounded inward, clamped to ±2^53), undefined for NaN. */
function intBound(field: string, op: '>=' | '<=', v: number): string | undefined {
  if (Number.isNaN(v)) return undefined;
  const x = Math.max(-Number.MAX_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, op === '>=' ? Math.ceil(v) : Math.floor(v)));
  return `${field}:${op}${x}`;
}

/**
 * `filter_by` of a search: the result set frozen at `searchTs` (ms: `publishedAt:<=searchTs`)
 * and every filter of `f` (canonicalFilters form), joined with `&&`: duration and date bounds
 * inclusive (passesFilters' rule), the channel `ownerKey:=` its exactKey, each tag one
 * `tagKeys:=` clause (the video must carry all of them).
 */
export function searchFilterBy(searchTs: number, f: SearchFilters): string {
  const clauses = [
    intBound('publishedAt', '<=', searchTs),
    f.minDurationSeconds !== undefined ? floatBound('durationSeconds', '>=', f.minDurationSeconds) : undefined,
    f.maxDurationSeconds !== undefined ? floatBound('durationSeconds', '<=', f.maxDurationSeconds) : undefined,
    f.publishedAfter !== undefined ? intBound('publishedAt', '>=', f.publishedAfter) : undefined,
    f.publishedBefore !== undefined ? intBound('publishedAt', '<=', f.publishedBefore) : undefined,
    f.channel !== undefined ? `ownerKey:=\`${exactKey(f.channel)}\`` : undefined,
    ...(f.tags ?? []).map((t) => `tagKeys:=\`${exactKey(t)}\``),
  ];
  return clauses.filter((c) => c !== undefined).join(' && ');
}

/**
 * `sort_by` of sort `sort` (SearchSort): text score (`relevance`), newest `publishedAt` first
 * (`date`) or most `views` first (`views`, fed by view-count-feed.ts), then video id.
 */
export function searchSortBy(sort: SearchSort): string {
  switch (sort) {
    case 'relevance': return '_text_match:desc,videoId:asc';
    case 'date': return 'publishedAt:desc,videoId:asc';
    case 'views': return 'views:desc,videoId:asc';
    default: return assertNever(sort);
  }
}

/**
 * Facet values asked for first: far more than MAX_TAG_FACETS, so that ties at the 20th count are
 * almost always all among them (see tagFacets).
 */
export const FACET_VALUES = 100;
/** Facet parameters asking for up to `values` tag values of the whole result set (not the page). */
export const facetParams = (values = FACET_VALUES) => ({ facet_by: 'tagKeys', max_facet_values: values }) as const;

/** The part of a search response's `facet_counts` tagFacets reads. */
export type FacetCounts = Array<{ field_name: unknown; counts: Array<{ value: string; count: number }>; stats?: { total_values?: number } }>;

/**
 * The tag facets of a search's `facet_counts` in countTagFacets' order (count desc, then tag; at
 * most MAX_TAG_FACETS). `complete` is false when they may be wrong: Typesense returns the
 * `max_facet_values` most frequent values with ties in no order, so when it cut the list and the
 * last facet kept has the smallest count it returned, a tag of that count it left out may sort
 * before it; ask again with `facetParams(totalValues)` (the number of distinct values).
 * No tagKeys facet in `counts`: no tags.
 */
export function tagFacets(counts: FacetCounts | undefined): { tags: TagFacet[]; complete: boolean; totalValues: number } {
  const facet = counts?.find((c) => c.field_name === 'tagKeys');
  if (!facet) return { tags: [], complete: true, totalValues: 0 };
  const all = facet.counts.map((c) => ({ value: fromExactKey(c.value), count: c.count }))
    .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  const totalValues = facet.stats?.total_values ?? all.length;
  const tags = all.slice(0, MAX_TAG_FACETS);
  const cut = all.length < totalValues;
  return { tags, complete: !(cut && tags.length && tags[tags.length - 1].count <= all[all.length - 1].count), totalValues };
}

/** Whether Typesense `err` says the collection lacks a field a search named (a collection of an older schema). */
export const isMissingField = (err: unknown): boolean =>
  (err as { httpStatus?: number }).httpStatus === 404 && /Could not find a (?:filter |facet )?field named `/.test(String((err as Error).message));
