/**
 * Embedded (standalone-mode) ObjectStore: files on disk (object-files.ts), written to a temp file
 * then renamed into place so readers never see a partial object, served to clients through the
 * S3-compatible endpoint (`platform/object-store/http`) and the media plugin. Multipart semantics
 * follow S3 (multipart-uploads.ts); presigned part URLs are real SigV4 query-string URLs
 * (presigner.ts).
 */
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import pino from 'pino';
import { openFileStream, writeStreamToFile } from '../../files/file-streams.ts';
import type { ObjectRangeReader } from '../object-range.port.ts';
import { ObjectStoreError, type ObjectDeletion, type ObjectStore } from '../object-store.port.ts';
import { S3_MIN_PART_SIZE_BYTES, encodeKeyPath, quoteEtag } from '../s3-rules.ts';
import { MultipartUploads, type EmbeddedUploadedPart } from './multipart-uploads.ts';
import { ObjectFiles, assertStorableKey, type EmbeddedObjectInfo } from './object-files.ts';
import { PartUrlPresigner, type EmbeddedS3Config } from './presigner.ts';

export type { EmbeddedObjectInfo } from './object-files.ts';
export type { EmbeddedUploadedPart } from './multipart-uploads.ts';
export type { EmbeddedS3Config } from './presigner.ts';

export interface EmbeddedObjectStoreOptions {
  /** Root folder; objects live under `dir/objects/<key>`, uploads under `dir/multipart/<uploadId>/`. */
  dir: string;
  /** Origin clients reach the gateway at, e.g. `http://127.0.0.1:8080` (no trailing slash). */
  publicBaseUrl: string;
  s3: EmbeddedS3Config;
  /** Path the media plugin serves objects under; `publicUrl(key)` = publicBaseUrl + this + `/` + key. Default `/media`. */
  mediaPathPrefix?: string;
  /** Minimum size of every part but the last, bytes. Default 5 MiB (S3); tests lower it. */
  minPartSizeBytes?: number;
  /** Clock for presigning (tests). Default `() => new Date()`. */
  now?: () => Date;
  logger?: pino.Logger;
}

/** Embedded ObjectStore plus what the S3 endpoint and the media plugin need beyond the port. */
export interface EmbeddedObjectStore extends ObjectStore, ObjectRangeReader, ObjectDeletion {
  readonly s3: Readonly<EmbeddedS3Config>;
  /**
   * Streams one part (S3 UploadPart) to `dir/multipart/<uploadId>/<partNumber>.part`; replaces an
   * earlier upload of the same part number. Reads at most `maxBytes` + 1 bytes, then gives up
   * without destroying `body` (the HTTP endpoint still has to answer on that socket).
   * Returns the quoted MD5 ETag.
   * @throws ObjectStoreError NoSuchUpload (unknown upload, or `opts.key` is not the upload's key),
   *   InvalidArgument (part number), EntityTooLarge, XAmzContentSHA256Mismatch (opts.expectedSha256)
   */
  writePart(
    uploadId: string,
    partNumber: number,
    body: Readable | Buffer,
    maxBytes: number,
    opts?: { key?: string; expectedSha256?: string },
  ): Promise<string>;
  /** Like `putObject`, with a size limit and an optional SHA-256 check; returns the quoted ETag. */
  writeObject(
    key: string,
    body: Readable | Buffer,
    contentType: string,
    opts?: { maxBytes?: number; expectedSha256?: string },
  ): Promise<string>;
  listParts(key: string, uploadId: string): Promise<EmbeddedUploadedPart[]>;
  headObject(key: string): Promise<EmbeddedObjectInfo | undefined>;
  /** Removes an object; no error if absent (S3 DeleteObject). */
  deleteObject(key: string): Promise<void>;
  /**
   * Folders whose entries are scratch: partial objects (`tmp/`) and multipart uploads
   * (`multipart/`); the upload reaper removes the entries untouched for longer than the expiry.
   */
  readonly scratchDirs: readonly string[];
  /**
   * Removes every object under the folder `prefix` (ends with `/`); returns how many; see ObjectDeletion.
   * @throws ObjectStoreError InvalidArgument when `prefix` is not a folder prefix (assertValidFolderPrefix)
   */
  deletePrefix(prefix: string): Promise<number>;
  /**
   * Up to `maxKeys` objects whose key starts with `prefix` and sorts after `startAfter` (ascending
   * UTF-8 bytes, as S3 ListObjectsV2), `truncated` when more follow. Serves the endpoint's ListObjectsV2.
   */
  listObjects(prefix: string, startAfter: string | undefined, maxKeys: number): Promise<{ objects: ({ key: string } & EmbeddedObjectInfo)[]; truncated: boolean }>;
}

/**
 * Creates the store over `opts.dir` (folders are created on first write).
 * @throws TypeError when `opts.publicBaseUrl` is not a URL.
 */
export function createEmbeddedObjectStore(opts: EmbeddedObjectStoreOptions): EmbeddedObjectStore {
  const mediaPathPrefix = opts.mediaPathPrefix ?? '/media';
  const logger = opts.logger ?? pino({ level: 'silent' });
  const publicBaseUrl = opts.publicBaseUrl.replace(/\/+$/, '');
  const s3: EmbeddedS3Config = { ...opts.s3, endpointPath: opts.s3.endpointPath.replace(/\/+$/, '') };
  const presigner = new PartUrlPresigner(opts.publicBaseUrl, s3, opts.now ?? (() => new Date()));
  const files = new ObjectFiles(resolve(opts.dir));
  const uploads = new MultipartUploads(files, opts.minPartSizeBytes ?? S3_MIN_PART_SIZE_BYTES, logger);

  const store: EmbeddedObjectStore = {
    s3,
    scratchDirs: [files.tmpDir, files.multipartDir],

    createMultipartUpload: (key, contentType) => uploads.create(key, contentType),
    presignUploadPart: (key, uploadId, partNumber, expiresInSeconds, contentLength) =>
      presigner.presignUploadPart(key, uploadId, partNumber, expiresInSeconds, contentLength),
    listParts: (key, uploadId) => uploads.listParts(key, uploadId),
    writePart: (uploadId, partNumber, body, maxBytes, partOpts) => uploads.writePart(uploadId, partNumber, body, maxBytes, partOpts),
    completeMultipartUpload: (key, uploadId, parts) => uploads.complete(key, uploadId, parts),
    abortMultipartUpload: (key, uploadId) => uploads.abort(key, uploadId),

    async putObject(key, body, contentType) {
      await store.writeObject(key, body, contentType);
    },

    async writeObject(key, body, contentType, writeOpts) {
      assertStorableKey(key);
      const { tmp, size, md5 } = await files.spool(body, writeOpts?.maxBytes, writeOpts?.expectedSha256);
      const etag = quoteEtag(md5);
      await files.commit(key, tmp, { size, contentType, etag, lastModified: new Date() });
      return etag;
    },

    async putFile(key, path, contentType) {
      const file = await openFileStream(path);
      try {
        await store.writeObject(key, file.body, contentType);
      } finally {
        file.body.destroy();
      }
    },

    async downloadToFile(key, path) {
      // A large source is linked, not copied: its transcode starts at once (issue 11).
      if (await files.linkTo(key, path)) return;
      const obj = await files.open(key);
      if (!obj) throw new ObjectStoreError('NoSuchKey', `no object ${JSON.stringify(key)}`);
      await writeStreamToFile(obj.body, path);
    },

    async getObject(key) {
      const obj = await files.open(key);
      return obj && { body: obj.body, size: obj.size, contentType: obj.contentType };
    },

    getObjectRange: (key, range) => files.open(key, range),
    headObject: (key) => files.head(key),

    async exists(key) {
      return (await store.headObject(key)) !== undefined;
    },

    deleteObject: (key) => files.delete(key),
    deletePrefix: (prefix) => files.deletePrefix(prefix),
    listObjects: (prefix, startAfter, maxKeys) => files.list(prefix, startAfter, maxKeys),

    publicUrl(key) {
      return `${publicBaseUrl}${mediaPathPrefix}/${encodeKeyPath(key)}`;
    },
  };
  return store;
}
