import type { Readable } from 'node:stream';

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

export interface ObjectStore {
  /** Opens a multipart upload; returns its upload id. */
  createMultipartUpload(key: string, contentType: string): Promise<string>;
  /**
   * A presigned URL the client PUTs one part to (S3 UploadPart), valid for `expiresInSeconds`.
   */
  presignUploadPart(key: string, uploadId: string, partNumber: number, expiresInSeconds: number): Promise<string>;
  /** Parts received so far (S3 ListParts). @throws ObjectStoreError NO_SUCH_UPLOAD */
  listParts(key: string, uploadId: string): Promise<UploadedPart[]>;
  /**
   * Assembles the parts (S3 CompleteMultipartUpload); returns the object's size in bytes.
   * @throws ObjectStoreError INVALID_PART (unknown part or ETag mismatch), INVALID_PART_ORDER, NO_SUCH_UPLOAD
   */
  completeMultipartUpload(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<number>;
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  putObject(key: string, body: Buffer | Readable, contentType: string): Promise<void>;
  /** Uploads a local file. */
  putFile(key: string, path: string, contentType: string): Promise<void>;
  /** Downloads an object to a local file (the transcoder reads sources from disk). */
  downloadToFile(key: string, path: string): Promise<void>;
  getObject(key: string): Promise<{ body: Readable; size: number; contentType: string } | undefined>;
  exists(key: string): Promise<boolean>;
  /** Public (CDN-style) URL of an object, e.g. for the master playlist. */
  publicUrl(key: string): string;
}

export class ObjectStoreError extends Error {
  constructor(
    /** S3-style code: NoSuchUpload, InvalidPart, InvalidPartOrder, EntityTooLarge, EntityTooSmall, NoSuchKey. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ObjectStoreError';
  }
}
