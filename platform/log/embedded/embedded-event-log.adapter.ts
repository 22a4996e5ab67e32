/**
 * Embedded durable EventLog (standalone mode): the `EventLog` port on local disk, no broker.
 *
 * Guarantees:
 * - An acknowledged record survives `kill -9` (and, with `fsync: true`, a power loss on a
 *   journaling file system): `append` resolves only after the bytes are written and fdatasync'ed.
 *   Appends that arrive while a flush is in progress are group-committed: one write + one fsync
 *   per partition for the whole batch.
 * - Readers and consumers only see acknowledged (durable) records, the analogue of Kafka's high
 *   watermark, so no read model can apply a record that a crash could still take back.
 * - Consumers get at-least-once delivery: the group offset is committed after `eachBatch`
 *   resolves; a crash between the two redelivers the batch. Sinks that store their checkpoint
 *   atomically with their state (and seek to it in `onAssigned`) get effectively-once results.
 *
 * On-disk layout under `<dataDir>/log/`:
 * - `LOCK`                        pid of the process holding the log (one process at a time).
 * - `topics.json`                 topic metadata (name, partitions, compacted), replaced atomically.
 * - `topics/<topic>/<p>.log`      one append-only segment per partition.
 * - `groups/<groupId>.json`       committed offsets of a consumer group, replaced atomically.
 *
 * Record framing (little endian): `u32 bodyLength | u32 crc32(body) | body`, body =
 * `u8 magic(1) | f64 offset | f64 timestampMs | i32 keyLength(-1 = null) | key utf8 |
 * i32 valueLength(-1 = null) | value | u32 headersLength | headers JSON`.
 * On open every segment is scanned once to rebuild the in-memory index (offset → file position,
 * prefix-max timestamp); the first record that is short, fails its CRC or breaks the offset
 * sequence marks a torn tail (crash mid-write): the file is truncated there, never a crash.
 *
 * Not implemented: log compaction. Compacted topics are stored and flagged (`compacted: true`)
 * but keep every record, which is correct for readers (the last record per key still wins) and
 * only costs disk; `beginningOffsets` is therefore always 0. Offsets are dense from 0.
 */
import { mkdir, open, readFile, readdir, rm, stat, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import * as zlib from 'node:zlib';
import { pino } from 'pino';
import type {
  ConsumerHandle, EventLog, LogRecord, OffsetMap, ProduceRecord, RecordMetadata, Subscription, TopicDescription,
  TopicPartition, TopicSpec,
} from '../event-log.port.ts';
import { tpKey } from '../event-log.port.ts';
import { partitionForKey } from '../partitioner.ts';
import { EventLogError } from '../event-log.errors.ts';
import { fsyncDir, writeFileAtomic } from '../../files/atomic-file.ts';

export interface EmbeddedEventLogOptions {
  /** Root data directory; the log lives in `<dataDir>/log/`. Created if missing. */
  dataDir: string;
  logger?: pino.Logger;
  /**
   * fdatasync each group commit before acknowledging (default true). `false` still survives a
   * process crash (data is in the OS page cache) but not a power loss; meant for tests and benches.
   */
  fsync?: boolean;
  /** Largest encoded record accepted, bytes (default 8 MiB; Kafka's default is 1 MiB). */
  maxRecordBytes?: number;
  /**
   * First redelivery delay after a throwing `eachBatch`, milliseconds (default 100); doubles per
   * consecutive failure of the same partition up to 5 000 ms.
   */
  redeliveryDelayMs?: number;
}

/** Extra, adapter-specific operations (tests and the CLI use them). */
export interface EmbeddedEventLog extends EventLog {
  /** Absolute path of the log directory (`<dataDir>/log`). */
  readonly dir: string;
}

const HEADER_BYTES = 8;
const FIXED_BODY_BYTES = 1 + 8 + 8 + 4 + 4 + 4;
const MAGIC = 1;
const SCAN_CHUNK_BYTES = 1 << 20;
const MAX_REDELIVERY_DELAY_MS = 5_000;
const IDLE_POLL_MS = 1_000;
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** CRC-32 (IEEE 802.3, as zlib/gzip). `zlib.crc32` exists from Node 20.15; older Node uses the table. */
const crc32: (data: Uint8Array) => number = (() => {
  const native = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;
  if (typeof native === 'function') return (d: Uint8Array) => native(d) >>> 0;
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return (d: Uint8Array) => {
    let c = 0xffffffff;
    for (let i = 0; i < d.length; i++) c = table[(c ^ d[i]) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
})();

/** Encodes a record with offset 0; the offset and CRC are patched at flush time ({@link sealRecord}). */
function encodeRecord(rec: ProduceRecord, timestamp: number): Buffer {
  const key = rec.key === null ? null : Buffer.from(rec.key, 'utf8');
  const value = rec.value;
  const headers = rec.headers && Object.keys(rec.headers).length ? Buffer.from(JSON.stringify(rec.headers), 'utf8') : null;
  const bodyLen = FIXED_BODY_BYTES + (key?.length ?? 0) + (value?.length ?? 0) + (headers?.length ?? 0);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + bodyLen);
  let o = 0;
  o = buf.writeUInt32LE(bodyLen, o);
  o = buf.writeUInt32LE(0, o);
  o = buf.writeUInt8(MAGIC, o);
  o = buf.writeDoubleLE(0, o);
  o = buf.writeDoubleLE(timestamp, o);
  o = buf.writeInt32LE(key ? key.length : -1, o);
  if (key) o += key.copy(buf, o);
  o = buf.writeInt32LE(value ? value.length : -1, o);
  if (value) o += Buffer.from(value.buffer, value.byteOffset, value.byteLength).copy(buf, o);
  o = buf.writeUInt32LE(headers?.length ?? 0, o);
  if (headers) o += headers.copy(buf, o);
  return buf;
}

function sealRecord(buf: Buffer, offset: number): void {
  buf.writeDoubleLE(offset, HEADER_BYTES + 1);
  buf.writeUInt32LE(crc32(buf.subarray(HEADER_BYTES)), 4);
}

/** Decodes the record starting at `at` in `buf` (framing already validated). */
function decodeRecord(buf: Buffer, at: number, topic: string, partition: number): { record: LogRecord; next: number } {
  const bodyLen = buf.readUInt32LE(at);
  let o = at + HEADER_BYTES + 1;
  const offset = buf.readDoubleLE(o); o += 8;
  const timestamp = buf.readDoubleLE(o); o += 8;
  const keyLen = buf.readInt32LE(o); o += 4;
  const key = keyLen < 0 ? null : buf.toString('utf8', o, o + keyLen);
  if (keyLen > 0) o += keyLen;
  const valueLen = buf.readInt32LE(o); o += 4;
  // Copy the value out so a consumer holding one record does not pin the whole read buffer.
  const value = valueLen < 0 ? null : Buffer.from(buf.subarray(o, o + valueLen));
  if (valueLen > 0) o += valueLen;
  const headersLen = buf.readUInt32LE(o); o += 4;
  const headers = headersLen ? JSON.parse(buf.toString('utf8', o, o + headersLen)) as Record<string, string> : {};
  return { record: { topic, partition, offset, key, value, headers, timestamp }, next: at + HEADER_BYTES + bodyLen };
}

async function writeFully(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    if (bytesWritten <= 0) throw new Error('short write');
    done += bytesWritten;
  }
}

interface PendingAppend {
  encoded: Buffer[];
  timestamps: number[];
  base: number;
  resolve(base: number): void;
  reject(err: Error): void;
}

/** One partition: its segment file, in-memory index and group-commit queue. */
class PartitionLog {
  /** File position of offset i. */
  readonly positions: number[] = [];
  /** Max timestamp over offsets 0..i (Kafka's time index semantics) for binary search. */
  readonly maxTs: number[] = [];
  /** Acknowledged (visible) bytes. */
  size = 0;
  private queue: PendingAppend[] = [];
  private draining: Promise<void> | null = null;
  private broken: EventLogError | null = null;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly fh: FileHandle,
    private readonly fsync: boolean,
    private readonly onAppended: () => void,
  ) {}

  get end(): number { return this.positions.length; }

  /** Queues encoded records; resolves with the base offset once durable. */
  append(encoded: Buffer[], timestamps: number[]): Promise<number> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ encoded, timestamps, base: -1, resolve, reject });
      // Defer one macrotask so appends issued in the same tick share the write + fsync.
      if (!this.draining) this.draining = new Promise<void>((r) => setImmediate(r)).then(() => this.drain());
    });
  }

  /** Resolves when every queued append has been flushed (or failed). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length && !this.broken) {
        const batch = this.queue.splice(0);
        let offset = this.end;
        let pos = this.size;
        let runMax = this.maxTs.length ? this.maxTs[this.maxTs.length - 1] : -Infinity;
        const newPos: number[] = [];
        const newMax: number[] = [];
        const bufs: Buffer[] = [];
        for (const p of batch) {
          p.base = offset;
          p.encoded.forEach((buf, i) => {
            sealRecord(buf, offset++);
            newPos.push(pos);
            pos += buf.length;
            runMax = Math.max(runMax, p.timestamps[i]);
            newMax.push(runMax);
            bufs.push(buf);
          });
        }
        try {
          await writeFully(this.fh, bufs.length === 1 ? bufs[0] : Buffer.concat(bufs), this.size);
        } catch (cause) {
          const err = new EventLogError('IO_FAILED', `write to ${this.topic}/${this.partition} failed: ${(cause as Error).message}`, { cause });
          // Remove the partial write so the next append starts on a record boundary.
          await this.fh.truncate(this.size).catch(() => { this.broken = err; });
          batch.forEach((p) => p.reject(err));
          continue;
        }
        if (this.fsync) {
          try {
            await this.fh.datasync();
          } catch (cause) {
            // After a failed fsync the page cache state is unknown ("fsyncgate"): refuse further appends.
            this.broken = new EventLogError('IO_FAILED', `fsync of ${this.topic}/${this.partition} failed: ${(cause as Error).message}`, { cause });
            batch.forEach((p) => p.reject(this.broken!));
            break;
          }
        }
        for (let i = 0; i < newPos.length; i++) { this.positions.push(newPos[i]); this.maxTs.push(newMax[i]); }
        this.size = pos;
        batch.forEach((p) => p.resolve(p.base));
        this.onAppended();
      }
      if (this.broken) this.queue.splice(0).forEach((p) => p.reject(this.broken!));
    } finally {
      this.draining = null;
    }
  }

  /** Reads up to `max` records from `from` using the offset → position index (one pread). */
  async read(from: number, max: number): Promise<LogRecord[]> {
    const end = this.end;
    if (from >= end || max <= 0) return [];
    const last = Math.min(end, from + max);
    const start = this.positions[from];
    const stop = last < end ? this.positions[last] : this.size;
    const buf = Buffer.allocUnsafe(stop - start);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await this.fh.read(buf, got, buf.length - got, start + got);
      if (bytesRead <= 0) throw new EventLogError('IO_FAILED', `short read on ${this.topic}/${this.partition}`);
      got += bytesRead;
    }
    const out: LogRecord[] = [];
    let at = 0;
    while (at < buf.length) {
      const { record, next } = decodeRecord(buf, at, this.topic, this.partition);
      out.push(record);
      at = next;
    }
    return out;
  }

  /** First offset whose timestamp is ≥ ts (binary search on the prefix max), end offset if none. */
  offsetForTimestamp(ts: number): number {
    let lo = 0;
    let hi = this.maxTs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.maxTs[mid] >= ts) hi = mid; else lo = mid + 1;
    }
    return lo;
  }
}

/**
 * Scans a segment, rebuilding the index; returns the valid length (bytes). Stops at the first
 * short, oversized, CRC-failing or out-of-sequence record.
 */
async function scanSegment(fh: FileHandle, fileSize: number, maxRecordBytes: number, part: PartitionLog): Promise<number> {
  let buf = Buffer.alloc(0);
  let bufStart = 0;
  const ensure = async (from: number, to: number): Promise<boolean> => {
    if (to > fileSize) return false;
    if (from >= bufStart && to <= bufStart + buf.length) return true;
    const len = Math.min(Math.max(to - from, SCAN_CHUNK_BYTES), fileSize - from);
    buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await fh.read(buf, got, len - got, from + got);
      if (bytesRead <= 0) break;
      got += bytesRead;
    }
    buf = buf.subarray(0, got);
    bufStart = from;
    return to <= bufStart + buf.length;
  };
  let pos = 0;
  let runMax = -Infinity;
  while (pos < fileSize) {
    if (!(await ensure(pos, pos + HEADER_BYTES))) break;
    const bodyLen = buf.readUInt32LE(pos - bufStart);
    const crc = buf.readUInt32LE(pos - bufStart + 4);
    if (bodyLen < FIXED_BODY_BYTES || bodyLen > maxRecordBytes) break;
    if (!(await ensure(pos, pos + HEADER_BYTES + bodyLen))) break;
    const b = pos - bufStart + HEADER_BYTES;
    if (crc32(buf.subarray(b, b + bodyLen)) !== crc) break;
    if (buf.readUInt8(b) !== MAGIC || buf.readDoubleLE(b + 1) !== part.end) break;
    runMax = Math.max(runMax, buf.readDoubleLE(b + 9));
    part.positions.push(pos);
    part.maxTs.push(runMax);
    pos += HEADER_BYTES + bodyLen;
  }
  return pos;
}

/** Data directories opened by this process (the pid in LOCK cannot tell two instances apart). */
const openInProcess = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the process-level lock `<dir>/LOCK` (O_EXCL create holding `pid@host`). A lock left by a
 * dead process (kill -9) is taken over.
 * @throws EventLogError LOG_LOCKED if a live process (or this one) holds it.
 */
async function acquireLock(dir: string, logger: pino.Logger): Promise<string> {
  const lockPath = join(dir, 'LOCK');
  if (openInProcess.has(dir)) throw new EventLogError('LOG_LOCKED', `event log ${dir} is already open in this process`);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(lockPath, 'wx');
      await fh.writeFile(`${process.pid}@${hostname()}\n`);
      await fh.close();
      openInProcess.add(dir);
      return lockPath;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const content = (await readFile(lockPath, 'utf8').catch(() => '')).trim();
    const [pidText, host] = content.split('@');
    const pid = Number(pidText);
    const sameHost = !host || host === hostname();
    // Our own pid with no open instance means a previous process with a recycled pid died.
    if (sameHost && Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
      throw new EventLogError('LOG_LOCKED', `event log ${dir} is locked by process ${pid} (${lockPath}); stop it first`);
    }
    if (!sameHost) {
      throw new EventLogError('LOG_LOCKED', `event log ${dir} is locked by ${content} on another host (${lockPath})`);
    }
    logger.warn({ lockPath, holder: content }, 'taking over stale event log lock');
    await unlink(lockPath).catch(() => {});
  }
  throw new EventLogError('LOG_LOCKED', `could not acquire ${lockPath}`);
}

interface TopicState {
  spec: TopicDescription;
  parts: PartitionLog[];
  roundRobin: number;
}

interface GroupState {
  offsets: OffsetMap;
  /** A queued (not yet started) write; later commits join it. */
  pending: Promise<void> | null;
  chain: Promise<void>;
}

/**
 * Opens (creating if needed) the embedded event log in `<dataDir>/log/`, recovering torn tails.
 * @throws EventLogError LOG_LOCKED when another live process holds the directory; fs errors
 *   (EACCES, ENOSPC…) when the directory cannot be created.
 */
export async function createEmbeddedEventLog(opts: EmbeddedEventLogOptions): Promise<EmbeddedEventLog> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const fsync = opts.fsync ?? true;
  const maxRecordBytes = opts.maxRecordBytes ?? 8 * 1024 * 1024;
  const redeliveryDelayMs = opts.redeliveryDelayMs ?? 100;
  const dir = resolve(opts.dataDir, 'log');
  const topicsDir = join(dir, 'topics');
  const groupsDir = join(dir, 'groups');
  await mkdir(topicsDir, { recursive: true });
  await mkdir(groupsDir, { recursive: true });
  const lockPath = await acquireLock(dir, logger);

  const topics = new Map<string, TopicState>();
  const groups = new Map<string, GroupState>();
  const consumers = new Set<{ notify(): void; stop(): Promise<void> }>();
  let closed = false;
  let metaChain: Promise<void> = Promise.resolve();

  const wakeConsumers = () => { for (const c of consumers) c.notify(); };

  const openPartition = async (name: string, partition: number, recover: boolean): Promise<PartitionLog> => {
    const path = join(topicsDir, name, `${partition}.log`);
    const fh = await open(path, 'a+').then((h) => h.close()).then(() => open(path, 'r+'));
    const part = new PartitionLog(name, partition, fh, fsync, wakeConsumers);
    if (recover) {
      const { size } = await fh.stat();
      const valid = await scanSegment(fh, size, maxRecordBytes, part);
      if (valid < size) {
        logger.warn({ topic: name, partition, droppedBytes: size - valid, records: part.end }, 'truncating torn tail of event log segment');
        await fh.truncate(valid);
        if (fsync) await fh.datasync();
      }
      part.size = valid;
    }
    return part;
  };

  const saveTopics = () => writeFileAtomic(
    join(dir, 'topics.json'),
    JSON.stringify({ version: 1, topics: [...topics.values()].map((t) => t.spec) }, null, 2),
    fsync,
  );

  // --- recovery -------------------------------------------------------------------------------
  try {
    const meta = JSON.parse(await readFile(join(dir, 'topics.json'), 'utf8').catch((err) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '{"topics":[]}';
      throw err;
    })) as { topics: TopicDescription[] };
    for (const spec of meta.topics) {
      const parts: PartitionLog[] = [];
      await mkdir(join(topicsDir, spec.name), { recursive: true });
      for (let p = 0; p < spec.partitions; p++) parts.push(await openPartition(spec.name, p, true));
      topics.set(spec.name, { spec: { name: spec.name, partitions: spec.partitions, compacted: !!spec.compacted }, parts, roundRobin: 0 });
    }
    for (const file of await readdir(groupsDir)) {
      if (file.startsWith('.')) { await rm(join(groupsDir, file), { force: true }); continue; } // temp file of an interrupted commit
      if (!file.endsWith('.json')) continue;
      const groupId = decodeURIComponent(file.slice(0, -'.json'.length));
      const data = JSON.parse(await readFile(join(groupsDir, file), 'utf8')) as Record<string, number>;
      groups.set(groupId, { offsets: new Map(Object.entries(data)), pending: null, chain: Promise.resolve() });
    }
  } catch (err) {
    for (const t of topics.values()) for (const p of t.parts) await p.fh.close().catch(() => {});
    openInProcess.delete(dir);
    await unlink(lockPath).catch(() => {});
    throw err;
  }
  logger.info({ dir, topics: topics.size, groups: groups.size }, 'embedded event log opened');

  const ensureOpen = () => { if (closed) throw new EventLogError('LOG_CLOSED', `event log ${dir} is closed`); };
  const topic = (name: string): TopicState => {
    ensureOpen();
    const t = topics.get(name);
    if (!t) throw new EventLogError('UNKNOWN_TOPIC', `unknown topic ${name}`);
    return t;
  };
  const part = (name: string, partition: number): PartitionLog => {
    const t = topic(name);
    if (!Number.isInteger(partition) || partition < 0 || partition >= t.parts.length) {
      throw new EventLogError('INVALID_PARTITION', `topic ${name} has no partition ${partition} (partitions: ${t.parts.length})`);
    }
    return t.parts[partition];
  };

  const persistGroup = (groupId: string, g: GroupState): Promise<void> => {
    if (g.pending) return g.pending;
    const path = join(groupsDir, `${encodeURIComponent(groupId)}.json`);
    const p = g.chain.then(() => {
      g.pending = null;
      return writeFileAtomic(path, JSON.stringify(Object.fromEntries(g.offsets)), fsync);
    });
    g.pending = p;
    g.chain = p.catch(() => {});
    return p;
  };

  const log: EmbeddedEventLog = {
    dir,

    async createTopic(spec: TopicSpec) {
      ensureOpen();
      if (!TOPIC_NAME.test(spec.name) || spec.name === '.' || spec.name === '..') {
        throw new EventLogError('INVALID_TOPIC', `illegal topic name "${spec.name}" (Kafka allows [a-zA-Z0-9._-], 1..249 chars)`);
      }
      if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
        throw new EventLogError('INVALID_PARTITION', `topic ${spec.name}: partitions must be an integer ≥ 1, got ${spec.partitions}`);
      }
      const run = metaChain.then(async () => {
        const existing = topics.get(spec.name);
        if (existing) {
          if (existing.spec.partitions !== spec.partitions) {
            throw new EventLogError('TOPIC_CONFLICT', `topic ${spec.name} exists with ${existing.spec.partitions} partitions, not ${spec.partitions}`);
          }
          return;
        }
        const tdir = join(topicsDir, spec.name);
        await mkdir(tdir, { recursive: true });
        const parts: PartitionLog[] = [];
        for (let p = 0; p < spec.partitions; p++) {
          // A leftover segment of a crashed createTopic is reset: the topic was never announced.
          await writeFile(join(tdir, `${p}.log`), '');
          parts.push(await openPartition(spec.name, p, false));
        }
        if (fsync) { await fsyncDir(tdir); await fsyncDir(topicsDir); }
        topics.set(spec.name, { spec: { name: spec.name, partitions: spec.partitions, compacted: !!spec.compacted }, parts, roundRobin: 0 });
        try {
          await saveTopics();
        } catch (err) {
          topics.delete(spec.name);
          for (const p of parts) await p.fh.close().catch(() => {});
          throw err;
        }
        logger.debug({ topic: spec.name, partitions: spec.partitions }, 'topic created');
      });
      metaChain = run.catch(() => {});
      return run;
    },

    async listTopics() {
      ensureOpen();
      return [...topics.values()].map((t) => ({ ...t.spec }));
    },

    async append(name: string, records: ProduceRecord[]): Promise<RecordMetadata[]> {
      const t = topic(name);
      if (!records.length) return [];
      const now = Date.now();
      const byPartition = new Map<number, { idx: number[]; encoded: Buffer[]; ts: number[] }>();
      const partitionOf: number[] = [];
      records.forEach((r, i) => {
        const partition = r.partition ?? partitionForKey(name, r.key, t.spec.partitions, t.roundRobin++);
        part(name, partition); // validates
        const ts = r.timestamp ?? now;
        const encoded = encodeRecord(r, ts);
        if (encoded.length - HEADER_BYTES > maxRecordBytes) {
          throw new EventLogError('RECORD_TOO_LARGE', `record of ${encoded.length} bytes exceeds maxRecordBytes ${maxRecordBytes} (topic ${name})`);
        }
        let g = byPartition.get(partition);
        if (!g) byPartition.set(partition, g = { idx: [], encoded: [], ts: [] });
        g.idx.push(i);
        g.encoded.push(encoded);
        g.ts.push(ts);
        partitionOf[i] = partition;
      });
      const out: RecordMetadata[] = new Array(records.length);
      await Promise.all([...byPartition].map(async ([partition, g]) => {
        const base = await t.parts[partition].append(g.encoded, g.ts);
        g.idx.forEach((i, n) => { out[i] = { topic: name, partition, offset: base + n }; });
      }));
      return out;
    },

    async read(name, partition, fromOffset, maxRecords) {
      const p = part(name, partition);
      if (!Number.isInteger(fromOffset) || fromOffset < 0) {
        throw new EventLogError('INVALID_PARTITION', `invalid offset ${fromOffset} for ${name}/${partition}`);
      }
      return p.read(fromOffset, maxRecords);
    },

    async endOffsets(name) { return topic(name).parts.map((p) => p.end); },
    async beginningOffsets(name) { return topic(name).parts.map(() => 0); },
    async offsetsForTimestamp(name, timestamp) { return topic(name).parts.map((p) => p.offsetForTimestamp(timestamp)); },

    async committedOffsets(groupId) {
      ensureOpen();
      return new Map(groups.get(groupId)?.offsets ?? []);
    },

    async commitOffsets(groupId, offsets) {
      ensureOpen();
      let g = groups.get(groupId);
      if (!g) groups.set(groupId, g = { offsets: new Map(), pending: null, chain: Promise.resolve() });
      for (const [k, v] of offsets) g.offsets.set(k, v);
      await persistGroup(groupId, g);
    },

    async listGroups() {
      ensureOpen();
      return [...groups.keys()].sort();
    },

    async subscribe(sub: Subscription): Promise<ConsumerHandle> {
      const assigned: TopicPartition[] = sub.topics.flatMap((name) => topic(name).parts.map((_, partition) => ({ topic: name, partition })));
      const seek = (await sub.onAssigned?.(assigned)) ?? new Map<string, number>();
      ensureOpen();
      const committed = groups.get(sub.groupId)?.offsets ?? new Map<string, number>();
      const pos = new Map<string, number>();
      const plog = new Map<string, PartitionLog>();
      for (const tp of assigned) {
        const k = tpKey(tp.topic, tp.partition);
        const p = part(tp.topic, tp.partition);
        plog.set(k, p);
        let start = seek.get(k) ?? committed.get(k) ?? (sub.fromBeginning === false ? p.end : 0);
        if (start > p.end || start < 0) {
          // Like Kafka's auto.offset.reset on OffsetOutOfRange: the checkpoint is ahead of this log.
          logger.warn({ groupId: sub.groupId, tp: k, start, end: p.end }, 'consumer start offset out of range; resetting to end');
          start = p.end;
        }
        pos.set(k, start);
      }
      const concurrency = Math.max(1, sub.partitionsConsumedConcurrently ?? 1);
      const maxBatch = sub.maxBatchSize ?? 500;
      let stopped = false;
      let dirty = true;
      let wakeLoop: (() => void) | null = null;
      const notify = () => { dirty = true; const w = wakeLoop; wakeLoop = null; w?.(); };
      const progressListeners = new Set<() => void>();
      const progressed = () => { for (const l of [...progressListeners]) l(); };
      const inFlight = new Map<string, Promise<void>>();
      const failures = new Map<string, number>();
      const retryAt = new Map<string, number>();

      const consumePartition = async (k: string, tp: TopicPartition): Promise<void> => {
        const records = await plog.get(k)!.read(pos.get(k)!, maxBatch);
        if (!records.length || stopped) return;
        try {
          await sub.eachBatch({ topic: tp.topic, partition: tp.partition, records });
        } catch (err) {
          const n = (failures.get(k) ?? 0) + 1;
          failures.set(k, n);
          const delay = Math.min(MAX_REDELIVERY_DELAY_MS, redeliveryDelayMs * 2 ** (n - 1));
          retryAt.set(k, Date.now() + delay);
          logger.warn({ err, groupId: sub.groupId, tp: k, offset: records[0].offset, attempt: n, delayMs: delay }, 'eachBatch failed; redelivering');
          return;
        }
        failures.delete(k);
        retryAt.delete(k);
        const next = records[records.length - 1].offset + 1;
        pos.set(k, next);
        try {
          await log.commitOffsets(sub.groupId, new Map([[k, next]]));
        } catch (err) {
          // Position already advanced in memory; after a restart the batch is redelivered (at-least-once).
          logger.error({ err, groupId: sub.groupId, tp: k }, 'offset commit failed');
        }
      };

      const loop = async () => {
        while (!stopped) {
          dirty = false;
          let nextRetry = Infinity;
          const now = Date.now();
          for (const tp of assigned) {
            if (inFlight.size >= concurrency) break;
            const k = tpKey(tp.topic, tp.partition);
            if (inFlight.has(k) || pos.get(k)! >= plog.get(k)!.end) continue;
            const at = retryAt.get(k) ?? 0;
            if (at > now) { nextRetry = Math.min(nextRetry, at); continue; }
            const task = consumePartition(k, tp)
              .catch((err) => { logger.error({ err, groupId: sub.groupId, tp: k }, 'consumer read failed'); retryAt.set(k, Date.now() + MAX_REDELIVERY_DELAY_MS); })
              .finally(() => { inFlight.delete(k); progressed(); notify(); });
            inFlight.set(k, task);
          }
          if (dirty || stopped) continue;
          const wait = Math.max(1, Math.min(IDLE_POLL_MS, nextRetry - Date.now()));
          await new Promise<void>((r) => {
            const timer = setTimeout(() => { wakeLoop = null; r(); }, wait);
            wakeLoop = () => { clearTimeout(timer); r(); };
          });
        }
        await Promise.all(inFlight.values());
      };

      const consumer = {
        notify,
        async stop() {
          if (!stopped) { stopped = true; consumers.delete(consumer); notify(); }
          await running;
          progressed();
        },
      };
      consumers.add(consumer);
      const running = loop().catch((err) => logger.error({ err, groupId: sub.groupId }, 'consumer loop crashed'));

      return {
        async caughtUp() {
          const targets = assigned.map((tp) => {
            const k = tpKey(tp.topic, tp.partition);
            return [k, plog.get(k)!.end] as const;
          });
          for (;;) {
            if (targets.every(([k, end]) => pos.get(k)! >= end)) return;
            if (stopped) throw new EventLogError('CONSUMER_STOPPED', `consumer ${sub.groupId} stopped before catching up`);
            await new Promise<void>((r) => {
              const l = () => { progressListeners.delete(l); r(); };
              progressListeners.add(l);
            });
          }
        },
        async lag() {
          return new Map(assigned.map((tp) => {
            const k = tpKey(tp.topic, tp.partition);
            return [k, plog.get(k)!.end - pos.get(k)!];
          }));
        },
        stop: () => consumer.stop(),
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...consumers].map((c) => c.stop()));
      for (const t of topics.values()) for (const p of t.parts) await p.idle();
      await metaChain;
      for (const g of groups.values()) await g.chain;
      for (const t of topics.values()) for (const p of t.parts) await p.fh.close().catch(() => {});
      openInProcess.delete(dir);
      await unlink(lockPath).catch(() => {});
      logger.info({ dir }, 'embedded event log closed');
    },
  };
  return log;
}

/** True when `<dataDir>/log/topics.json` exists (the CLI uses it to tell a fresh data dir). */
export async function embeddedEventLogExists(dataDir: string): Promise<boolean> {
  return stat(join(resolve(dataDir, 'log'), 'topics.json')).then(() => true, () => false);
}
