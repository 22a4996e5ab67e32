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
import { FRAME_HEADER_BYTES, MIN_BODY_BYTES, decodeRecord, readFrameHeader, sealRecord, verifyBody } from './record-format.ts';

const SCAN_CHUNK_BYTES = 1 << 20;

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

/** What a recovery scan rebuilds from a segment. */
interface SegmentIndex {
  /** File position of offset i. */
  positions: number[];
  /** Max timestamp over offsets 0..i (Kafka's time-index semantics), for binary search. */
  maxTs: number[];
  /** Bytes of the segment holding whole, valid records. */
  validBytes: number;
}

interface PendingAppend {
  encoded: Buffer[];
  timestamps: number[];
  base: number;
  resolve(base: number): void;
  reject(err: Error): void;
}

export class PartitionLog {
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
   * Opens a partition's segment. With `recovery`, scans it and truncates a torn tail (a crash
   * mid-write): the first record that is short, oversized, fails its CRC or breaks the offset
   * sequence ends the valid log. Without it, the segment must be empty (a new topic).
   */
  static async open(opts: PartitionLogOptions, recovery?: { maxRecordBytes: number; logger: Logger }): Promise<PartitionLog> {
    const { path, topic, partition } = opts;
    const fh = await open(path, 'a+').then((h) => h.close()).then(() => open(path, 'r+'));
    let index: SegmentIndex = { positions: [], maxTs: [], validBytes: 0 };
    if (recovery) {
      const { size } = await fh.stat();
      index = await scanSegment(fh, size, recovery.maxRecordBytes);
      if (index.validBytes < size) {
        recovery.logger.warn(
          { topic, partition, droppedBytes: size - index.validBytes, records: index.positions.length },
          'truncating torn tail of event log segment',
        );
        await fh.truncate(index.validBytes);
        if (opts.fsync) await opts.syncData(fh);
      }
    }
    return new PartitionLog(topic, partition, fh, opts.fsync, opts.syncData, opts.onAppended, index.positions, index.maxTs, index.validBytes);
  }

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
            await this.syncData(this.fh);
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

  /** Reads up to `max` acknowledged records from offset `from` (one pread through the index). */
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

async function writeFully(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    if (bytesWritten <= 0) throw new Error('short write');
    done += bytesWritten;
  }
}

/**
 * Scans a segment of `fileSize` bytes from the start, rebuilding the index. Stops at the first
 * short, oversized (body over `maxRecordBytes`), CRC-failing or out-of-sequence record.
 */
async function scanSegment(fh: FileHandle, fileSize: number, maxRecordBytes: number): Promise<SegmentIndex> {
  const positions: number[] = [];
  const maxTs: number[] = [];
  let buf = Buffer.alloc(0);
  let bufStart = 0;
  /** Makes bytes `from..to` of the file available in `buf`; false when the file ends first. */
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
    if (!(await ensure(pos, pos + FRAME_HEADER_BYTES))) break;
    const { bodyLength, crc } = readFrameHeader(buf, pos - bufStart);
    if (bodyLength < MIN_BODY_BYTES || bodyLength > maxRecordBytes) break;
    if (!(await ensure(pos, pos + FRAME_HEADER_BYTES + bodyLength))) break;
    const b = pos - bufStart + FRAME_HEADER_BYTES;
    const timestamp = verifyBody(buf.subarray(b, b + bodyLength), crc, positions.length);
    if (timestamp === undefined) break;
    runMax = Math.max(runMax, timestamp);
    positions.push(pos);
    maxTs.push(runMax);
    pos += FRAME_HEADER_BYTES + bodyLength;
  }
  return { positions, maxTs, validBytes: pos };
}
