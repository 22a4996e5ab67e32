/**
 * DataKeyStore on local files (standalone mode; docs/adr/0009-data-keys-outside-the-log.md).
 *
 * Layout of `dir` (created with mode 0o700 when missing):
 * - `<subject>.key`     the subject's 32 raw key bytes, mode 0o600;
 * - `<subject>.erased`  the tombstone of an erased subject (a line `erased <ISO time>`; no secret);
 * - `.<name>.<pid>.<n>.tmp` a file being written (removed on open when its process is gone).
 *
 * Creating a key: the fresh bytes go to a temp file (mode 0o600, fsynced), which is then hard-linked
 * to `<subject>.key` and unlinked, and the directory is fsynced. `link` is the no-clobber form of
 * platform/files/atomic-file.ts' rename: it fails when the key exists, so of several instances
 * racing to create a subject's key exactly one wins and the others read its key. A crash leaves
 * either no key or the whole key, never a torn one.
 *
 * Erasing (crypto-shredding, GDPR art. 17): write the tombstone (atomically, fsynced) first, then
 * overwrite the key file's bytes with zeros + fdatasync, unlink it, fsync the directory. Tombstone
 * first, so a crash in the middle leaves an erased subject (whose key file the next open shreds),
 * never a subject without key and without tombstone, for which a new key could be created. Every
 * read re-checks the tombstone after reading the key, and a create re-checks it after linking, so
 * a getOrCreate racing an erase (in this instance, another instance or another process on the same
 * dir) cannot resurrect a key: it sees the tombstone and shreds what it created.
 * Operations on one subject are serialised within an instance.
 *
 * The zeros overwrite the key's blocks in place on ext4/xfs; on copy-on-write file systems
 * (btrfs, ZFS), SSD wear levelling or snapshots the old blocks may survive physically until reused.
 * The key is gone from the file system either way; for the physical media, use disk encryption.
 *
 * Cache: keys (and erasures) are cached in process memory (LRU, `maxCachedKeys`); an erase evicts
 * the subject at once from every instance on the same directory in this process. One process owns
 * the directory (standalone mode: the one that holds the data dir's log lock); a second process on
 * the same directory would keep serving a key it cached until its own restart.
 *
 * Subjects are file names: on a case-insensitive file system (macOS' default) `Alice` and `alice`
 * would share a file. StreamWave's subjects are user ids of fixed case.
 */
import { pidAlive } from '../shared/pid-alive.ts';
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, realpath, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { LRUCache } from 'lru-cache';
import { pino, type Logger } from 'pino';
import { fsyncDir, writeFileAtomic } from '../files/atomic-file.ts';
import { shredFile } from '../files/shred-file.ts';
import { checkSubject, DATA_KEY_BYTES, DataKeyError, type DataKeyStore } from './data-key-store.port.ts';

export interface EmbeddedDataKeyStoreOptions {
  /** Directory of the key files (e.g. `<dataDir>/keys`); created with mode 0o700 when missing. */
  dir: string;
  /** Structured logs (pino); default silent. Logs the subject of an erasure, never key bytes. */
  logger?: Logger;
  /** Most keys held in memory (LRU; default 10 000). Evicted keys are zeroed in memory. */
  maxCachedKeys?: number;
}

/** The instances of this process on one directory (by real path), so an erase evicts from all of them. */
interface DirPeers {
  evictors: Set<(subject: string) => void>;
  /** Bumped by every erase: a read that began before it must not cache what it read. */
  evictions: number;
}
const peersByDir = new Map<string, DirPeers>();

const TEMP_FILE = /^\..+\.(\d+)\.\d+\.tmp$/;
let tmpCounter = 0;

/**
 * Opens the store on `opts.dir`: creates the directory when missing, finishes erasures a crash
 * interrupted (a tombstone beside a key file: the key is shredded) and removes temp files of
 * processes that are gone.
 * @throws DataKeyError `KEY_STORE_IO` when the directory cannot be created or read.
 */
export async function createEmbeddedDataKeyStore(opts: EmbeddedDataKeyStoreOptions): Promise<DataKeyStore> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const dir = await io(`open ${opts.dir}`, async () => {
    await mkdir(resolve(opts.dir), { recursive: true, mode: 0o700 });
    return realpath(resolve(opts.dir));
  });
  await io(`recover ${dir}`, () => recover(dir, logger));
  const mode = (await io(`stat ${dir}`, () => stat(dir))).mode & 0o777;
  if (mode & 0o077) logger.warn({ dir, mode: mode.toString(8) }, 'data-key directory is accessible to other users; expected mode 700');

  let peers = peersByDir.get(dir);
  if (!peers) peersByDir.set(dir, (peers = { evictors: new Set(), evictions: 0 }));
  const shared = peers;
  const max = Math.max(1, opts.maxCachedKeys ?? 10_000);
  const cache = new LRUCache<string, Buffer>({ max, dispose: (key) => key.fill(0) });
  const erasedCache = new LRUCache<string, true>({ max });
  const evict = (subject: string) => { cache.delete(subject); };
  shared.evictors.add(evict);
  const broadcastEviction = (subject: string) => {
    shared.evictions++;
    for (const e of shared.evictors) e(subject);
  };

  const keyPath = (s: string) => join(dir, `${s}.key`);
  const tombstonePath = (s: string) => join(dir, `${s}.erased`);
  const isTombstoned = async (s: string) => {
    if (erasedCache.has(s)) return true;
    const erased = await exists(tombstonePath(s));
    if (erased) erasedCache.set(s, true);
    return erased;
  };
  const readKey = async (s: string): Promise<Buffer | null> => {
    let bytes: Buffer;
    try { bytes = await readFile(keyPath(s)); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    if (bytes.length !== DATA_KEY_BYTES) throw new DataKeyError('KEY_STORE_IO', `data key file ${keyPath(s)} holds ${bytes.length} bytes, not ${DATA_KEY_BYTES}`);
    return bytes;
  };
  /** Links fresh key bytes to the key file unless one exists; true when this call created it. */
  const createKeyFile = async (s: string, key: Buffer): Promise<boolean> => {
    const tmp = join(dir, `.${s}.key.${process.pid}.${++tmpCounter}.tmp`);
    let linked = false;
    try {
      const fh = await open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(key);
        await fh.sync();
      } finally { await fh.close(); }
      await link(tmp, keyPath(s));
      linked = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        await shredFile(tmp).catch(() => false);
        throw e;
      }
    }
    // After a successful link the temp name shares the key's inode: only unlink it.
    if (linked) await unlink(tmp); else await shredFile(tmp);
    await fsyncDir(dir);
    return linked;
  };
  /** The key of a subject not (yet) erased, created when `create`; null when none; KEY_ERASED once erased. */
  const load = async (s: string, create: boolean): Promise<Buffer | null> => {
    if (await isTombstoned(s)) return erasedOr(create, s);
    let key = await readKey(s);
    if (!key && create) {
      const fresh = randomBytes(DATA_KEY_BYTES);
      key = (await createKeyFile(s, fresh)) ? fresh : await readKey(s);
      if (!key && !(await isTombstoned(s))) throw new DataKeyError('KEY_STORE_IO', `data key of ${s} vanished while being created`);
    }
    // An erase (maybe in another instance) may have passed since the first check: it wrote its
    // tombstone before touching the key, so this check sees it. Shred what may have been re-created.
    if (await isTombstoned(s)) {
      await shredFile(keyPath(s));
      await fsyncDir(dir);
      return erasedOr(create, s);
    }
    return key;
  };

  let closed = false;
  const locks = new Map<string, Promise<void>>();
  /** Runs `fn` after the calls on `subject` queued before it; wraps I/O errors as KEY_STORE_IO. */
  const serialise = <T>(subject: unknown, what: string, fn: (s: string) => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new DataKeyError('KEY_STORE_IO', `data-key store is closed (${what})`));
    let s: string;
    try { s = checkSubject(subject); } catch (e) { return Promise.reject(e); }
    const run = (locks.get(s) ?? Promise.resolve()).then(() => io(`${what} ${s}`, () => fn(s)));
    const tail = run.then(() => undefined, () => undefined);
    locks.set(s, tail);
    void tail.then(() => { if (locks.get(s) === tail) locks.delete(s); });
    return run;
  };
  const cachedOrLoad = (subject: string, create: boolean, what: string) => {
    const hit = typeof subject === 'string' && !closed ? cache.get(subject) : undefined;
    if (hit) return Promise.resolve(Buffer.from(hit));
    return serialise(subject, what, async (s) => {
      const epoch = shared.evictions;
      const key = await load(s, create);
      if (key && shared.evictions === epoch) cache.set(s, Buffer.from(key));
      return key;
    });
  };

  return {
    getOrCreate: (subject) => cachedOrLoad(subject, true, 'getOrCreate') as Promise<Buffer>,
    get: (subject) => cachedOrLoad(subject, false, 'get'),
    isErased: (subject) => serialise(subject, 'isErased', isTombstoned),
    erase: (subject) => serialise(subject, 'erase', async (s) => {
      broadcastEviction(s);
      if (!(await exists(tombstonePath(s)))) await writeFileAtomic(tombstonePath(s), `erased ${new Date().toISOString()}\n`);
      erasedCache.set(s, true);
      const shredded = await shredFile(keyPath(s));
      await fsyncDir(dir);
      broadcastEviction(s);
      logger.info({ subject: s, dir, keyFound: shredded }, 'data key erased');
    }),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...locks.values()]);
      shared.evictors.delete(evict);
      if (shared.evictors.size === 0 && peersByDir.get(dir) === shared) peersByDir.delete(dir);
      cache.clear();
      erasedCache.clear();
    },
  };
}

function erasedOr(create: boolean, subject: string): null {
  if (create) throw new DataKeyError('KEY_ERASED', `the data key of ${subject} was erased; no new key is created`);
  return null;
}

/** Finishes interrupted erasures and removes temp files left by dead processes. */
async function recover(dir: string, logger: Logger): Promise<void> {
  const names = new Set(await readdir(dir));
  let touched = false;
  for (const name of names) {
    if (name.endsWith('.erased') && names.has(`${name.slice(0, -'.erased'.length)}.key`)) {
      await shredFile(join(dir, `${name.slice(0, -'.erased'.length)}.key`));
      logger.warn({ dir, subject: name.slice(0, -'.erased'.length) }, 'finished an interrupted data-key erasure: key file shredded');
      touched = true;
      continue;
    }
    const pid = TEMP_FILE.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || pidAlive(Number(pid))) continue;
    const path = join(dir, name);
    // A temp name that was linked to a key (a crash between link and unlink) shares the key's inode: unlink only.
    const st = await stat(path).catch(() => undefined);
    if (!st) continue;
    if (st.nlink > 1) await unlink(path).catch(() => undefined); else await shredFile(path);
    logger.warn({ dir, file: name }, 'removed a temp file of a process that is gone');
    touched = true;
  }
  if (touched) await fsyncDir(dir);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}


/** Runs `fn`; a DataKeyError passes through, any other error becomes `KEY_STORE_IO` with it as cause. */
async function io<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof DataKeyError) throw e;
    throw new DataKeyError('KEY_STORE_IO', `data-key store: ${what} failed: ${(e as Error).message}`, { cause: e });
  }
}
