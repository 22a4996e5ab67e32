/**
 * On-disk format of one record in a segment of the embedded log. Every field is little endian:
 *
 *   frame  = u32 bodyLength | u32 crc32(body) | body
 *   body   = u8 magic (1)
 *          | f64 offset                   dense per partition, from 0
 *          | f64 timestampMs              milliseconds since epoch
 *          | i32 keyLength   (-1 = null)  | key, UTF-8
 *          | i32 valueLength (-1 = null)  | value bytes
 *          | u32 headersLength (0 = none) | headers as JSON, UTF-8
 *
 * `bodyLength` counts the body only (not the 8-byte frame header); the CRC is CRC-32 (IEEE 802.3,
 * as zlib and gzip) over the body. A record is encoded once with offset 0 and sealed (offset and
 * CRC patched in place) when the group commit assigns its offset.
 */
import * as zlib from 'node:zlib';
import type { LogRecord, ProduceRecord } from '../event-log.port.ts';

/** Bytes of the frame header (`u32 bodyLength | u32 crc`). */
export const FRAME_HEADER_BYTES = 8;
/** Smallest body: magic, offset, timestamp, the three length fields, no key, value or headers. */
export const MIN_BODY_BYTES = 1 + 8 + 8 + 4 + 4 + 4;
const MAGIC = 1;
const OFFSET_AT = 1;
const TIMESTAMP_AT = 9;

/** CRC-32 (IEEE 802.3). `zlib.crc32` exists from Node 20.15 / 22.2; earlier 22.x use the table. */
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

/** Encodes a record (frame included) with offset 0 and no CRC; {@link sealRecord} completes it. */
export function encodeRecord(rec: ProduceRecord, timestamp: number): Buffer {
  const key = rec.key === null ? null : Buffer.from(rec.key, 'utf8');
  const value = rec.value;
  const headers = rec.headers && Object.keys(rec.headers).length ? Buffer.from(JSON.stringify(rec.headers), 'utf8') : null;
  const bodyLen = MIN_BODY_BYTES + (key?.length ?? 0) + (value?.length ?? 0) + (headers?.length ?? 0);
  const buf = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyLen);
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

/** Body bytes of an encoded record (what `maxRecordBytes` limits). */
export function bodyBytes(encoded: Buffer): number {
  return encoded.length - FRAME_HEADER_BYTES;
}

/** Writes `offset` and the CRC of the body into an encoded record, in place. */
export function sealRecord(buf: Buffer, offset: number): void {
  buf.writeDoubleLE(offset, FRAME_HEADER_BYTES + OFFSET_AT);
  buf.writeUInt32LE(crc32(buf.subarray(FRAME_HEADER_BYTES)), 4);
}

/** The frame header of the record starting at `at` (the caller checked 8 bytes are there). */
export function readFrameHeader(buf: Buffer, at: number): { bodyLength: number; crc: number } {
  return { bodyLength: buf.readUInt32LE(at), crc: buf.readUInt32LE(at + 4) };
}

/**
 * Checks a record body read back from disk: CRC, magic byte and the offset the partition expects
 * next. Returns the record's timestamp (ms) when valid, undefined when the body is torn or foreign.
 */
export function verifyBody(body: Buffer, crc: number, expectedOffset: number): number | undefined {
  if (crc32(body) !== crc) return undefined;
  if (body.readUInt8(0) !== MAGIC || body.readDoubleLE(OFFSET_AT) !== expectedOffset) return undefined;
  return body.readDoubleLE(TIMESTAMP_AT);
}

/**
 * True when `body` is a whole record of this format (CRC and magic), whatever its offset: how
 * the recovery scan recognises valid records after a bad one (segment-scan.ts).
 */
export function verifyFrame(body: Buffer, crc: number): boolean {
  return crc32(body) === crc && body.readUInt8(0) === MAGIC;
}

/**
 * Decodes the record starting at `at` in `buf`, which must lie in the acknowledged range (written
 * by this process or checked by the recovery scan); returns it and the position of the next one.
 */
export function decodeRecord(buf: Buffer, at: number, topic: string, partition: number): { record: LogRecord; next: number } {
  const bodyLen = buf.readUInt32LE(at);
  let o = at + FRAME_HEADER_BYTES + 1;
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
  return { record: { topic, partition, offset, key, value, headers, timestamp }, next: at + FRAME_HEADER_BYTES + bodyLen };
}
