/**
 * DataKeyStore: the per-subject data keys of crypto-shredding (issue 13,
 * docs/adr/0009-data-keys-outside-the-log.md).
 *
 * The personal fields of an event are encrypted with AES-256-GCM under a data key of their
 * subject (a user). The log itself is immutable, kept forever, replayed and backed up, so the
 * personal data in it can never be deleted; deleting the subject's key instead makes every
 * ciphertext of that subject unreadable for good, in the log, its replicas and its backups alike.
 * That is how StreamWave honours the right to erasure (GDPR art. 17, "crypto-shredding").
 *
 * Keys therefore never go into the log: they live in this store, which can really delete. An
 * erasure is permanent: the store keeps a tombstone per erased subject and never creates a key for
 * it again (a new key would make new personal data of an erased user readable, and its absence is
 * what readers render as "erased").
 *
 * Adapters: `createEmbeddedDataKeyStore` (standalone: one file per subject) and
 * `createRedisDataKeyStore` (cluster: Redis with AOF persistence, cache eviction over pub/sub).
 * Both pass `dataKeyStoreContract` (data-key-store.contract.ts).
 */

/** Length of a data key in bytes: an AES-256 key. */
export const DATA_KEY_BYTES = 32;

/**
 * What a subject may look like: 1 to 128 characters of `A-Z a-z 0-9 _ . : -` (a user id, or a
 * namespaced id such as `user:01J…`). The set is safe as a file name and inside a Redis hash tag.
 */
export const SUBJECT_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

export interface DataKeyStore {
  /**
   * The subject's data key: 32 random bytes (`crypto.randomBytes`) for AES-256-GCM. The first call
   * for a subject creates the key and stores it durably before it resolves; every later call, in
   * this instance or any other on the same storage (every process, for the Redis adapter), returns
   * the same bytes, also when several calls race to create it. The returned Buffer is the caller's
   * own copy.
   * @throws DataKeyError `KEY_ERASED` when the subject was erased: a new key is never created for
   *   an erased subject. `INVALID_SUBJECT` when `subject` does not match {@link SUBJECT_PATTERN}.
   *   `KEY_STORE_IO` when the storage cannot be read or written (or the store is closed).
   */
  getOrCreate(subject: string): Promise<Buffer>;
  /**
   * The subject's key (a copy), or null when there is none: never created, or erased. Never
   * creates one (for reading: a subject without a key has no readable personal data).
   * @throws DataKeyError `INVALID_SUBJECT`, `KEY_STORE_IO` as for getOrCreate.
   */
  get(subject: string): Promise<Buffer | null>;
  /**
   * True when `erase(subject)` happened (in any instance), false otherwise.
   * @throws DataKeyError `INVALID_SUBJECT`, `KEY_STORE_IO` as for getOrCreate.
   */
  isErased(subject: string): Promise<boolean>;
  /**
   * Deletes the subject's key for good and records a tombstone (GDPR art. 17 erasure by
   * crypto-shredding). Durable before it resolves; idempotent (erasing an erased subject, or one
   * that never had a key, resolves and leaves a tombstone). After it resolves, this instance no
   * longer returns the key, and every other instance stops within the bound its adapter documents
   * (embedded: at once within the process; Redis: on the pub/sub message, at the latest after
   * `cacheTtlMs`). A caller that must not lose an erasure retries until it resolves.
   * @throws DataKeyError `INVALID_SUBJECT`, `KEY_STORE_IO` as for getOrCreate (on `KEY_STORE_IO`
   *   the erasure may or may not have happened: retry it).
   */
  erase(subject: string): Promise<void>;
  /** Waits for calls in progress and releases the store's resources; later calls reject with `KEY_STORE_IO`. Idempotent. */
  close(): Promise<void>;
}

/** Stable codes of {@link DataKeyError}. */
export type DataKeyErrorCode =
  /** The subject was erased: its key is gone for good and no new one is created. */
  | 'KEY_ERASED'
  /** The subject is not a string matching {@link SUBJECT_PATTERN}. */
  | 'INVALID_SUBJECT'
  /** The storage failed (I/O error, Redis unreachable or timed out, a corrupt key) or the store is closed. */
  | 'KEY_STORE_IO';

/** The error every DataKeyStore adapter rejects with; branch on `code`. */
export class DataKeyError extends Error {
  constructor(
    readonly code: DataKeyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DataKeyError';
  }
}

/**
 * Returns `subject` when it matches {@link SUBJECT_PATTERN}.
 * @throws DataKeyError `INVALID_SUBJECT` otherwise (also for a non-string).
 */
export function checkSubject(subject: unknown): string {
  if (typeof subject !== 'string' || !SUBJECT_PATTERN.test(subject)) {
    const shown = typeof subject === 'string' ? JSON.stringify(subject.slice(0, 40)) : typeof subject;
    throw new DataKeyError('INVALID_SUBJECT', `invalid data-key subject ${shown}: expected ${String(SUBJECT_PATTERN)}`);
  }
  return subject;
}
