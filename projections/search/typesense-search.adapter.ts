/**
 * The search read model on a Typesense server (cluster mode), through the `typesense` npm client
 * (3.x). Tested against Typesense 0.24.1 and uses only what 0.24 serves: collections, aliases,
 * `documents/import?action=upsert`, delete by `filter_by`, `filter_by` on `id`, `page`/`per_page`
 * paging (0.24 ignores `offset`/`limit`), sorting on a string field.
 *
 * Same behaviour as the MiniSearch projection (search.projection.ts), checked by the same contract
 * suite (search.contract.ts); the event folding, the searchable rule, query normalisation and the
 * signed cursor come from search-model.ts, so only storage and ranking differ.
 *
 * Storage, per instance (the live one, `primary`, or a replay shadow `replay-<ts>`) and per schema
 * version V (SEARCH_SCHEMA_VERSION):
 * - `<prefix>_search_v<V>_<instance>`: ONLY the searchable videos (ready and public): title,
 *   description and tags indexed, the rest of the hit stored. A video that becomes unlisted or
 *   private, or is deleted, is deleted from it, so no query (not even one that forgets a filter, or
 *   a scoped search key) can find it.
 * - `<prefix>_search_docs_v<V>_<instance>`: every known video's document (search-model.ts
 *   SearchDoc), searchable or not, nothing indexed but the id: what the next event of a video is
 *   folded into (VideoPublished needs the title UploadStarted carried; a video made public again
 *   needs its metadata).
 * - one document in `<prefix>_checkpoints`, id = the search collection's name: the offsets
 *   (`topic:partition` → next offset) the two collections reflect.
 * - the alias `<prefix>_search` → the search collection of the instance that serves. Readers in other
 *   processes (gateways) search through the alias (createTypesenseSearchQueries); a replay or a
 *   schema change builds another instance while the alias keeps pointing at the old one, then
 *   `promote` swaps it (one alias upsert: readers move atomically).
 *
 * Effectively once, without transactions: a batch is folded in memory, then written in this order,
 * each step awaited: (1) the documents upserted/deleted in the docs collection, (2) the search
 * collection's upserts and deletes, (3) the checkpoint document. A crash or a failed write before
 * (3) leaves the old checkpoint, so the batch is redelivered and applied again on top of whatever
 * part of it was written; that converges to the same documents because every write is an
 * idempotent upsert/delete of a whole document and the folding is convergent (evolveSearchDoc:
 * events set fields, never add or toggle). Writing the checkpoint FIRST would instead lose the
 * batch on a crash between the two (the checkpoint would say it was applied): at-most-once.
 * Between (1) and (3) readers may see part of a batch: a search result may lead its checkpoint,
 * never lag it.
 */
import pino from 'pino';
import { Errors, type Client, type CollectionFieldSchema } from 'typesense';
import type { DomainEvent } from '../../domain/events.ts';
import type { OffsetMap } from '../../platform/log/event-log.port.ts';
import type { ProjectionBatch, ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { CurrentInstanceStore, ReplayableProjection } from '../replay/replay.port.ts';
import {
  clampPageSize, decodeSearchCursor, encodeSearchCursor, evolveSearchDoc, isSearchable, queryHash, queryTerms, searchedVideoId, toHit,
  type SearchDoc,
} from './search-model.ts';
import { SearchIndexError, type SearchHit, type SearchQueries } from './search.port.ts';
import { SEARCH } from './search.projection.ts';

/**
 * Version of the collections' schema. Bump it when SEARCH_FIELDS or the document shape change:
 * instances name their collections with it, the replayable read model declares it as its content
 * version, so the projection manager rebuilds a new instance by replay into a shadow and swaps the
 * alias while the old one keeps serving.
 */
export const SEARCH_SCHEMA_VERSION = 1;

/** Fields of the search collection (v1). title ×2 like MiniSearch's boost (query_by_weights). */
const SEARCH_FIELDS: CollectionFieldSchema[] = [
  { name: 'videoId', type: 'string', sort: true }, // tie-break of equal scores, like MiniSearch's order
  { name: 'title', type: 'string' },
  { name: 'description', type: 'string' },
  { name: 'tags', type: 'string[]' },
  { name: 'publishedAt', type: 'int64' }, // ms; filtered by the cursor's search_timestamp_ms
];
/** Fields of the docs collection: only the id is filtered on (0.24 refuses an empty field list). */
const DOC_FIELDS: CollectionFieldSchema[] = [{ name: 'videoId', type: 'string' }];
const CHECKPOINT_FIELDS: CollectionFieldSchema[] = [{ name: 'readModel', type: 'string' }];

/**
 * Search parameters (Typesense 0.24 names). Typo tolerance: up to 2 typos per term, 1 from 4
 * characters, 2 from 7 ("dinosuar" → "Dinosaur"); the last term matches as a prefix ("noodl").
 */
const QUERY_PARAMS = {
  query_by: 'title,description,tags',
  query_by_weights: '2,1,1',
  num_typos: 2,
  min_len_1typo: 4,
  min_len_2typo: 7,
  prefix: true,
  sort_by: '_text_match:desc,videoId:asc',
  highlight_fields: 'title',
} as const;

/** Most documents one filter_by id list fetches (0.24's per_page limit is 250). */
const FETCH_CHUNK = 250;

export interface TypesenseSearchOptions {
  /** A client for the server (`new Typesense.Client({ nodes, apiKey })`), owned by the caller. */
  client: Client;
  /** HMAC-SHA256 key of search cursors (the same on every gateway and projector). */
  cursorSecret: string | Buffer;
  /** Prefix of collection and alias names, `[a-z0-9_]+`. Default `streamwave`. */
  prefix?: string;
  /** Wall clock for `search_timestamp_ms`, ms. Default Date.now. */
  now?: () => number;
  logger?: pino.Logger;
}

/** Names of one instance's collections and of the shared alias/checkpoint collection. */
export interface SearchCollections {
  /** `<prefix>_search`: the alias readers search through. */
  alias: string;
  /** `<prefix>_search_v<V>_<instance>`: searchable videos only; also the checkpoint document's id. */
  search: string;
  /** `<prefix>_search_docs_v<V>_<instance>`: every known video's document. */
  docs: string;
  /** `<prefix>_checkpoints`. */
  checkpoints: string;
  version: number;
}

const INSTANCE_RE = /^[A-Za-z0-9-]{1,64}$/;
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Collection names of `instanceId` under schema `version`.
 * @throws SearchIndexError SEARCH_INVALID_INSTANCE when the id is not 1..64 of `[A-Za-z0-9-]`.
 */
export function searchCollections(prefix: string, instanceId: string, version = SEARCH_SCHEMA_VERSION): SearchCollections {
  if (!INSTANCE_RE.test(instanceId)) throw new SearchIndexError('SEARCH_INVALID_INSTANCE', `instance id ${JSON.stringify(instanceId)} is not 1..64 of [A-Za-z0-9-]`);
  return {
    alias: `${prefix}_search`,
    search: `${prefix}_search_v${version}_${instanceId}`,
    docs: `${prefix}_search_docs_v${version}_${instanceId}`,
    checkpoints: `${prefix}_checkpoints`,
    version,
  };
}

/** `SEARCH_UNAVAILABLE` for transport errors and 5xx, `SEARCH_IO` for other refusals. */
function wrap(err: unknown, what: string): SearchIndexError {
  if (err instanceof SearchIndexError) return err;
  const status = (err as { httpStatus?: number }).httpStatus;
  const unavailable = status === undefined || status >= 500 || err instanceof Errors.ServerError;
  return new SearchIndexError(unavailable ? 'SEARCH_UNAVAILABLE' : 'SEARCH_IO', `typesense: ${what}: ${(err as Error).message ?? String(err)}`, err);
}

const isNotFound = (err: unknown) => err instanceof Errors.ObjectNotFound || (err as { httpStatus?: number }).httpStatus === 404;
const isConflict = (err: unknown) => err instanceof Errors.ObjectAlreadyExists || (err as { httpStatus?: number }).httpStatus === 409;

/** `id:[`a`,`b`]`; backticks quote ids containing filter syntax (0.24 has no escape for a backtick itself). */
const idFilter = (ids: string[]) => `id:[${ids.map((id) => `\`${id}\``).join(',')}]`;
const quotable = (id: string) => !id.includes('`');

const chunks = <T>(xs: T[], n: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
};

/** A stored document of either collection, as Typesense returns it (ids and nulls as written). */
type StoredDoc = SearchDoc & { id: string };

/** The hit of a stored document (fields Typesense drops, or older documents lack, default to null). */
const hitOf = (d: Partial<StoredDoc>): SearchHit => toHit({
  videoId: String(d.videoId), title: d.title ?? '', description: d.description ?? '', tags: Array.isArray(d.tags) ? d.tags : [],
  ownerId: d.ownerId ?? '', thumbnailKey: d.thumbnailKey ?? null, durationSeconds: d.durationSeconds ?? null, publishedAt: d.publishedAt ?? null,
  ready: true,
});

/** Creates collection `name` unless it exists. */
async function ensureCollection(client: Client, name: string, fields: CollectionFieldSchema[], extra: Record<string, unknown> = {}): Promise<void> {
  try {
    await client.collections().create({ name, fields, ...extra });
  } catch (err) {
    if (!isConflict(err)) throw wrap(err, `create collection ${name}`);
  }
}

/**
 * Searches `collection` (an alias or a collection) for `q`, one page of `pageSize` (1..100),
 * continuing `cursor`. Shared by the projection's own queries and the alias readers.
 */
async function searchPage(client: Client, collection: string, secret: string | Buffer, now: () => number, q: string, pageSize: number, cursor?: string) {
  const size = clampPageSize(pageSize);
  let searchTs = now();
  let offset = 0;
  let lastId: string | undefined;
  if (cursor !== undefined) {
    const c = decodeSearchCursor(cursor, q, secret);
    searchTs = c.search_timestamp_ms;
    offset = c.offset;
    lastId = c.last_video_id;
  }
  const terms = queryTerms(q);
  if (!terms.length) return { videos: [], nextCursor: null };
  const text = terms.join(' ');

  let found = 0;
  /** Hits [from, to) of the result set, fetched as one or two pages of `to - from` (≤ 250). */
  const range = async (from: number, to: number): Promise<Array<Partial<StoredDoc>>> => {
    const per = Math.max(1, to - from);
    const first = Math.floor(from / per) + 1;
    const pages = to > first * per ? [first, first + 1] : [first];
    const hits: Array<Partial<StoredDoc>> = [];
    for (const page of pages) {
      let res;
      try {
        res = await client.collections<StoredDoc>(collection).documents().search({
          ...QUERY_PARAMS, q: text, filter_by: `publishedAt:<=${Math.floor(searchTs)}`, page, per_page: per,
        });
      } catch (err) {
        if (isNotFound(err)) return []; // no instance has created the collection/alias yet: nothing is searchable
        throw wrap(err, `search ${collection}`);
      }
      found = res.found;
      hits.push(...(res.hits ?? []).map((h) => h.document));
    }
    const base = (first - 1) * per;
    return hits.slice(from - base, to - base);
  };

  // Continue right after the last video shown when it is still near where it was (results removed
  // before it shift it back); otherwise at the offset. Same rule as the MiniSearch projection.
  let from = lastId === undefined ? offset : Math.max(0, offset - size);
  let window = await range(from, offset + size);
  let start = offset;
  if (lastId !== undefined) {
    const i = window.findIndex((d) => d.videoId === lastId);
    if (i >= 0) start = from + i + 1;
  }
  if (start + size > from + window.length && from + window.length < found) {
    from = start;
    window = await range(start, start + size);
  }
  const page = window.slice(start - from, start - from + size);
  const end = start + page.length;
  const nextCursor = page.length && end < found
    ? encodeSearchCursor({ search_timestamp_ms: searchTs, last_video_id: String(page[page.length - 1].videoId), offset: end, query_hash: queryHash(q) }, secret)
    : null;
  return { videos: page.map(hitOf), nextCursor };
}

/** Reads the checkpoint document of search collection `search` (empty map when none). */
async function readCheckpoint(client: Client, checkpoints: string, search: string): Promise<OffsetMap> {
  try {
    const doc = await client.collections<{ id: string; offsets: string }>(checkpoints).documents(search).retrieve();
    return new Map(Object.entries(JSON.parse(doc.offsets) as Record<string, number>));
  } catch (err) {
    if (isNotFound(err)) return new Map();
    throw wrap(err, `read checkpoint ${search}`);
  }
}

/** The collection alias `alias` points at, or undefined. */
async function aliasTarget(client: Client, alias: string): Promise<string | undefined> {
  try {
    return (await client.aliases(alias).retrieve()).collection_name;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw wrap(err, `read alias ${alias}`);
  }
}

/** Existing instances: instance id → schema version of its search collection. */
async function listInstances(client: Client, prefix: string): Promise<Map<string, number>> {
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

/**
 * The search projection on Typesense, instance `instanceId` (default `primary`): a ProjectionNode
 * that applies video events (topic `videos`) to its collections (see the file comment for the
 * layout and why the write order makes it effectively once) and serves SearchQueries from its own
 * search collection.
 *
 * `ready()` creates the collections when missing (an instance found under an older schema version
 * is kept, and served, until a replay replaces it), reads the checkpoint, and points the alias at
 * this instance when no alias exists yet (the first instance ever).
 *
 * Errors: `apply` throws SearchIndexError (`SEARCH_UNAVAILABLE` when the server is down,
 * `SEARCH_IO` when it refuses a write; the runtime redelivers the batch); `search` throws
 * InvalidCursorError for a bad cursor and SearchIndexError when the server fails; `ready()`
 * rejects with SearchIndexError `SEARCH_SCHEMA` when the instance was written by a newer schema.
 */
export function createTypesenseSearchProjection(opts: TypesenseSearchOptions & { instanceId?: string }): ProjectionNode<SearchQueries> & { readonly collections: () => SearchCollections } {
  const { client } = opts;
  const prefix = opts.prefix ?? 'streamwave';
  const instanceId = opts.instanceId ?? 'primary';
  const logger = (opts.logger ?? pino({ level: 'silent' })).child({ engine: 'typesense', instanceId });
  const now = opts.now ?? Date.now;
  let names = searchCollections(prefix, instanceId);
  const checkpoint: OffsetMap = new Map();

  const loaded = (async () => {
    await ensureCollection(client, names.checkpoints, CHECKPOINT_FIELDS);
    const existing = (await listInstances(client, prefix)).get(instanceId);
    if (existing !== undefined && existing > SEARCH_SCHEMA_VERSION) {
      throw new SearchIndexError('SEARCH_SCHEMA', `instance ${instanceId} was built with search schema v${existing}; this StreamWave knows v${SEARCH_SCHEMA_VERSION}`);
    }
    if (existing !== undefined) names = searchCollections(prefix, instanceId, existing);
    await ensureCollection(client, names.docs, DOC_FIELDS);
    await ensureCollection(client, names.search, SEARCH_FIELDS, { default_sorting_field: 'publishedAt' });
    for (const [k, v] of await readCheckpoint(client, names.checkpoints, names.search)) checkpoint.set(k, v);
    if ((await aliasTarget(client, names.alias)) === undefined) {
      try {
        await client.aliases().upsert(names.alias, { collection_name: names.search });
      } catch (err) {
        throw wrap(err, `create alias ${names.alias}`);
      }
    }
    logger.info({ collection: names.search, checkpoint: Object.fromEntries(checkpoint) }, 'search (typesense): opened');
  })();
  loaded.catch(() => undefined); // surfaced by ready()/loadCheckpoint()/queries

  /** The stored documents of `ids` from the docs collection (absent ids: unknown or deleted videos). */
  async function fetchDocs(ids: string[]): Promise<Map<string, SearchDoc>> {
    const out = new Map<string, SearchDoc>();
    const docs = client.collections<StoredDoc>(names.docs).documents();
    const byFilter = ids.filter(quotable);
    for (const chunk of chunks(byFilter, FETCH_CHUNK)) {
      let res;
      try {
        res = await docs.search({ q: '*', filter_by: idFilter(chunk), per_page: chunk.length });
      } catch (err) {
        throw wrap(err, `read ${names.docs}`);
      }
      for (const h of res.hits ?? []) {
        const { id: _id, ...doc } = h.document;
        out.set(doc.videoId, doc);
      }
    }
    for (const id of ids.filter((i) => !quotable(i))) {
      try {
        const { id: _id, ...doc } = await client.collections<StoredDoc>(names.docs).documents(id).retrieve();
        out.set(doc.videoId, doc);
      } catch (err) {
        if (!isNotFound(err)) throw wrap(err, `read ${names.docs}/${id}`);
      }
    }
    return out;
  }

  /** Upserts `docs` into `collection` in one import; any refused document fails the batch. */
  async function upsert(collection: string, docs: object[]): Promise<void> {
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
  async function remove(collection: string, ids: string[]): Promise<void> {
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

  async function applyBatch(batch: ProjectionBatch): Promise<void> {
    await loaded;
    const events: DomainEvent[] = [];
    const ids = new Set<string>();
    for (const { event } of batch.records) {
      if (!event) continue;
      const id = searchedVideoId(event);
      if (id === undefined) continue;
      events.push(event);
      ids.add(id);
    }
    if (ids.size) {
      const before = await fetchDocs([...ids]);
      const after = new Map<string, SearchDoc | undefined>(before);
      for (const e of events) {
        const id = searchedVideoId(e)!;
        after.set(id, evolveSearchDoc(after.get(id), e));
      }
      const changed = [...after].filter(([id, d]) => d !== before.get(id));
      const kept = changed.filter((c): c is [string, SearchDoc] => c[1] !== undefined);
      const gone = changed.filter(([, d]) => d === undefined).map(([id]) => id);
      const searchable = kept.filter(([, d]) => isSearchable(d));
      const hidden = [...gone, ...kept.filter(([, d]) => !isSearchable(d)).map(([id]) => id)];
      // (1) every video's document, (2) the searchable set, (3) the checkpoint: see the file comment.
      await upsert(names.docs, kept.map(([id, d]) => ({ ...d, id })));
      await remove(names.docs, gone);
      await upsert(names.search, searchable.map(([id, d]) => ({ ...toHit(d), id, publishedAt: d.publishedAt ?? 0 })));
      await remove(names.search, hidden);
    }
    const next = new Map(checkpoint);
    for (const [k, v] of batch.checkpoint) next.set(k, v);
    try {
      await client.collections(names.checkpoints).documents().upsert({
        id: names.search, readModel: SEARCH, schemaVersion: names.version, offsets: JSON.stringify(Object.fromEntries(next)), updatedAt: Date.now(),
      });
    } catch (err) {
      throw wrap(err, 'write checkpoint');
    }
    for (const [k, v] of next) checkpoint.set(k, v);
  }

  const queries: SearchQueries = {
    async search(q, pageSize, cursor) {
      await loaded;
      return searchPage(client, names.search, opts.cursorSecret, now, q, pageSize, cursor);
    },
  };

  return {
    kind: 'projection',
    name: SEARCH,
    inputs: [TOPICS.videos],
    guarantee: 'effectively-once',
    output: `Typesense collections ${names.search}, ${names.docs}`,
    queries,
    collections: () => ({ ...names }),
    loadCheckpoint: async () => { await loaded; return new Map(checkpoint); },
    apply: applyBatch,
    ready: () => loaded,
    async close() { /* the client is the caller's; every batch is durable when apply resolves */ },
  };
}

/**
 * SearchQueries through the alias `<prefix>_search`: what a gateway in another process uses.
 * `checkpoint()` is the checkpoint of the collection the alias points at now (read-your-writes:
 * wait until it passes the positions of the writes). Before any instance exists, searches return
 * nothing and the checkpoint is empty.
 * @throws (search) InvalidCursorError, SearchIndexError SEARCH_UNAVAILABLE / SEARCH_IO.
 */
export function createTypesenseSearchQueries(opts: TypesenseSearchOptions): SearchQueries & { checkpoint(): Promise<OffsetMap> } {
  const prefix = opts.prefix ?? 'streamwave';
  const alias = `${prefix}_search`;
  const now = opts.now ?? Date.now;
  return {
    search: (q, pageSize, cursor) => searchPage(opts.client, alias, opts.cursorSecret, now, q, pageSize, cursor),
    async checkpoint() {
      const target = await aliasTarget(opts.client, alias);
      return target === undefined ? new Map() : readCheckpoint(opts.client, `${prefix}_checkpoints`, target);
    },
  };
}

/**
 * The search read model on Typesense as the projection manager replays it
 * (projections/replay): each instance is a pair of collections (see createTypesenseSearchProjection),
 * `contentVersion` is the schema version, so an instance built under another schema keeps serving
 * while the manager rebuilds a shadow under this one.
 *
 * `promote(instanceId)` points the alias at the instance (readers in other processes follow it
 * atomically); `servingInstance()` says which instance the alias points at. Wire `promote` into the
 * manager's swap with aliasSwappingPointers, so that the alias follows the current-instance pointer.
 * `destroy` refuses (SearchIndexError SEARCH_IN_USE) to delete the instance the alias points at.
 */
export function typesenseSearchReadModel(opts: TypesenseSearchOptions): ReplayableProjection<SearchQueries> & {
  promote(instanceId: string): Promise<void>;
  servingInstance(): Promise<string | undefined>;
} {
  const prefix = opts.prefix ?? 'streamwave';
  const { client } = opts;
  const alias = `${prefix}_search`;
  const instanceOf = (collection: string | undefined) => {
    if (collection === undefined) return undefined;
    return new RegExp(`^${escapeRe(prefix)}_search_v\\d+_([A-Za-z0-9-]+)$`).exec(collection)?.[1];
  };
  return {
    name: SEARCH,
    contentVersion: `typesense-search-schema/v${SEARCH_SCHEMA_VERSION}`,
    async open(instanceId) {
      const node = createTypesenseSearchProjection({ ...opts, instanceId });
      await node.ready!();
      return node;
    },
    async destroy(instanceId) {
      const version = (await listInstances(client, prefix)).get(instanceId);
      if (version === undefined) return;
      const names = searchCollections(prefix, instanceId, version);
      if ((await aliasTarget(client, alias)) === names.search) {
        throw new SearchIndexError('SEARCH_IN_USE', `instance ${instanceId} serves the alias ${alias}: promote another instance first`);
      }
      for (const c of [names.search, names.docs]) {
        try {
          await client.collections(c).delete();
        } catch (err) {
          if (!isNotFound(err)) throw wrap(err, `delete collection ${c}`);
        }
      }
      try {
        await client.collections(names.checkpoints).documents(names.search).delete();
      } catch (err) {
        if (!isNotFound(err)) throw wrap(err, `delete checkpoint ${names.search}`);
      }
    },
    async instances() {
      return [...(await listInstances(client, prefix)).keys()];
    },
    async promote(instanceId) {
      const version = (await listInstances(client, prefix)).get(instanceId);
      if (version === undefined) throw new SearchIndexError('SEARCH_IO', `instance ${instanceId} has no collections to promote`);
      try {
        await client.aliases().upsert(alias, { collection_name: searchCollections(prefix, instanceId, version).search });
      } catch (err) {
        throw wrap(err, `swap alias ${alias}`);
      }
    },
    servingInstance: async () => instanceOf(await aliasTarget(client, alias)),
  };
}

/**
 * A CurrentInstanceStore (the projection manager's "which instance serves" pointer) that moves the
 * Typesense alias with the search read model's pointer: `save` writes the pointer, then promotes
 * the instance; `load` re-promotes the pointer's instance when the alias lags it (a crash between
 * the two writes), before the manager deletes instances that are not current. Pointer first: a
 * crash after it leaves the new instance current for the projector and, after `load`, for readers;
 * alias first would let readers use an instance the manager may still delete as an orphan.
 * Other read models' pointers pass through unchanged.
 */
export function aliasSwappingPointers(inner: CurrentInstanceStore, search: Pick<ReturnType<typeof typesenseSearchReadModel>, 'promote' | 'servingInstance' | 'instances'>): CurrentInstanceStore {
  return {
    async load(name) {
      const ptr = await inner.load(name);
      if (name === SEARCH && ptr && (await search.servingInstance()) !== ptr.instanceId && (await search.instances!()).includes(ptr.instanceId)) {
        await search.promote(ptr.instanceId);
      }
      return ptr;
    },
    async save(name, current) {
      await inner.save(name, current);
      if (name === SEARCH) await search.promote(current.instanceId);
    },
  };
}
