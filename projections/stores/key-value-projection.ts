/**
 * A projection node over a KeyValueStore, the part the key-value read models (video detail,
 * comments, user accounts, watch history) share: each batch is applied through a read-through
 * write buffer and committed as ONE `store.commit(ops, checkpoint)`, so state and checkpoint never
 * part. The store also records the read model's layout (`meta:layout`), so that a store written
 * by another layout of the read model is recognised and rebuilt instead of misread
 * (see `holdsOtherLayout`).
 */
import { debouncedTask } from './debounced-task.ts';
import pino from 'pino';
import type { DomainEvent } from '../../domain/events.ts';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import type { ProjectionBatch, ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { KeyValueStoreError, parseStoredJson, type JsonValue, type KeyValueOp, type KeyValueStore } from './key-value-store.port.ts';

/** Key under which a key-value read model records its layout (`<name>/<version>`). */
const LAYOUT_KEY = 'meta:layout';

/** Read-through write buffer over the store for one batch: reads see the batch's own writes. */
export interface KeyValueBatch {
  get<T>(key: string): Promise<T | undefined>;
  /**
   * Keys starting with `prefix` as this batch would leave them (committed keys minus the batch's
   * deletes, plus its puts), in key order, at most `limit` (default 100,000).
   */
  keys(prefix: string, limit?: number): Promise<string[]>;
  put(key: string, value: unknown): void;
  del(key: string): void;
}

export interface KeyValueProjectionOptions<Q> {
  /** Stable read-model name (`video-detail`, …). */
  name: string;
  /** Layout version of the keys and values; bump it when they change so older stores are rebuilt. */
  layoutVersion: number;
  inputs: readonly string[];
  store: KeyValueStore;
  queries: Q;
  /**
   * Applies one event to the batch. Throwing a KeyValueStoreError redelivers the batch; any other
   * error (a malformed event) is logged and the rest of the batch applies, so one bad event never
   * wedges the partition.
   */
  applyEvent(tx: KeyValueBatch, event: DomainEvent, record: LogRecord): Promise<void>;
  /**
   * Keys `applyEvent` will read for `event`, if it knows them up front: a batch reads the keys of
   * all its events in ONE `getManyJson` before it applies them, instead of one round trip per
   * event (a batch of heartbeats reads one playback session each: about 160 sequential Redis GETs
   * per batch in the freshness benchmark). Listing a key that is then not read costs nothing but
   * its bytes; a key not listed is read when asked, as before. The keys must be valid store keys:
   * the prefetch reads them outside the per-event error handling, so a key the store rejects
   * fails the batch (redelivered) rather than skipping the event; throw from `readsOf` instead.
   */
  readsOf?(event: DomainEvent): readonly string[];
  /** The node's `fetchMaxWaitMs` (topology.port.ts): for a read model no request reads its own writes from. */
  fetchMaxWaitMs?: number;
  /** Least time between two store compactions after UserErased/VideoDeleted, ms (default 5 000). */
  compactIntervalMs?: number;
  logger?: pino.Logger;
}

/** `<name>/<layoutVersion>`, the value stored under LAYOUT_KEY. */
export const layoutOf = (o: Pick<KeyValueProjectionOptions<unknown>, 'name' | 'layoutVersion'>): string => `${o.name}/${o.layoutVersion}`;

/**
 * True when `store` holds state of another layout of the read model: it has consumed records (a
 * non-empty checkpoint) and its recorded layout differs (or it records none). Such a store is
 * deleted and rebuilt from offset 0 by whoever opens it (deploy/), since a read model can always
 * be rebuilt from the log.
 */
export async function holdsOtherLayout(store: KeyValueStore, layout: string): Promise<boolean> {
  if ((await store.checkpoint()).size === 0) return false;
  return (await store.get<string>(LAYOUT_KEY)) !== layout;
}

/** The projection node of a key-value read model (see the file comment). */
export function createKeyValueProjection<Q>(opts: KeyValueProjectionOptions<Q>): ProjectionNode<Q> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const { store } = opts;
  const layout = layoutOf(opts);
  let layoutRecorded: boolean | undefined;

  /** The keys `opts.readsOf` lists for `event`; none when it throws (a malformed event: `applyEvent` then logs it and skips it). */
  const readsOf = (event: DomainEvent | undefined): readonly string[] => {
    if (!event || !opts.readsOf) return [];
    try { return opts.readsOf(event); } catch { return []; }
  };

  async function apply(batch: ProjectionBatch): Promise<void> {
    const tx = createBatch(store, `key-value read model ${opts.name}`);
    layoutRecorded ??= (await store.get<string>(LAYOUT_KEY)) === layout;
    if (!layoutRecorded) tx.put(LAYOUT_KEY, layout);
    if (opts.readsOf) await tx.prefetch(batch.records.flatMap(({ event }) => readsOf(event)));
    for (const { record, event } of batch.records) {
      if (!event) continue;
      try {
        await opts.applyEvent(tx, event, record);
      } catch (err) {
        if (err instanceof KeyValueStoreError) throw err;
        logger.error({ err, projection: opts.name, topic: record.topic, partition: record.partition, offset: record.offset, type: event.type }, 'event not applied');
      }
    }
    await store.commit(tx.ops(), batch.checkpoint);
    layoutRecorded = true;
    if (store.compact && batch.records.some((r) => r.event !== undefined && FORGETTING.has(r.event.type))) compaction.request();
  }

  // After batches that forgot personal data, no file of the store may keep the old values (issue 13).
  const compaction = debouncedTask(async () => { await store.compact?.(); }, opts.compactIntervalMs ?? COMPACT_INTERVAL_MS, logger.child({ projection: opts.name }), 'store compaction after an erasure');
  return {
    kind: 'projection',
    name: opts.name,
    inputs: opts.inputs,
    guarantee: 'effectively-once',
    output: `key-value store (layout ${layout})`,
    queries: opts.queries,
    fetchMaxWaitMs: opts.fetchMaxWaitMs,
    loadCheckpoint: () => store.checkpoint(),
    apply,
    close: async () => {
      await compaction.flush();
      await store.close();
    },
  };
}

/** Events after which a store must not keep old copies of values in its files (issue 13). */
const FORGETTING: ReadonlySet<string> = new Set(['UserErased', 'VideoDeleted']);
/** Least time between two compactions a projection asks for, ms. */
const COMPACT_INTERVAL_MS = 5_000;

/**
 * The batch's read-through write buffer. Reads go through `getManyJson` and keep the text they
 * got, so a key read twice in a batch costs one round trip, and each `get` of a key the batch has
 * not written parses its own copy (a caller may change what it got without putting it back); a
 * key the batch put reads as the value put (the same object).
 * @param where the read model, for STORE_CORRUPT messages
 */
function createBatch(store: KeyValueStore, where: string): KeyValueBatch & { ops(): KeyValueOp[]; prefetch(keys: readonly string[]): Promise<void> } {
  const pending = new Map<string, { value: JsonValue } | null>();
  /** Stored text of keys read in this batch (`undefined`: not stored). */
  const read = new Map<string, string | undefined>();
  const readStored = async (keys: string[]) => {
    const texts = await store.getManyJson(keys);
    keys.forEach((k, i) => read.set(k, texts[i]));
  };
  return {
    async get<T>(key: string) {
      const p = pending.get(key);
      if (p === null) return undefined;
      if (p) return p.value as T;
      if (!read.has(key)) await readStored([key]);
      const text = read.get(key);
      return text === undefined ? undefined : parseStoredJson<T>(where, key, text);
    },
    async prefetch(keys) {
      const missing = [...new Set(keys)].filter((k) => !pending.has(k) && !read.has(k));
      if (missing.length > 0) await readStored(missing);
    },
    async keys(prefix, limit = 100_000) {
      const out = new Set<string>();
      const pageSize = Math.min(limit, 10_000);
      // Committed keys, skipping the batch's deletes (scanning on past them), up to `limit`.
      for (let after: string | undefined; ;) {
        const page = await store.scan(prefix, { limit: pageSize, after });
        for (const e of page) if (pending.get(e.key) !== null) out.add(e.key);
        if (page.length < pageSize || out.size >= limit) break;
        after = page[page.length - 1].key;
      }
      for (const [key, p] of pending) if (p && key.startsWith(prefix)) out.add(key);
      return [...out].sort().slice(0, limit);
    },
    put(key, value) { pending.set(key, { value: value as JsonValue }); },
    del(key) { pending.set(key, null); },
    ops() {
      return [...pending].map(([key, p]): KeyValueOp => (p ? { op: 'put', key, value: p.value } : { op: 'delete', key }));
    },
  };
}

/**
 * A key-value store holding `layout` or nothing yet: a store written by another layout of its read
 * model (an upgrade that changed the layout) is wiped and opened empty, so the read model is
 * rebuilt from offset 0 (read models are disposable; the log is the record).
 * @param where the store's location, for the log line
 */
export async function openKeyValueStoreOfLayout(o: {
  open: () => Promise<KeyValueStore>;
  wipe: () => Promise<void>;
  layout: string;
  where: string;
  logger: Pick<pino.Logger, 'warn'>;
}): Promise<KeyValueStore> {
  const store = await o.open();
  if (!(await holdsOtherLayout(store, o.layout))) return store;
  await store.close();
  o.logger.warn({ store: o.where, layout: o.layout }, 'read model store was written by another layout: deleting it and rebuilding from offset 0');
  await o.wipe();
  return o.open();
}
