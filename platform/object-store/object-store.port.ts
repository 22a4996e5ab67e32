import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';

/**
 * ObjectStore: raw uploads and HLS output. S3 semantics (multipart upload with presigned part
 * URLs, ETag = quoted MD5 of a part). The embedded adapter keeps objects on disk and is served by
 * an S3-compatible endpoint in the gateway; the cluster adapter is S3 via @aws-sdk/client-s3.
 */
export interface UploadedPart {
  partNumber: number;
  /** Quoted hex MD5 of the part, as S3 returns it, e.g. `"9b2cf535f27731c974343645a3985328"`. */
  etag: string;
  /** Bytes. */
  size: number;
}

/**
 * Every method taking a key throws ObjectStoreError `InvalidArgument` for a key S3 would refuse or
 * that could escape the embedded store's folder (see s3-rules.ts assertValidKey); the embedded
 * store also refuses a path segment it cannot hold with `KeyTooLongError`. Other failures (network,
 * disk) surface as the underlying error, which callers treat as a 5xx/retry.
 */
export interface ObjectStore {
  /** Opens a multipart upload; returns its upload id (opaque, S3 UploadId). */
  createMultipartUpload(key: string, contentType: string): Promise<string>;
  /**
   * A presigned URL the client PUTs one part to (S3 UploadPart), valid for `expiresInSeconds`
   * (seconds, 1..604800: SigV4's 7-day maximum). `partNumber` is 1..10000.
   * `contentLength` (bytes, optional): the exact size the part must have; it is a signed header
   * (`Content-Length` in X-Amz-SignedHeaders), so a PUT of any other length fails the signature
   * with 403, as S3 does (issue 8: a part cannot exceed the upload's part-size plan).
   * @throws ObjectStoreError InvalidArgument (part number, expiry or content length out of range)
   */
  presignUploadPart(key: string, uploadId: string, partNumber: number, expiresInSeconds: number, contentLength?: number): Promise<string>;
  /** Parts received so far (S3 ListParts), ascending part number. @throws ObjectStoreError NoSuchUpload */
  listParts(key: string, uploadId: string): Promise<UploadedPart[]>;
  /**
   * Assembles the parts (S3 CompleteMultipartUpload); returns the object's size in bytes.
   * @throws ObjectStoreError InvalidPart (unknown part or ETag mismatch), InvalidPartOrder,
   *         EntityTooSmall (a part but the last under the minimum part size), NoSuchUpload
   */
  completeMultipartUpload(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<number>;
  /** Drops an open multipart upload and its parts (S3 AbortMultipartUpload). @throws ObjectStoreError NoSuchUpload */
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  /** Stores (or replaces) an object. */
  putObject(key: string, body: Buffer | Readable, contentType: string): Promise<void>;
  /**
   * Uploads a local file.
   * @throws the file's open error (ENOENT when it is missing: a transcoder's output deleted under
   *   it) as this call's rejection; the object is then not written.
   */
  putFile(key: string, path: string, contentType: string): Promise<void>;
  /**
   * Downloads an object to a local file (the transcoder reads sources from disk), through a temp
   * file renamed into place; the embedded store hard-links its file instead (O(1) for any size).
   * Either way the file is a snapshot: later writes to the key do not change it.
   * @throws ObjectStoreError NoSuchKey
   */
  downloadToFile(key: string, path: string): Promise<void>;
  /** The object as a stream (`size` in bytes), or undefined when the key holds no object. */
  getObject(key: string): Promise<{ body: Readable; size: number; contentType: string } | undefined>;
  exists(key: string): Promise<boolean>;
  /** Public (CDN-style) URL of an object, e.g. for the master playlist. */
  publicUrl(key: string): string;
}

/**
 * Deleting objects (issue 8: the media collector removes a deleted video's renditions, thumbnail
 * and raw upload). Apart from ObjectStore so stores and test doubles without it still type-check.
 */
export interface ObjectDeletion {
  /** Removes one object; no error if it is absent (S3 DeleteObject). */
  deleteObject(key: string): Promise<void>;
  /** Removes every object under `prefix` (a folder, ending with `/`); returns how many were removed. */
  deletePrefix(prefix: string): Promise<number>;
}

/**
 * True when `store` can delete (ObjectDeletion): the stores the deployments pass (embedded, S3) can,
 * though a port that takes a plain ObjectStore does not say so; a test double may not.
 */
export function supportsDeletion<S extends object>(store: S): store is S & ObjectDeletion {
  const s = store as Partial<ObjectDeletion>;
  return typeof s.deleteObject === 'function' && typeof s.deletePrefix === 'function';
}

export class ObjectStoreError extends Error {
  constructor(
    /**
     * S3 error code (Amazon S3 API reference, "List of error codes"): NoSuchUpload, NoSuchKey,
     * InvalidPart, InvalidPartOrder, EntityTooLarge, EntityTooSmall, InvalidArgument,
     * KeyTooLongError, XAmzContentSHA256Mismatch.
     */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ObjectStoreError';
  }
}

/**
 * A whole (small) object's bytes: playlists, sidecars, job and chunk results. undefined when the
 * key holds no object. @throws what `getObject` and the body stream throw
 */
export async function readObject(store: Pick<ObjectStore, 'getObject'>, key: string): Promise<Buffer | undefined> {
  const got = await store.getObject(key);
  return got ? buffer(got.body) : undefined;
}
