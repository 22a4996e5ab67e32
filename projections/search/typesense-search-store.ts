/**
 * The Typesense side of the search read model (typesense-search.adapter.ts): collection names and
 * schemas, the query parameters, error mapping, and the reads and writes the projection and the
 * alias readers make. Only what Typesense 0.24 serves (see the adapter's comment).
 */
import { Errors, type Client, type CollectionFieldSchema } from 'typesense';
import {
  canonicalFilters, clampPageSize, decodeSearchCursor, encodeSearchCursor, queryHash, queryTerms, toHit, type SearchDoc,
} from './search-model.ts';
import { SearchIndexError, type SearchHit, type SearchOptions, type SearchPage } from './search.port.ts';
import { facetParams, isMissingField, searchFilterBy, searchSortBy, tagFacets, type FacetCounts } from './typesense-search-query.ts';

/**
 * Version of the collections' schema. Bump it when SEARCH_FIELDS or the document shape change:
 * instances name their collections with it, the replayable read model declares it as its content
 * version, so the projection manager rebuilds a new instance by replay into a shadow and swaps the
 * alias while the old one keeps serving.
 */
export const SEARCH_SCHEMA_VERSION = 2;

/**
 * Fields of the search collection (v2; v1 lacked the filter fields and the views of issue 14). title ×2
 * like MiniSearch's boost (query_by_weights). The documents' other fields (ownerId, thumbnailKey)
 * are stored, not indexed; typesense-search-query.ts searchFields builds a document.
 */
export const SEARCH_FIELDS: CollectionFieldSchema[] = [
  { name: 'videoId', type: 'string', sort: true }, // tie-break of equal scores and dates, like MiniSearch's order
  { name: 'title', type: 'string' },
  { name: 'description', type: 'string' },
  { name: 'tags', type: 'string[]' },
  { name: 'publishedAt', type: 'int64' }, // ms; filtered by the cursor's search_timestamp_ms and the date bounds; sort=date
  { name: 'durationSeconds', type: 'float', optional: true }, // absent when unknown: fails every duration bound
  { name: 'ownerKey', type: 'string' }, // exactKey(ownerId): the channel filter
  { name: 'tagKeys', type: 'string[]', facet: true }, // exactKey(tagKey(tag)) of each distinct tag: tag filter and facets
  { name: 'views', type: 'int64' }, // video detail's count, fed in batches (view-count-feed.ts): sort=views
];
/** Fields of the docs collection: only the id is filtered on (0.24 refuses an empty field list). */
export const DOC_FIELDS: CollectionFieldSchema[] = [{ name: 'videoId', type: 'string' }];
export const CHECKPOINT_FIELDS: CollectionFieldSchema[] = [{ name: 'readModel', type: 'string' }];

/**
 * Search parameters (Typesense 0.24 names). Typo tolerance: up to 2 typos per term, 1 from 4
 * characters, 2 from 7 ("dinosuar" → "Dinosaur"); the last term matches as a prefix ("noodl").
 * A query of several terms matches videos with ANY of them, as MiniSearch's default OR does in
 * standalone mode: Typesense matches all terms first, then, while fewer than
 * `drop_tokens_threshold` hits are found, drops terms (from the right, then from the left) and
 * adds what the shorter queries match; videos matching more terms rank first. The threshold is
 * 0.24's per_page limit so that a page never stops short of the hits of the dropped terms (0.24
 * drops contiguous runs of terms only: in a 3-term query a video matching only the middle term
 * is not found).
 */
export const QUERY_PARAMS = {
  query_by: 'title,description,tags',
  query_by_weights: '2,1,1',
  num_typos: 2,
  min_len_1typo: 4,
  min_len_2typo: 7,
  prefix: true,
  drop_tokens_threshold: 250,
  sort_by: searchSortBy('relevance'),
  highlight_fields: 'title',
} as const;

/** Most documents one filter_by id list fetches (0.24's per_page limit is 250). */
const FETCH_CHUNK = 250;

/** Names of one instance's collections and of the shared alias/checkpoint collection. */
export interface SearchCollections {
  /** `<prefix>_search`: the alias readers search through. */
  alias: string;
  /** `<prefix>_search_v<V>_<instance>`: searchable videos only; also what its checkpoint documents' ids start with (`<search>@<topic>:<partition>`). */
  search: string;
  /** `<prefix>_search_docs_v<V>_<instance>`: every known video's document. */
  docs: string;
  /** `<prefix>_checkpoints`. */
  checkpoints: string;
  version: number;
}

const INSTANCE_RE = /^[A-Za-z0-9-]{1,64}$/;
const PREFIX_RE = /^[A-Za-z0-9_]{1,64}$/;
export const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Collection names of `instanceId` under schema `version`.
 * @throws SearchIndexError SEARCH_INVALID_NAME when the prefix is not 1..64 of `[A-Za-z0-9_]` or the id not 1..64 of `[A-Za-z0-9-]`.
 */
export function searchCollections(prefix: string, instanceId: string, version = SEARCH_SCHEMA_VERSION): SearchCollections {
  if (!PREFIX_RE.test(prefix)) throw new SearchIndexError('SEARCH_INVALID_NAME', `prefix ${JSON.stringify(prefix)} is not 1..64 of [A-Za-z0-9_]`);
  if (!INSTANCE_RE.test(instanceId)) throw new SearchIndexError('SEARCH_INVALID_NAME', `instance id ${JSON.stringify(instanceId)} is not 1..64 of [A-Za-z0-9-]`);
  return {
    alias: `${prefix}_search`,
    search: `${prefix}_search_v${version}_${instanceId}`,
    docs: `${prefix}_search_docs_v${version}_${instanceId}`,
    checkpoints: `${prefix}_checkpoints`,
    version,
  };
}

/** `SEARCH_UNAVAILABLE` for transport errors and 5xx, `SEARCH_IO` for other refusals. */
export function wrap(err: unknown, what: string): SearchIndexError {
  if (err instanceof SearchIndexError) return err;
  const status = (err as { httpStatus?: number }).httpStatus;
  const unavailable = status === undefined || status >= 500 || err instanceof Errors.ServerError;
  return new SearchIndexError(unavailable ? 'SEARCH_UNAVAILABLE' : 'SEARCH_IO', `typesense: ${what}: ${(err as Error).message ?? String(err)}`, err);
}

export const isNotFound = (err: unknown) => err instanceof Errors.ObjectNotFound || (err as { httpStatus?: number }).httpStatus === 404;
export const isConflict = (err: unknown) => err instanceof Errors.ObjectAlreadyExists || (err as { httpStatus?: number }).httpStatus === 409;

/** `id:[`a`,`b`]`; backticks quote ids containing filter syntax (0.24 has no escape for a backtick itself). */
const idFilter = (ids: string[]) => `id:[${ids.map((id) => `\`${id}\``).join(',')}]`;
const quotable = (id: string) => !id.includes('`');

const chunks = <T>(xs: T[], n: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
};

/** A stored document of either collection, as Typesense returns it (ids and nulls as written). */
export type StoredDoc = SearchDoc & { id: string };

/** The hit of a stored document (fields Typesense drops, or older documents lack, default to null). */
const hitOf = (d: Partial<StoredDoc>): SearchHit => toHit({
  videoId: String(d.videoId), title: d.title ?? '', description: d.description ?? '', tags: Array.isArray(d.tags) ? d.tags : [],
  ownerId: d.ownerId ?? '', thumbnailKey: d.thumbnailKey ?? null, durationSeconds: d.durationSeconds ?? null, publishedAt: d.publishedAt ?? null, views: d.views ?? 0,
  ready: true,
});

/** Creates collection `name` unless it exists. */
export async function ensureCollection(client: Client, name: string, fields: CollectionFieldSchema[], extra: Record<string, unknown> = {}): Promise<void> {
  try {
    await client.collections().create({ name, fields, ...extra });
  } catch (err) {
    if (!isConflict(err)) throw wrap(err, `create collection ${name}`);
  }
}

/**
 * Searches `collection` (an alias or a collection) for `q`, one page of `pageSize` (1..100),
 * continuing `cursor`, under `options` (filters, sort, facets: search.port.ts SearchOptions).
 * Shared by the projection's own queries and the alias readers. Tag facets come with the first
 * page only (no `cursor`) when `options.facets` is set: `{ tags: [] }` for a query without terms
 * or before any collection exists.
 * @throws InvalidCursorError for a bad cursor or one of another query, other filters or another
 *   sort; SearchIndexError SEARCH_UNAVAILABLE when the server fails or `collection` predates the
 *   fields a filter or facets need (an instance of an older schema still serving while its replay
 *   runs: retry later), SEARCH_IO when it refuses the search.
 */
export async function searchPage(
  client: Client, collection: string, secret: string | Buffer, now: () => number, q: string, pageSize: number, cursor?: string, options: SearchOptions = {},
): Promise<SearchPage> {
  const size = clampPageSize(pageSize);
  const wantFacets = options.facets === true && cursor === undefined;
  let searchTs = now();
  let offset = 0;
  let lastId: string | undefined;
  if (cursor !== undefined) {
    const c = decodeSearchCursor(cursor, q, secret, options);
    searchTs = c.search_timestamp_ms;
    offset = c.offset;
    lastId = c.last_video_id;
  }
  const terms = queryTerms(q);
  if (!terms.length) return { videos: [], nextCursor: null, ...(wantFacets && { facets: { tags: [] } }) };
  const params = {
    ...QUERY_PARAMS, q: terms.join(' '), filter_by: searchFilterBy(searchTs, canonicalFilters(options.filters)), sort_by: searchSortBy(options.sort ?? 'relevance'),
  };
  /**
   * One search request; undefined when no instance has created the collection/alias yet (nothing
   * is searchable). Sent as a POST to /multi_search: a GET's query string is refused over 4,000
   * characters, and ten hex-encoded tags of 50 CJK characters with a long query pass that.
   */
  const request = async (extra: { page?: number; per_page: number; facet_by?: string; max_facet_values?: number }) => {
    try {
      const { results } = await client.multiSearch.perform<[StoredDoc]>({ searches: [{ collection, ...params, ...extra }] });
      const res = results[0] as (typeof results)[0] & { code?: number; error?: string };
      // multi_search answers 200 and puts a search's own failure in its result.
      if (res.error !== undefined) throw Object.assign(new Error(res.error), { httpStatus: res.code });
      return res;
    } catch (err) {
      if (isMissingField(err)) throw new SearchIndexError('SEARCH_UNAVAILABLE', `typesense: search ${collection}: the collection predates search schema v${SEARCH_SCHEMA_VERSION} (rebuilding): ${(err as Error).message}`, err);
      if (isNotFound(err)) return undefined;
      throw wrap(err, `search ${collection}`);
    }
  };

  let found = 0;
  let facetCounts: FacetCounts | undefined;
  /** Hits [from, to) of the result set, fetched as one or two pages of `to - from` (≤ 250); the first request also asks for the facets. */
  const range = async (from: number, to: number): Promise<Array<Partial<StoredDoc>>> => {
    const per = Math.max(1, to - from);
    const first = Math.floor(from / per) + 1;
    const pages = to > first * per ? [first, first + 1] : [first];
    const hits: Array<Partial<StoredDoc>> = [];
    for (const page of pages) {
      const facets = wantFacets && facetCounts === undefined;
      const res = await request({ page, per_page: per, ...(facets && facetParams()) });
      if (!res) return [];
      found = res.found;
      if (facets) facetCounts = res.facet_counts ?? [];
      hits.push(...(res.hits ?? []).map((h) => h.document));
    }
    const base = (first - 1) * per;
    return hits.slice(from - base, to - base);
  };

  // Continue right after the last video shown when it is still near where it was (results removed
  // before it shift it back); when it is gone, at the offset less itself. Same rule as the
  // MiniSearch projection; it holds for any sort_by (it only relies on the order being stable).
  let from = lastId === undefined ? offset : Math.max(0, offset - size);
  let window = await range(from, offset + size);
  let start = offset;
  if (lastId !== undefined) {
    const i = window.findIndex((d) => d.videoId === lastId);
    // Found: right after it. Gone: the offset counted it among the results shown, so one fewer.
    start = i >= 0 ? from + i + 1 : Math.max(0, offset - 1);
  }
  if (start + size > from + window.length && from + window.length < found) {
    from = start;
    window = await range(start, start + size);
  }
  const page = window.slice(start - from, start - from + size);
  const end = start + page.length;
  const nextCursor = page.length && end < found
    ? encodeSearchCursor({ search_timestamp_ms: searchTs, last_video_id: String(page[page.length - 1].videoId), offset: end, query_hash: queryHash(q, options) }, secret)
    : null;
  if (!wantFacets) return { videos: page.map(hitOf), nextCursor };
  let facets = tagFacets(facetCounts);
  if (!facets.complete) facets = tagFacets((await request({ per_page: 0, ...facetParams(facets.totalValues) }))?.facet_counts);
  return { videos: page.map(hitOf), nextCursor, facets: { tags: facets.tags } };
}

/** The collection alias `alias` points at, or undefined. */
export async function aliasTarget(client: Client, alias: string): Promise<string | undefined> {
  try {
    return (await client.aliases(alias).retrieve()).collection_name;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw wrap(err, `read alias ${alias}`);
  }
}

/** Existing instances: instance id → schema version of its search collection. */
export async function listInstances(client: Client, prefix: string): Promise<Map<string, number>> {
  const re = new RegExp(`^${escapeRe(prefix)}_search_v(\\d+)_([A-Za-z0-9-]+)$`);
  let all;
  try {
    all = await client.collections().retrieve();
  } catch (err) {
    throw wrap(err, 'list collections');
  }
  const out = new Map<string, number>();
  for (const c of all) {
    const m = re.exec(c.name);
    if (m) out.set(m[2], Math.max(out.get(m[2]) ?? 0, Number(m[1])));
  }
  return out;
}

/** The stored documents of `ids` from docs collection `collection` (absent ids: unknown or deleted videos). */
export async function fetchDocs(client: Client, collection: string, ids: string[]): Promise<Map<string, SearchDoc>> {
  const out = new Map<string, SearchDoc>();
  const docs = client.collections<StoredDoc>(collection).documents();
  const byFilter = ids.filter(quotable);
  for (const chunk of chunks(byFilter, FETCH_CHUNK)) {
    let res;
    try {
      res = await docs.search({ q: '*', filter_by: idFilter(chunk), per_page: chunk.length });
    } catch (err) {
      throw wrap(err, `read ${collection}`);
    }
    for (const h of res.hits ?? []) {
      const { id: _id, ...doc } = h.document;
      out.set(doc.videoId, doc);
    }
  }
  for (const id of ids.filter((i) => !quotable(i))) {
    try {
      const { id: _id, ...doc } = await client.collections<StoredDoc>(collection).documents(id).retrieve();
      out.set(doc.videoId, doc);
    } catch (err) {
      if (!isNotFound(err)) throw wrap(err, `read ${collection}/${id}`);
    }
  }
  return out;
}

/** Upserts `docs` into `collection` in one import; any refused document fails the batch. */
export async function upsertDocs(client: Client, collection: string, docs: object[]): Promise<void> {
  if (!docs.length) return;
  let results;
  try {
    results = await client.collections(collection).documents().import(docs as never[], { action: 'upsert' });
  } catch (err) {
    const failed = (err as Errors.ImportError).importResults?.find((r) => !r.success);
    throw wrap(failed ? Object.assign(new Error(failed.error ?? 'import refused'), { httpStatus: 422 }) : err, `upsert into ${collection}`);
  }
  const failed = results.find((r) => !r.success);
  if (failed) throw new SearchIndexError('SEARCH_IO', `typesense: upsert into ${collection}: ${failed.error ?? 'refused'}`);
}

/** Deletes documents `ids` from `collection` (missing ones are fine). */
export async function removeDocs(client: Client, collection: string, ids: string[]): Promise<void> {
  const docs = client.collections(collection).documents();
  for (const chunk of chunks(ids.filter(quotable), FETCH_CHUNK)) {
    try {
      await docs.delete({ filter_by: idFilter(chunk) });
    } catch (err) {
      throw wrap(err, `delete from ${collection}`);
    }
  }
  for (const id of ids.filter((i) => !quotable(i))) {
    try {
      await client.collections(collection).documents(id).delete();
    } catch (err) {
      if (!isNotFound(err)) throw wrap(err, `delete ${collection}/${id}`);
    }
  }
}

/**
 * Sets `views` of the documents of `counts` (video id → count) in `collection` with one partial
 * update import; videos without a document there (not searchable, or unknown) are skipped.
 * @throws SearchIndexError when the server fails or refuses an update for another reason.
 */
export async function setViews(client: Client, collection: string, counts: Map<string, number>): Promise<void> {
  if (!counts.size) return;
  const docs = [...counts].map(([id, views]) => ({ id, views }));
  let results;
  try {
    results = await client.collections(collection).documents().import(docs, { action: 'update' });
  } catch (err) {
    results = (err as Errors.ImportError).importResults;
    if (!results) throw wrap(err, `update views in ${collection}`);
  }
  const failed = results.find((r) => !r.success && !/Could not find a document/i.test(r.error ?? ''));
  if (failed) throw new SearchIndexError('SEARCH_IO', `typesense: update views in ${collection}: ${failed.error ?? 'refused'}`);
}

/** The ids of every document of `collection` (one export of the ids only). */
export async function listIds(client: Client, collection: string): Promise<string[]> {
  let jsonl: string;
  try {
    jsonl = await client.collections(collection).documents().export({ include_fields: 'id' });
  } catch (err) {
    throw wrap(err, `export ${collection}`);
  }
  return jsonl.split('\n').filter(Boolean).map((line) => String((JSON.parse(line) as { id: string }).id));
}
