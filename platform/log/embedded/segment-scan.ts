/**
 * The recovery scan of one partition segment (issue 8, finding 8 "log integrity").
 *
 * The scan walks the segment from byte 0, checking each frame (length bounds, CRC-32, magic,
 * dense offset). Where it stops before the end of the file, it tells apart two cases:
 * - a **torn tail**: nothing valid follows the first bad byte. Only the last group commit can be
 *   in that state (it was being written when the process died, so it was never acknowledged);
 *   cutting it loses nothing acknowledged. Kafka does the same after an unclean shutdown: it
 *   recovers the segments after the recovery point and truncates after the last valid batch.
 * - **corruption**: a valid frame follows the bad one. The bad bytes sit in the middle of
 *   acknowledged, fsynced data (a disk or a person changed them): cutting there would silently
 *   drop acknowledged events, so the caller refuses to start (`LOG_CORRUPTED`, file + byte offset).
 */
import type { FileHandle } from 'node:fs/promises';
import { FRAME_HEADER_BYTES, MIN_BODY_BYTES, readFrameHeader, verifyBody, verifyFrame } from './record-format.ts';

const SCAN_CHUNK_BYTES = 1 << 20;

/** What a scan of a segment found. */
export interface SegmentScan {
  /** File position of offset i. */
  positions: number[];
  /** Max timestamp over offsets 0..i (Kafka's time-index semantics), for binary search. */
  maxTs: number[];
  /** Bytes of the segment holding whole, valid records (from byte 0). */
  validBytes: number;
  /** Size of the file, bytes. */
  fileSize: number;
  /**
   * Set when the scan stopped before the end: `torn-tail` (nothing valid after `validBytes`) or
   * `corrupted` (a valid frame starts at `nextValidAt`, after the bad bytes at `validBytes`).
   */
  damage?: { kind: 'torn-tail' } | { kind: 'corrupted'; nextValidAt: number };
}

/**
 * Scans a segment of `fileSize` bytes. Frames whose body is over `maxRecordBytes` count as bad.
 * @param onProgress called with the bytes scanned so far, about every MiB (for a progress bar).
 * @throws fs errors of the reads.
 */
export async function scanSegment(
  fh: FileHandle,
  fileSize: number,
  maxRecordBytes: number,
  onProgress?: (scannedBytes: number) => void,
): Promise<SegmentScan> {
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
    if (onProgress) onProgress(from);
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
  onProgress?.(fileSize);
  if (pos >= fileSize) return { positions, maxTs, validBytes: pos, fileSize };
  // Look for any whole, CRC-valid frame after the first bad byte. The next record after a
  // corrupted one is found within a few bytes; a torn tail is at most one group commit long.
  for (let at = pos + 1; at + FRAME_HEADER_BYTES + MIN_BODY_BYTES <= fileSize; at++) {
    if (!(await ensure(at, at + FRAME_HEADER_BYTES))) break;
    const { bodyLength, crc } = readFrameHeader(buf, at - bufStart);
    if (bodyLength < MIN_BODY_BYTES || bodyLength > maxRecordBytes) continue;
    if (!(await ensure(at, at + FRAME_HEADER_BYTES + bodyLength))) continue;
    const b = at - bufStart + FRAME_HEADER_BYTES;
    if (verifyFrame(buf.subarray(b, b + bodyLength), crc)) {
      return { positions, maxTs, validBytes: pos, fileSize, damage: { kind: 'corrupted', nextValidAt: at } };
    }
  }
  return { positions, maxTs, validBytes: pos, fileSize, damage: { kind: 'torn-tail' } };
}
