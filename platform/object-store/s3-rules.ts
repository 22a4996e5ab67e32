import { createHash } from 'node:crypto';
import type { WriteStream } from 'node:fs';
import { ObjectStoreError } from './object-store.port.ts';

/**
 * S3 multipart rules shared by the embedded store, the S3 endpoint and the S3 adapter.
 * Source: Amazon S3 API reference, "Amazon S3 multipart upload limits" and CompleteMultipartUpload.
 */

/** Smallest allowed size of every part except the last, bytes (S3: 5 MiB). */
export const S3_MIN_PART_SIZE_BYTES = 5 * 1024 * 1024;
/** Part numbers run from 1 to 10,000 (S3). */
const S3_MAX_PART_NUMBER = 10_000;
/** Longest key, bytes of UTF-8 (S3). */
const S3_MAX_KEY_BYTES = 1024;
/** Longest validity of a SigV4 presigned URL, seconds (7 days, SigV4 spec). */
export const SIGV4_MAX_EXPIRES_SECONDS = 604_800;

/**
 * Rejects keys that could escape the store's folder or that S3 would refuse: empty, over 1024
 * bytes, absolute (`/x`, `C:x`), with a backslash, a NUL or other control character, or with an
 * empty, `.` or `..` path segment. The embedded store maps keys to file paths, so this is its
 * path-traversal guard.
 * @throws ObjectStoreError InvalidArgument
 */
export function assertValidKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new ObjectStoreError('InvalidArgument', 'object key is empty');
  if (Buffer.byteLength(key, 'utf8') > S3_MAX_KEY_BYTES) {
    throw new ObjectStoreError('InvalidArgument', `object key is longer than ${S3_MAX_KEY_BYTES} bytes`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(key)) throw new ObjectStoreError('InvalidArgument', 'object key contains a control character or a backslash');
  if (key.startsWith('/') || /^[A-Za-z]:/.test(key)) throw new ObjectStoreError('InvalidArgument', 'object key must be relative');
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new ObjectStoreError('InvalidArgument', `object key has an empty, "." or ".." segment: ${JSON.stringify(key)}`);
    }
  }
}

/**
 * A folder prefix as ObjectDeletion.deletePrefix takes it: ends with `/` and is the start of a valid
 * key (assertValidKey of `prefix + "x"`), e.g. `videos/v1/`. A bare `""` or `/` would mean the whole
 * bucket, which no caller means.
 * @throws ObjectStoreError InvalidArgument
 */
export function assertValidFolderPrefix(prefix: string): void {
  if (typeof prefix !== 'string' || !prefix.endsWith('/')) {
    throw new ObjectStoreError('InvalidArgument', `not a folder prefix (must end with "/"): ${JSON.stringify(prefix)}`);
  }
  assertValidKey(`${prefix}x`);
}

/** @throws ObjectStoreError InvalidArgument unless 1 ≤ partNumber ≤ 10,000 (S3). */
export function assertValidPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > S3_MAX_PART_NUMBER) {
    throw new ObjectStoreError('InvalidArgument', `part number must be an integer between 1 and ${S3_MAX_PART_NUMBER}`);
  }
}

/** `"abc"`, `abc`, `&quot;abc&quot;` → `abc` (lower case), so ETags compare regardless of quoting. */
export function normalizeEtag(etag: string): string {
  return etag.replace(/&quot;/g, '').replace(/"/g, '').trim().toLowerCase();
}

/** Quoted ETag as S3 returns it in headers and XML. */
export function quoteEtag(hex: string): string {
  return `"${normalizeEtag(hex)}"`;
}

/**
 * ETag S3 gives an object assembled by CompleteMultipartUpload: MD5 of the concatenated binary
 * MD5s of the parts, then `-<number of parts>` (de-facto S3 behaviour, relied on by the AWS CLI).
 * Lets adapters recognise a repeated completion with the same parts.
 */
export function multipartEtag(partEtags: readonly string[]): string {
  const md5 = createHash('md5');
  for (const etag of partEtags) md5.update(Buffer.from(normalizeEtag(etag), 'hex'));
  return `"${md5.digest('hex')}-${partEtags.length}"`;
}

/**
 * Checks the part list of a CompleteMultipartUpload request: not empty, part numbers valid and
 * strictly ascending (S3 InvalidPartOrder).
 * @throws ObjectStoreError InvalidPart (empty list, bad part number), InvalidPartOrder
 */
export function assertPartListOrder(parts: readonly { partNumber: number; etag: string }[]): void {
  if (parts.length === 0) throw new ObjectStoreError('InvalidPart', 'CompleteMultipartUpload needs at least one part');
  let previous = 0;
  for (const part of parts) {
    if (!Number.isInteger(part.partNumber) || part.partNumber < 1 || part.partNumber > S3_MAX_PART_NUMBER) {
      throw new ObjectStoreError('InvalidPart', `invalid part number ${part.partNumber}`);
    }
    if (part.partNumber <= previous) {
      throw new ObjectStoreError('InvalidPartOrder', 'parts must be listed in strictly ascending part-number order');
    }
    previous = part.partNumber;
  }
}

/** RFC 3986 percent-encoding as SigV4 wants it (encodeURIComponent leaves `!'()*` alone). */
export function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Key → URL path, each segment encoded, `/` kept (S3 path-style addressing). */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeRfc3986).join('/');
}

/**
 * Destroys a file write stream and waits until its descriptor is closed, so a following `rm`
 * cannot race the stream's own (async) open and leave an orphaned temp file.
 */
export async function discardWriteStream(out: WriteStream): Promise<void> {
  if (out.closed) return;
  const closed = new Promise<void>((resolve) => out.once('close', () => resolve()));
  out.destroy();
  await closed;
}

/**
 * A presigned part's signed length: undefined (not signed) or a safe integer ≥ 0, bytes.
 * @throws ObjectStoreError InvalidArgument otherwise
 */
export function assertContentLength(contentLength: number | undefined): void {
  if (contentLength !== undefined && (!Number.isSafeInteger(contentLength) || contentLength < 0)) {
    throw new ObjectStoreError('InvalidArgument', 'contentLength must be an integer number of bytes >= 0');
  }
}
