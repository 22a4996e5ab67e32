/**
 * One partition of the embedded log: its append-only segment file, the in-memory index rebuilt
 * on open (offset → file position, prefix-max timestamp) and the group-commit queue.
 *
 * Appends are acknowledged only once written and (with `fsync`) fdatasync'ed; appends that arrive
 * while a flush runs join the next one, so a burst costs one write and one fsync. Readers see only
 * acknowledged records, the analogue of Kafka's high watermark.
 */
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { LogRecord } from '../event-log.port.ts';
import { EventLogError } from '../event-log.errors.ts';
import { decodeRecord, sealRecord } from './record-format.ts';
import { scanSegment } from './segment-scan.ts';
import { writeAllAt } from '../../files/write-at.ts';

/**
 * Makes the bytes written so far through `file` durable; resolves once they are on stable storage,
 * rejects with the fs error (EIO, ENOSPC…) otherwise. The default is {@link fdatasync}.
 */
export type SyncData = (file: FileHandle) => Promise<void>;

/** The default {@link SyncData}: `fdatasync(2)` of the segment. */
export const fdatasync: SyncData = (file) => file.datasync();

export interface PartitionLogOptions {
  topic: string;
  partition: number;
  /** The segment file; created if missing. */
  path: string;
  /** fdatasync each group commit before acknowledging it. */
  fsync: boolean;
  /** Makes the segment's written bytes durable (see `EmbeddedEventLogOptions.syncData`). */
  syncData: SyncData;
  /** Called after each group commit has made records visible (wakes the consumers). */
  onAppended: () => void;
}

/** What the recovery of an existing segment needs. */
export interface PartitionRecovery {
  maxRecordBytes: number;
  logger: Logger;
  /**
   * The log was closed cleanly last time (the `CLEAN_SHUTDOWN` marker was there): every byte was
   * acknowledged, so no truncation at all is allowed — even a bad tail is corruption.
   */
  cleanShutdown?: boolean;
}

interface PendingAppend {
  encoded: Buffer[];
  timestamps: number[];
  base: number;
  resolve(base: number): void;
  reject(err: Error): void;
}

export class PartitionLog {
  /**
   * The latest appended bytes, in write order (`start`: byte offset in the segment), at most
   * TAIL_CACHE_BYTES: consumers that keep up read new records from here rather than the file.
   */
  private readonly tail: { start: number; buf: Buffer }[] = [];
  private tailBytes = 0;
  private queue: PendingAppend[] = [];
  private draining: Promise<void> | null = null;
  private broken: EventLogError | null = null;

  private constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly fh: FileHandle,
    private readonly fsync: boolean,
    private readonly syncData: SyncData,
    private readonly onAppended: () => void,
    /** File position of offset i. */
    private readonly positions: number[],
    /** Max timestamp over offsets 0..i. */
    private readonly maxTs: number[],
    /** Acknowledged (visible) bytes. */
    private size: number,
  ) {}

  /**
   * Opens a partition's segment. With `recovery`, scans it (segment-scan.ts): a torn tail (bad
   * bytes at the end with nothing valid after them: a crash mid-write of an unacknowledged group
   * commit) is truncated with a warning; bad bytes followed by a valid record, or any bad bytes
   * after a clean shutdown, stop the open. Without `recovery`, the segment must be empty (a new topic).
   * @throws EventLogError LOG_CORRUPTED naming the file and the byte offset of the first bad byte.
   */
  static async open(opts: PartitionLogOptions, recovery?: PartitionRecovery): Promise<PartitionLog> {
    const { path, topic, partition } = opts;
    const fh = await open(path, 'a+').then((h) => h.close()).then(() => open(path, 'r+'));
    let index = { positions: [] as number[], maxTs: [] as number[], validBytes: 0 };
    if (recovery) {
      const { size } = await fh.stat();
      const scan = await scanSegment(fh, size, recovery.maxRecordBytes);
      index = scan;
      if (scan.damage && (scan.damage.kind === 'corrupted' || recovery.cleanShutdown)) {
        await fh.close();
        const why = scan.damage.kind === 'corrupted'
          ? `a valid record follows at byte ${scan.damage.nextValidAt}`
          : 'the log was shut down cleanly, so no tail may be torn';
        throw new EventLogError(
          'LOG_CORRUPTED',
          `event log segment ${path} (${topic}/${partition}) is corrupted at byte offset ${scan.validBytes} ` +
            `(after ${scan.positions.length} valid records); ${why}. Refusing to start rather than drop acknowledged ` +
            'records: restore the segment from a backup or replica (streamwave log verify lists every damaged partition).',
        );
      }
      if (scan.damage) {
        recovery.logger.warn(
          { topic, partition, file: path, atByte: scan.validBytes, droppedBytes: size - scan.validBytes, records: scan.positions.length },
          'truncating torn tail of event log segment (unacknowledged write of a crash)',
        );
        await fh.truncate(scan.validBytes);
        if (opts.fsync) await opts.syncData(fh);
      }
    }
    return new PartitionLog(topic, partition, fh, opts.fsync, opts.syncData, opts.onAppended, index.positions, index.maxTs, index.validBytes);
  }

  /**
   * Why the partition refuses appends (the failed fsync's message), undefined while it accepts
   * them. Readiness reports it as LOG_WRITES_REFUSED (issue 8, finding 7).
   */
  get refusal(): string | undefined { return this.broken?.message; }

  /** The high watermark: offset of the next record. */
  get end(): number { return this.positions.length; }

  /**
   * Queues encoded records (see record-format.ts; sealed here) with their timestamps; resolves
   * with the base offset once durable.
   * @throws EventLogError IO_FAILED when the write or fsync fails; after a failed fsync the
   *   partition refuses every further append until the log is reopened.
   */
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

  async close(): Promise<void> {
    await this.fh.close().catch(() => {});
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
        const chunk = bufs.length === 1 ? bufs[0] : Buffer.concat(bufs);
        try {
          writeAllAt(this.fh, chunk, this.size);
        } catch (cause) {
          const err = new EventLogError('IO_FAILED', `write to ${this.topic}/${this.partition} failed: ${(cause as Error).message}`, { cause });
          // Remove the partial write so the next append starts on a record boundary.
          await this.fh.truncate(this.size).catch(() => { this.broken = err; });
          batch.forEach((p) => p.reject(err));
          continue;
        }
        if (this.fsync) {
          try {
            await this.syncData(this.fh);
          } catch (cause) {
            // After a failed fsync the page cache state is unknown ("fsyncgate"): refuse further appends.
            this.broken = new EventLogError('IO_FAILED', `fsync of ${this.topic}/${this.partition} failed: ${(cause as Error).message}`, { cause });
            batch.forEach((p) => p.reject(this.broken!));
            break;
          }
        }
        for (let i = 0; i < newPos.length; i++) { this.positions.push(newPos[i]); this.maxTs.push(newMax[i]); }
        this.remember(this.size, chunk);
        this.size = pos;
        batch.forEach((p) => p.resolve(p.base));
        this.onAppended();
      }
      if (this.broken) this.queue.splice(0).forEach((p) => p.reject(this.broken!));
    } finally {
      this.draining = null;
    }
  }

  /** Reads up to `max` acknowledged records from offset `from` (one pread through the index). */
  async read(from: number, max: number): Promise<LogRecord[]> {
    const end = this.end;
    if (from >= end || max <= 0) return [];
    const last = Math.min(end, from + max);
    const start = this.positions[from];
    const stop = last < end ? this.positions[last] : this.size;
    const buf = this.fromTail(start, stop) ?? await this.readFile(start, stop);
    const out: LogRecord[] = [];
    let at = 0;
    while (at < buf.length) {
      const { record, next } = decodeRecord(buf, at, this.topic, this.partition);
      out.push(record);
      at = next;
    }
    return out;
  }

  private async readFile(start: number, stop: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(stop - start);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await this.fh.read(buf, got, buf.length - got, start + got);
      if (bytesRead <= 0) throw new EventLogError('IO_FAILED', `short read on ${this.topic}/${this.partition}`);
      got += bytesRead;
    }
    return buf;
  }

  /** Keeps a written chunk in the tail cache, dropping the oldest past TAIL_CACHE_BYTES. */
  private remember(start: number, chunk: Buffer): void {
    if (chunk.length > TAIL_CACHE_BYTES) {
      this.tail.length = 0;
      this.tailBytes = 0;
      return;
    }
    // A small chunk is a slice of Node's shared buffer pool: copied, so the cache pins only its own bytes.
    let buf = chunk;
    if (chunk.byteOffset !== 0 || chunk.buffer.byteLength !== chunk.length) {
      buf = Buffer.allocUnsafeSlow(chunk.length);
      chunk.copy(buf);
    }
    this.tail.push({ start, buf });
    this.tailBytes += buf.length;
    while (this.tailBytes > TAIL_CACHE_BYTES) this.tailBytes -= this.tail.shift()!.buf.length;
  }

  /** Bytes `start..stop` of the segment from the tail cache, or undefined when they are not all there. */
  private fromTail(start: number, stop: number): Buffer | undefined {
    if (!this.tail.length || start < this.tail[0].start) return undefined;
    let i = this.tail.length - 1;
    while (this.tail[i].start > start) i--;
    const pieces: Buffer[] = [];
    for (let at = start; at < stop; i++) {
      const c = this.tail[i];
      if (!c) return undefined;
      const piece = c.buf.subarray(at - c.start, Math.min(c.buf.length, stop - c.start));
      pieces.push(piece);
      at += piece.length;
    }
    return pieces.length === 1 ? pieces[0] : Buffer.concat(pieces);
  }

  /** First offset whose timestamp (ms) is ≥ `ts` (binary search on the prefix max), end offset if none. */
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

/** Bytes of recent appends a partition keeps in memory for its consumers. */
const TAIL_CACHE_BYTES = 1024 * 1024;
