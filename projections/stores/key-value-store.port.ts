import type { OffsetMap } from '../../platform/log/event-log.port.ts';

/**
 * KeyValueStore: the store behind key-value read models (embedded journal+snapshot in standalone
 * mode, Redis in cluster mode). Values are JSON documents under string keys; keys are ordered by
 * UTF-16 code unit (JS `<`), which for the ASCII keys the projections use equals Redis' byte order
 * (ZRANGEBYLEX over a sorted set of keys). Every write goes through `commit`, which stores the
 * batch's ops AND the projection's checkpoint atomically (Redis: one MULTI/EXEC), so a read model
 * never has state without the matching checkpoint or vice versa.
 */

/** A JSON document. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export type KeyValueOp =
  | { op: 'put'; key: string; value: JsonValue }
  | { op: 'delete'; key: string };

export interface ScanOptions {
  /** Exclusive start key, in scan direction (i.e. keys strictly before it when `reverse`). */
  after?: string;
  /** Max entries returned (≥ 1). */
  limit: number;
  /** Descending key order. Default false. */
  reverse?: boolean;
}

export interface KeyValueEntry<T = JsonValue> {
  key: string;
  value: T;
}

export interface KeyValueStore {
  get<T = JsonValue>(key: string): Promise<T | undefined>;
  /** Same order as `keys`; `undefined` for a missing key. */
  getMany<T = JsonValue>(keys: string[]): Promise<(T | undefined)[]>;
  /**
   * The stored JSON text of each key, unparsed (same order as `keys`; `undefined` for a missing
   * key), in one round trip: for a hot read that memoises what it derives from the text
   * (video-detail's `getVideo`) and so parses only when the text changed.
   */
  getManyJson(keys: string[]): Promise<(string | undefined)[]>;
  /** Entries whose key starts with `prefix`, ordered by key. */
  scan<T = JsonValue>(prefix: string, options: ScanOptions): Promise<KeyValueEntry<T>[]>;
  /**
   * Applies `ops` in order and merges `checkpoint` into the stored checkpoint (per
   * `topic:partition`, the offset of the next record to read), all-or-nothing and durable when
   * the promise resolves (or, for a store told so, at its next sync: the embedded store's
   * `syncIntervalMs`; state and checkpoint are then lost or kept together). Commits are applied
   * in call order.
   * @throws KeyValueStoreError `STORE_CLOSED` after close, `STORE_IO` when the write fails (state unchanged).
   */
  commit(ops: KeyValueOp[], checkpoint: OffsetMap): Promise<void>;
  /** The stored checkpoint (a copy). */
  checkpoint(): Promise<OffsetMap>;
  /**
   * Rewrites the store so that no file keeps the bytes of deleted or overwritten values (the
   * embedded store's journal, Redis' append-only file: both hold every value ever written until
   * compacted). Asked for after batches that erased a user or deleted a video (issue 13;
   * key-value-projection.ts). May finish after it resolves (Redis rewrites in the background).
   */
  compact?(): Promise<void>;
  close(): Promise<void>;
}

export class KeyValueStoreError extends Error {
  constructor(
    /** `STORE_CLOSED`, `STORE_IO`, `STORE_CORRUPT` (snapshot unreadable), `INVALID_KEY`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'KeyValueStoreError';
  }
}

/**
 * A stored value's JSON text, parsed. `where` names the reader in the message (a store, a read model).
 * @throws KeyValueStoreError STORE_CORRUPT when it is not JSON (written by something else).
 */
export function parseStoredJson<T>(where: string, key: string, json: string): T {
  try {
    return JSON.parse(json) as T;
  } catch (err) {
    throw new KeyValueStoreError('STORE_CORRUPT', `${where}: the value of ${JSON.stringify(key)} is not JSON (${(err as Error).message})`);
  }
}
