/**
 * The search read model on a Typesense server (cluster mode), through the `typesense` npm client
 * (3.x). Tested against Typesense 0.24.1 and uses only what 0.24 serves: collections, aliases,
 * `documents/import?action=upsert`, delete by `filter_by`, `filter_by` on `id`, `page`/`per_page`
 * paging (0.24 ignores `offset`/`limit`), sorting on a string field, numeric range and string
 * `:=` filters, facets on a string[] (issue 14's filters, sort=date and tag facets:
 * typesense-search-query.ts, which also says why owner ids and tags are stored hex-encoded).
 *
 * Same behaviour as the MiniSearch projection (search.projection.ts), checked by the same contract
 * suite (search.contract.ts); the event folding, the searchable rule, query normalisation and the
 * signed cursor come from search-model.ts, so only storage and ranking differ.
 *
 * Storage, per instance (the live one, `primary`, or a replay shadow `replay-<ts>`) and per schema
 * version V (SEARCH_SCHEMA_VERSION):
 * - `<prefix>_search_v<V>_<instance>`: ONLY the searchable videos (ready and public): title,
 *   description and tags indexed, publishedAt, durationSeconds, the owner and the tag keys
 *   filterable (SEARCH_FIELDS), the rest of the hit stored. A video that becomes unlisted or
 *   private, or is deleted, is deleted from it, so no query (not even one that forgets a filter, or
 *   a scoped search key) can find it.
 * - `<prefix>_search_docs_v<V>_<instance>`: every known video's document (search-model.ts
 *   SearchDoc), searchable or not, nothing indexed but the id: what the next event of a video is
 *   folded into (VideoPublished needs the title UploadStarted carried; a video made public again
 *   needs its metadata).
 * - in `<prefix>_checkpoints`, one document per input partition, id
 *   `<search collection>@<topic>:<partition>`: the next offset the two collections reflect.
 *   Per partition because in cluster mode every projector runs the same instance, each owning
 *   some partitions, and writes only those (one shared document written whole by each lost the
 *   others' progress). Earlier versions wrote one whole-map document, id = the search
 *   collection's name; it is still read (the highest offset wins), never written.
 * - the alias `<prefix>_search` → the search collection of the instance that serves. Readers in other
 *   processes (gateways) search through the alias (createTypesenseSearchQueries); a replay or a
 *   schema change builds another instance while the alias keeps pointing at the old one, then
 *   `promote` swaps it (one alias upsert: readers move atomically).
 *
 * Effectively once, without transactions: a batch is folded in memory, then written in this order,
 * each step awaited: (1) the documents upserted/deleted in the docs collection, (2) the search
 * collection's upserts and deletes, (3) the batch's checkpoint document. A crash or a failed write
 * before (3) leaves the old checkpoint, so the batch is redelivered and applied again on top of
 * whatever part of it was written; that converges to the same documents because the folding is
 * convergent (evolveSearchDoc: events set fields, never add or toggle, so folding the batch into
 * the pre- or the post-batch document gives the post-batch document), and every video the batch
 * touches is then written whole in that final state (an idempotent upsert or delete in both
 * collections, whether or not this attempt saw a change). Writing the checkpoint FIRST would
 * instead lose the batch on a crash between the two (the checkpoint would say it was applied):
 * at-most-once. Between (1) and (3) readers may see part of a batch: a search result may lead its
 * checkpoint, never lag it. The one exception to "the checkpoint with the batch": a batch that
 * changed no document (views only) holds its checkpoint back for up to idleCheckpointIntervalMs
 * (applied again, it changes nothing either); a failed held-back write is logged and retried with
 * the next such batch.
 */
import pino from 'pino';
import type { Client } from 'typesense';
import type { DomainEvent } from '../../domain/events.ts';
import type { OffsetMap } from '../../platform/log/event-log.port.ts';
import type { ProjectionBatch, ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { PRIMARY_INSTANCE as PRIMARY, type CurrentInstanceStore, type ReplayableProjection } from '../replay/replay.port.ts';
import { evolveSearchDoc, isSearchable, searchedVideoId, type SearchDoc } from './search-model.ts';
import { SearchIndexError, type SearchQueries, type ViewCountSource } from './search.port.ts';
import { createViewCountFeed } from './view-count-feed.ts';
import { SEARCH, SEARCH_FETCH_WAIT_MS } from './search.projection.ts';
import { scrubTypesenseRaftLog } from './typesense-raft-scrub.ts';
import { searchFields } from './typesense-search-query.ts';
import { debouncedTask } from '../stores/debounced-task.ts';
import {
  aliasTarget, CHECKPOINT_FIELDS, DOC_FIELDS, ensureCollection, escapeRe, fetchDocs, isNotFound, listIds, listInstances, removeDocs, setViews,
  SEARCH_FIELDS, SEARCH_SCHEMA_VERSION, searchCollections, searchPage, upsertDocs, wrap, type SearchCollections,
} from './typesense-search-store.ts';
import { deleteCheckpoint, readCheckpoint, writeCheckpoint } from './typesense-search-checkpoint.ts';

export { SEARCH_SCHEMA_VERSION, searchCollections, type SearchCollections } from './typesense-search-store.ts';

export interface TypesenseSearchOptions {
  /** A client for the server (`new Typesense.Client({ nodes, apiKey })`), owned by the caller. */
  client: Client;
  /** HMAC-SHA256 key of search cursors (the same on every gateway and projector). */
  cursorSecret: string | Buffer;
  /** Prefix of collection and alias names, 1..64 of `[A-Za-z0-9_]`. Default `streamwave`. */
  prefix?: string;
  /** Wall clock for `search_timestamp_ms`, ms. Default Date.now. */
  now?: () => number;
  /** Least time between two Raft-log scrubs after deletions (typesense-raft-scrub.ts), ms. Default 60 000. */
  raftScrubIntervalMs?: number;
  /** Video detail's view counts, fed into both collections in batches for sort=views (view-count-feed.ts). Absent: views stay 0. */
  viewCounts?: ViewCountSource;
  /** Least time between two view count feeds, ms. Default 2000. */
  viewsFeedIntervalMs?: number;
  /**
   * Least time between two checkpoint writes of batches that change no document (nearly all are
   * views only, which reach the collections through the view count feed instead), ms. Default
   * 1000; 0 writes every batch's checkpoint before `apply` resolves. Such a batch applied again
   * after a crash changes nothing either, so holding its checkpoint back loses nothing; it saves
   * Typesense a write per views batch (the gateway never waits for search at a views position).
   */
  idleCheckpointIntervalMs?: number;
  logger?: pino.Logger;
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
 * InvalidCursorError for a bad cursor and SearchIndexError when the server fails (searchPage in
 * typesense-search-store.ts: SEARCH_UNAVAILABLE too for filters, sort=date or facets on an
 * instance of an older schema); `ready()`
 * rejects with SearchIndexError `SEARCH_SCHEMA` when the instance was written by a newer schema.
 */
export function createTypesenseSearchProjection(opts: TypesenseSearchOptions & { instanceId?: string }): ProjectionNode<SearchQueries> & { readonly collections: () => SearchCollections } {
  const { client } = opts;
  const prefix = opts.prefix ?? 'streamwave';
  const instanceId = opts.instanceId ?? PRIMARY;
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
  // A deleted video's text stays in Typesense's Raft log until it is scrubbed (issue 13).
  const scrub = debouncedTask(() => scrubTypesenseRaftLog(client, prefix), opts.raftScrubIntervalMs ?? 60_000, logger, 'Typesense Raft-log scrub after a deletion');

  /**
   * Batches and view count feeds one at a time: a batch reads documents, folds and writes them
   * whole, so a feed written in between would be overwritten with the count it read.
   */
  let turn: Promise<unknown> = Promise.resolve();
  let closed = false;
  const exclusive = <T>(task: () => Promise<T>): Promise<T> => {
    const run = turn.then(task, task);
    turn = run.catch(() => undefined);
    return run;
  };
  const viewsFeed = opts.viewCounts && createViewCountFeed({
    source: opts.viewCounts,
    intervalMs: opts.viewsFeedIntervalMs,
    logger,
    // Both collections: the docs collection's count is what the next upsert of the video carries.
    write: (counts) => exclusive(async () => {
      if (closed) return; // a late feed must not write into a closed (maybe retired) instance
      await setViews(client, names.docs, counts);
      await setViews(client, names.search, counts);
    }),
  });
  // Counts are not in the checkpoint: read every known video's after a (re)start.
  void loaded.then(async () => viewsFeed?.refresh(await listIds(client, names.docs)))
    .catch((err: unknown) => logger.error({ err }, 'search (typesense): view counts not refreshed after start; they follow the next views'));

  /**
   * Checkpoint entries of batches that changed no document, not written yet
   * (idleCheckpointIntervalMs). Only partitions of the current assignment are kept: a partition's
   * held-back entry written after another projector took it over would set that one's newer
   * checkpoint back. For the same reason they are dropped, not written, on close (which comes
   * after the runtime left the group): the next owner applies those batches again, which changes
   * nothing.
   */
  const idle: OffsetMap = new Map();
  /** `topic:partition` of the current assignment; undefined until the first (a node run without a group owns all). */
  let owned: ReadonlySet<string> | undefined;
  const writeIdle = async () => {
    if (closed || !idle.size) return; // closed: the instance may be retired, its checkpoint deleted
    const entries = new Map(idle);
    await writeCheckpoint(client, names.checkpoints, names.search, { readModel: SEARCH, schemaVersion: names.version }, entries);
    for (const [k, v] of entries) if (idle.get(k) === v) idle.delete(k);
  };
  const idleInterval = opts.idleCheckpointIntervalMs ?? 1000;
  const idleCheckpoints = debouncedTask(() => exclusive(writeIdle), idleInterval, logger, 'search (typesense): checkpoint of batches that changed nothing');

  const applyBatch = (batch: ProjectionBatch) => exclusive(() => applyBatchNow(batch));
  async function applyBatchNow(batch: ProjectionBatch): Promise<void> {
    await loaded;
    const events: DomainEvent[] = [];
    const ids = new Set<string>();
    for (const { event } of batch.records) {
      if (!event) continue;
      if (event.type === 'VideoViewed') {
        viewsFeed?.viewed(event.data.videoId); // read and written by the feed, in batches
        continue;
      }
      const id = searchedVideoId(event);
      if (id === undefined) continue;
      events.push(event);
      ids.add(id);
    }
    if (ids.size) {
      const before = await fetchDocs(client, names.docs, [...ids]);
      const after = new Map<string, SearchDoc | undefined>(before);
      for (const e of events) {
        const id = searchedVideoId(e)!;
        after.set(id, evolveSearchDoc(after.get(id), e));
      }
      // Every video the batch touches is written in its final state, changed or not: a redelivery
      // must also finish writes a failed attempt left undone (e.g. the docs collection already
      // without a deleted video while the search collection still has it).
      const kept = [...after].filter((c): c is [string, SearchDoc] => c[1] !== undefined);
      const gone = [...after].filter(([, d]) => d === undefined).map(([id]) => id);
      const searchable = kept.filter(([, d]) => isSearchable(d));
      const hidden = [...gone, ...kept.filter(([, d]) => !isSearchable(d)).map(([id]) => id)];
      // (1) every video's document, (2) the searchable set, (3) the checkpoint: see the file comment.
      await upsertDocs(client, names.docs, kept.map(([id, d]) => ({ ...d, id })));
      await removeDocs(client, names.docs, gone);
      await upsertDocs(client, names.search, searchable.map(([id, d]) => ({ ...searchFields(d), id })));
      await removeDocs(client, names.search, hidden);
      // Written whole with the count read before: another projector's feed may have set a newer
      // one in between (the exclusive chain is per process), so these counts are read again.
      for (const [id] of kept) viewsFeed?.viewed(id);
      if (gone.length) scrub.request();
    }
    if (!ids.size && idleInterval > 0) {
      for (const [k, v] of batch.checkpoint) {
        if (!owned || owned.has(k)) idle.set(k, v); // a batch of a partition revoked while it ran: not ours to write
        checkpoint.set(k, v);
      }
      idleCheckpoints.request();
      return;
    }
    // Only this batch's partitions (another projector may own the others: writeCheckpoint); it
    // supersedes an entry of its partition still held back.
    await writeCheckpoint(client, names.checkpoints, names.search, { readModel: SEARCH, schemaVersion: names.version }, batch.checkpoint);
    for (const [k, v] of batch.checkpoint) {
      checkpoint.set(k, v);
      idle.delete(k);
    }
  }

  const queries: SearchQueries = {
    async search(q, pageSize, cursor, options) {
      await loaded;
      return searchPage(client, names.search, opts.cursorSecret, now, q, pageSize, cursor, options);
    },
  };

  return {
    kind: 'projection',
    name: SEARCH,
    // views: only which videos were viewed, for the view count feed (sort=views).
    inputs: [TOPICS.videos, TOPICS.views],
    fetchMaxWaitMs: SEARCH_FETCH_WAIT_MS,
    guarantee: 'effectively-once',
    output: `Typesense collections ${names.search}, ${names.docs}`,
    queries,
    collections: () => ({ ...names }),
    loadCheckpoint: async () => { await loaded; return new Map(checkpoint); },
    // Partitions another projector owned until now: resume from what it stored, not from what this
    // one read when it opened (the highest wins: offsets only grow).
    async onAssigned(partitions) {
      owned = new Set(partitions.map((tp) => `${tp.topic}:${tp.partition}`));
      for (const k of idle.keys()) if (!owned.has(k)) idle.delete(k);
      await loaded;
      for (const [k, v] of await readCheckpoint(client, names.checkpoints, names.search)) checkpoint.set(k, Math.max(checkpoint.get(k) ?? 0, v));
    },
    apply: applyBatch,
    ready: () => loaded,
    // The client is the caller's; every batch that changed a document is durable when apply
    // resolves; checkpoints held back are dropped (see `idle`); a pending scrub runs now.
    async close() {
      closed = true;
      idle.clear();
      await viewsFeed?.close();
      await turn; // a batch or a feed write in flight finishes first
      await scrub.flush();
    },
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
  const { alias, checkpoints } = searchCollections(prefix, PRIMARY); // validates the prefix
  const now = opts.now ?? Date.now;
  return {
    search: (q, pageSize, cursor, options) => searchPage(opts.client, alias, opts.cursorSecret, now, q, pageSize, cursor, options),
    async checkpoint() {
      const target = await aliasTarget(opts.client, alias);
      return target === undefined ? new Map() : readCheckpoint(opts.client, checkpoints, target);
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
  const { alias } = searchCollections(prefix, PRIMARY); // validates the prefix
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
      await deleteCheckpoint(client, names.checkpoints, names.search);
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
