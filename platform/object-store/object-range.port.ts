import type { Readable } from 'node:stream';
import type { ObjectStore } from './object-store.port.ts';

/**
 * Optional capability of an ObjectStore adapter: read a byte range without streaming the whole
 * object (HTTP Range for players seeking in segments; S3 GetObject with `Range`). Both adapters
 * here implement it; consumers check with `supportsRangeReads` and fall back to `getObject`.
 */
export interface ObjectRangeReader {
  /**
   * Bytes `start..end` (inclusive, as in HTTP `Range: bytes=start-end`) of the object, or the
   * whole object when `range` is omitted. `size` is the full object size in bytes. The caller
   * must have checked the range against the size (see `headObject`). Undefined if the key is absent.
   */
  getObjectRange(
    key: string,
    range?: { start: number; end: number },
  ): Promise<{ body: Readable; size: number; contentType: string; etag?: string; lastModified?: Date } | undefined>;
  /** Metadata without the body; undefined if absent. */
  headObject(key: string): Promise<{ size: number; contentType: string; etag?: string; lastModified?: Date } | undefined>;
}

export function supportsRangeReads(store: ObjectStore): store is ObjectStore & ObjectRangeReader {
  const s = store as Partial<ObjectRangeReader>;
  return typeof s.getObjectRange === 'function' && typeof s.headObject === 'function';
}
