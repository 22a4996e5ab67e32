import { mkdir, open, readdir, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import pino from 'pino';
import type { OffsetMap } from '../../platform/log/event-log.port.ts';
import type { JsonValue, KeyValueOp, KeyValueStore, ScanOptions } from './key-value-store.port.ts';
import { SortedJsonMap } from './sorted-json-map.ts';
import { writeAllAt } from '../../platform/files/write-at.ts';
import { KeyValueStoreError } from './key-value-store.port.ts';
import pLimit from 'p-limit';

export interface EmbeddedKeyValueStoreOptions {
  /** Directory owned by this store (created if missing). One store per directory. */
  dir: string;
  /** Compact the journal into a snapshot once it exceeds this many bytes. Default 16 MiB. */
  compactAfterBytes?: number;
  /**
   * fdatasync the journal at most once per this many milliseconds (a timer syncs the commits
   * since the last sync; compaction and close sync too) instead of before every commit resolves.
   * A resolved commit is then atomic and survives a crash of the process at once (it is in the
   * OS page cache), and a crash of the machine once the interval has passed. That is enough for
   * a read model: its checkpoint is in the same journal entry as its state, so after a machine
   * crash it resumes from an earlier checkpoint of its own and re-applies the log from there, as
   * a Kafka Streams state store is restored from its changelog rather than synced on every
   * commit. Default 0: every commit is synced before it resolves.
   */
  syncIntervalMs?: number;
  logger?: pino.Logger;
}

/**
 * How often the read models' key-value stores fdatasync their journals, ms (`syncIntervalMs`): a read model resumes from its own checkpoint and re-applies the log after a
 * machine crash, so its commits need not wait for the disk (Kafka Streams does not sync its
 * state stores on commit either). The log itself is synced before a write is acknowledged.
 */
export const READ_MODEL_SYNC_INTERVAL_MS = 1000;

/** The embedded store plus introspection used by tests and the ops CLI. */
export interface EmbeddedKeyValueStore extends KeyValueStore {
  /** Writes a snapshot now and starts an empty journal. */
  compact(): Promise<void>;
  /** Current journal size, bytes. */
  journalBytes(): number;
  /** fdatasync calls on the journal so far (with `syncIntervalMs`, fewer than commits). */
  journalSyncs(): number;
}

const SNAPSHOT = 'snapshot.jsonl';
const SNAPSHOT_FORMAT = 'streamwave.kv.snapshot/1';
const journalName = (generation: number) => `journal-${generation}.log`;

/**
 * Embedded key-value store: an in-memory sorted map (SortedJsonMap), made durable by
 * - an append-only journal `journal-<gen>.log`: one line per commit,
 *   `<crc32 of json, 8 hex> <json {ops, cp}>\n`, fdatasync'ed before the commit resolves
 *   (or at most once per `syncIntervalMs`, see there);
 * - a snapshot `snapshot.jsonl` (header line with generation and checkpoint, then one
 *   `[key, value]` line per entry) written to a temp file, fsynced and renamed over the old one
 *   (atomic on POSIX), after which the next generation's journal starts empty.
 * On open: load the snapshot, replay its generation's journal, and drop a torn or corrupt tail
 * (the first line without its newline or with a bad CRC and everything after it — a commit that
 * never resolved), truncating the file so later appends stay well-formed.
 * Values are kept serialised, so callers always get fresh copies (as from Redis).
 * @throws KeyValueStoreError `STORE_CORRUPT` when the snapshot cannot be parsed.
 */
export async function createEmbeddedKeyValueStore(opts: EmbeddedKeyValueStoreOptions): Promise<EmbeddedKeyValueStore> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const compactAfterBytes = opts.compactAfterBytes ?? 16 * 1024 * 1024;
  const dir = opts.dir;
  await mkdir(dir, { recursive: true });

  const map = new SortedJsonMap();
  const checkpoint: OffsetMap = new Map();
  let generation = 0;

  const applyEntry = (ops: SerialisedOp[], cp: Record<string, number>) => {
    for (const o of ops) {
      if (o[0] === 'p') map.putJson(o[1], o[2]); else map.delete(o[1]);
    }
    for (const [k, v] of Object.entries(cp)) checkpoint.set(k, v);
  };

  // ---- open: snapshot + journal replay ------------------------------------------------------
  const snapshotPath = join(dir, SNAPSHOT);
  let snapshotText: string | undefined;
  try { snapshotText = await readFile(snapshotPath, 'utf8'); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; }
  if (snapshotText !== undefined) {
    try {
      const lines = snapshotText.split('\n');
      const header = JSON.parse(lines[0]) as { format: string; generation: number; checkpoint: Record<string, number>; entries: number };
      if (header.format !== SNAPSHOT_FORMAT) throw new Error(`unknown snapshot format ${header.format}`);
      generation = header.generation;
      for (let i = 1; i <= header.entries; i++) {
        const [k, v] = JSON.parse(lines[i]) as [string, JsonValue];
        map.putJson(k, JSON.stringify(v));
      }
      for (const [k, v] of Object.entries(header.checkpoint)) checkpoint.set(k, v);
    } catch (e) {
      throw new KeyValueStoreError('STORE_CORRUPT', `snapshot ${snapshotPath} is unreadable: ${(e as Error).message}`);
    }
  }
  const journalPath = () => join(dir, journalName(generation));
  let journal: FileHandle = await open(journalPath(), 'a+');
  let journalSize = 0;
  {
    const buf = await journal.readFile();
    let pos = 0;
    let replayed = 0;
    while (pos < buf.length) {
      const nl = buf.indexOf(0x0a, pos);
      if (nl < 0) break;
      const line = buf.subarray(pos, nl);
      const entry = parseJournalLine(line);
      if (!entry) break;
      applyEntry(entry.ops, entry.cp);
      replayed++;
      pos = nl + 1;
    }
    if (pos < buf.length) {
      logger.warn({ dir, droppedBytes: buf.length - pos, keptEntries: replayed }, 'kv store: dropping torn journal tail');
      await journal.truncate(pos);
      await journal.sync();
    }
    journalSize = pos;
  }
  // Leftovers of an interrupted compaction: older journals and temp snapshots.
  for (const f of await readdir(dir)) {
    if ((f.startsWith('journal-') && f !== journalName(generation)) || f.endsWith('.tmp')) {
      await unlink(join(dir, f)).catch(() => undefined);
    }
  }

  // ---- writes -------------------------------------------------------------------------------
  let closed = false;
  // One at a time, in call order; a failure does not stop the next.
  const serial = pLimit(1);
  const assertOpen = () => { if (closed) throw new KeyValueStoreError('STORE_CLOSED', `kv store ${dir} is closed`); };
  const syncIntervalMs = opts.syncIntervalMs ?? 0;
  let syncs = 0;
  let unsynced = false;
  let syncTimer: NodeJS.Timeout | undefined;
  /** A failed background sync: the disk state is unknown, so every later commit is refused (restart to recover). */
  let syncFailure: KeyValueStoreError | undefined;
  const datasync = () => { syncs++; return journal.datasync(); };
  /** fdatasync of the current journal when commits are unsynced; in `serial` (a compaction swaps the handle). */
  const syncJournal = async () => {
    clearTimeout(syncTimer);
    syncTimer = undefined;
    if (!unsynced || closed) return;
    try {
      await datasync();
      unsynced = false;
    } catch (e) {
      syncFailure = new KeyValueStoreError('STORE_IO', `kv store ${dir}: journal sync failed: ${(e as Error).message}`);
      throw syncFailure;
    }
  };
  const scheduleSync = () => {
    unsynced = true;
    if (syncTimer) return;
    syncTimer = setTimeout(() => {
      syncTimer = undefined;
      void serial(syncJournal).catch((e: unknown) => logger.error({ err: e, dir }, 'kv store: journal sync failed; refusing further commits'));
    }, syncIntervalMs);
    syncTimer.unref(); // close syncs what is left
  };

  const compactNow = async () => {
    const next = generation + 1;
    const tmp = join(dir, `${SNAPSHOT}.${next}.tmp`);
    const fh = await open(tmp, 'w');
    try {
      const header = { format: SNAPSHOT_FORMAT, generation: next, checkpoint: Object.fromEntries(checkpoint), entries: map.size };
      let chunk = JSON.stringify(header) + '\n';
      for (const [k, json] of map.entries()) {
        chunk += `[${JSON.stringify(k)},${json}]\n`;
        if (chunk.length > 1 << 20) { await fh.write(chunk); chunk = ''; }
      }
      if (chunk) await fh.write(chunk);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, snapshotPath);
    await fsyncDir(dir);
    // From here the snapshot (generation `next`) is authoritative; the old journal is garbage.
    const oldJournal = journalPath();
    const oldHandle = journal;
    generation = next;
    journal = await open(journalPath(), 'a+');
    journalSize = 0;
    unsynced = false; // the synced snapshot holds every commit so far
    await fsyncDir(dir);
    await oldHandle.close();
    await unlink(oldJournal).catch(() => undefined);
    logger.debug({ dir, generation, entries: map.size }, 'kv store: compacted');
  };

  const store: EmbeddedKeyValueStore = {
    async get<T = JsonValue>(key: string) {
      return map.get<T>(key);
    },
    async getMany<T = JsonValue>(ks: string[]) {
      return ks.map((k) => map.get<T>(k));
    },
    async getManyJson(ks: string[]) {
      return ks.map((k) => map.getJson(k));
    },
    async scan<T = JsonValue>(prefix: string, o: ScanOptions) {
      return map.scan<T>(prefix, o);
    },
    commit(ops: KeyValueOp[], cp: OffsetMap) {
      return serial(async () => {
        assertOpen();
        if (syncFailure) throw syncFailure;
        const serialised: SerialisedOp[] = ops.map((o) => {
          if (typeof o.key !== 'string') throw new KeyValueStoreError('INVALID_KEY', `key must be a string, got ${typeof o.key}`);
          if (o.op === 'put') {
            const json = JSON.stringify(o.value);
            if (json === undefined) throw new KeyValueStoreError('INVALID_KEY', `value of ${o.key} is not JSON`);
            return ['p', o.key, json];
          }
          return ['d', o.key];
        });
        const cpObj = Object.fromEntries(cp);
        // Ops are embedded as already-serialised JSON so a value is stringified once.
        const json = `{"ops":[${serialised.map((s) => (s[0] === 'p' ? `["p",${JSON.stringify(s[1])},${s[2]}]` : `["d",${JSON.stringify(s[1])}]`)).join(',')}],"cp":${JSON.stringify(cpObj)}}`;
        const line = Buffer.from(`${crc32(json).toString(16).padStart(8, '0')} ${json}\n`, 'utf8');
        try {
          writeAllAt(journal, line, journalSize);
          if (syncIntervalMs > 0) scheduleSync();
          else await datasync();
        } catch (e) {
          // Leave no half-written entry behind the next append; if that fails too, later lines would
          // follow a torn one that replay stops at: refuse further commits instead.
          await journal.truncate(journalSize).catch((te: unknown) => {
            syncFailure = new KeyValueStoreError('STORE_IO', `kv store ${dir}: journal truncate after a failed write failed: ${(te as Error).message}`);
          });
          throw new KeyValueStoreError('STORE_IO', `kv store ${dir}: journal write failed: ${(e as Error).message}`);
        }
        journalSize += line.length;
        applyEntry(serialised, cpObj);
        if (journalSize > compactAfterBytes) {
          await compactNow().catch((e) => logger.error({ err: e, dir }, 'kv store: compaction failed; journal kept'));
        }
      });
    },
    async checkpoint() { return new Map(checkpoint); },
    compact() { return serial(async () => { assertOpen(); await compactNow(); }); },
    journalBytes: () => journalSize,
    journalSyncs: () => syncs,
    close() {
      return serial(async () => {
        if (closed) return;
        try {
          if (!syncFailure) await syncJournal();
        } finally {
          closed = true;
          await journal.close();
        }
      });
    },
  };
  return store;
}

/** `['p', key, valueJson]` or `['d', key]`. */
type SerialisedOp = ['p', string, string] | ['d', string];

function parseJournalLine(line: Buffer): { ops: SerialisedOp[]; cp: Record<string, number> } | undefined {
  if (line.length < 10 || line[8] !== 0x20) return undefined;
  const crc = line.subarray(0, 8).toString('latin1');
  const json = line.subarray(9);
  if (crc32(json).toString(16).padStart(8, '0') !== crc) return undefined;
  try {
    const parsed = JSON.parse(json.toString('utf8')) as { ops: (['p', string, JsonValue] | ['d', string])[]; cp: Record<string, number> };
    return {
      ops: parsed.ops.map((o) => (o[0] === 'p' ? ['p', o[1], JSON.stringify(o[2])] : ['d', o[1]])),
      cp: parsed.cp,
    };
  } catch {
    return undefined;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}
