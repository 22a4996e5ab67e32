import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ensureS3Bucket, type BucketCorsOptions, type EnsureBucketResult } from './s3-bucket-setup.ts';
import { errorName, httpStatus } from './sdk-errors.ts';
import pino from 'pino';
import { openFileStream, writeStreamToFile } from '../../files/file-streams.ts';
import type { ObjectRangeReader } from '../object-range.port.ts';
import { ObjectStoreError, type ObjectDeletion, type ObjectStore, type UploadedPart } from '../object-store.port.ts';
import {
  SIGV4_MAX_EXPIRES_SECONDS,
  assertPartListOrder,
  assertValidFolderPrefix,
  assertValidKey,
  assertContentLength,
  assertValidPartNumber,
  encodeKeyPath,
  multipartEtag,
  normalizeEtag,
} from '../s3-rules.ts';

export type { BucketCorsOptions, EnsureBucketResult } from './s3-bucket-setup.ts';

export interface S3ObjectStoreOptions {
  /** Custom endpoint (MinIO, the embedded endpoint `http://host:port/s3`); omit for AWS S3. */
  endpoint?: string;
  region: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Endpoint written into presigned upload URLs, when clients reach the S3 server at another
   * address than the roles do (e.g. a public hostname vs the cluster-internal one). Default `endpoint`.
   */
  presignEndpoint?: string;
  /** Path-style addressing (`/bucket/key`); needed for MinIO and the embedded endpoint. Default false. */
  forcePathStyle?: boolean;
  /** CDN / public origin of the bucket; `publicUrl(key)` = `${publicBaseUrl}/${key}`. */
  publicBaseUrl: string;
  /** SDK attempts per call (retries on 5xx / throttling). Default 3 (SDK default). */
  maxAttempts?: number;
  /**
   * Keys per ListObjectsV2 page and DeleteObjects request in `deletePrefix`, 1..1000. Default 1000
   * (S3's maximum for both); tests lower it to exercise paging.
   */
  deleteBatchSize?: number;
  /** Use an existing client instead of building one (tests, shared connection pools). */
  client?: S3Client;
  logger?: pino.Logger;
}

/** The S3 adapter: the port, range reads, deletion, and bucket set-up. */
export interface S3ObjectStore extends ObjectStore, ObjectRangeReader, ObjectDeletion {
  /**
   * Creates the bucket unless it exists (HeadBucket, then CreateBucket; BucketAlreadyOwnedByYou is
   * fine, so concurrent roles may all call it at start) and puts the CORS rule that lets a browser do
   * presigned multipart uploads: methods GET, HEAD, PUT; any request header; `ETag` exposed.
   * Replaces any CORS configuration already on the bucket.
   * @throws the SDK's error when the bucket cannot be created or reached (e.g. AccessDenied,
   *   BucketAlreadyExists: the name is taken by another account) or PutBucketCors fails otherwise.
   */
  ensureBucket(cors?: BucketCorsOptions): Promise<EnsureBucketResult>;
}

/** Most keys one DeleteObjects request takes (S3 API reference, DeleteObjects). */
export const S3_DELETE_OBJECTS_MAX_KEYS = 1000;

/** S3 error codes the port surfaces as ObjectStoreError (see ObjectStoreError). */
const MAPPED_CODES = new Set(['NoSuchUpload', 'InvalidPart', 'InvalidPartOrder', 'EntityTooLarge', 'EntityTooSmall', 'NoSuchKey', 'InvalidArgument']);

function isNotFound(err: unknown): boolean {
  const name = errorName(err);
  return name === 'NoSuchKey' || name === 'NotFound' || (httpStatus(err) === 404 && name !== 'NoSuchUpload' && name !== 'NoSuchBucket');
}

/** Re-raises S3 service errors with port codes; other errors pass through unchanged. */
function mapError(err: unknown): never {
  const name = errorName(err);
  if (name && MAPPED_CODES.has(name)) throw new ObjectStoreError(name, (err as Error).message || name);
  throw err;
}

/**
 * An SDK error that says the S3 server is unavailable rather than that the request was wrong: no
 * HTTP response at all (connection refused or reset, DNS, a timeout) or a 5xx (S3's 500
 * InternalError, 503 ServiceUnavailable / SlowDown). Becomes ObjectStoreError `ServiceUnavailable`
 * (the S3 code for a 503; Amazon S3 API reference, "List of error codes") so callers can tell
 * "retry later" from a bug: the gateway answers it 503 with Retry-After (issue 9, outages).
 * Any other error (a 4xx service error, a bug) is returned unchanged.
 */
export function unavailableOr(err: unknown): unknown {
  if (err instanceof ObjectStoreError) return err;
  const status = httpStatus(err);
  if (status === undefined ? err instanceof Error && !isProgrammingError(err) : status >= 500) {
    return new ObjectStoreError('ServiceUnavailable', `S3 server unavailable: ${(err as Error).message || errorName(err) || String(err)}`);
  }
  return err;
}

/** Errors thrown by our own code or the SDK's argument checks, never by an unreachable server. */
function isProgrammingError(err: Error): boolean {
  return err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError || err instanceof ReferenceError;
}

/**
 * Cluster-mode ObjectStore on S3 (or anything S3-compatible: MinIO, the embedded endpoint) via
 * @aws-sdk/client-s3. Presigned part URLs come from @aws-sdk/s3-request-presigner.
 *
 * The client is built with `requestChecksumCalculation: 'WHEN_REQUIRED'` and
 * `responseChecksumValidation: 'WHEN_REQUIRED'`: SDK ≥ 3.729 otherwise adds CRC32 checksums and
 * aws-chunked bodies, which many S3-compatible stores (and the embedded endpoint) do not accept, and
 * a presigned UploadPart URL then carries the CRC32 of the empty body it was signed with, so every
 * part PUT fails with BadDigest (SeaweedFS 4.53; s3-object-store.seaweedfs.test.ts shows it). Part
 * integrity is still checked through the MD5 ETags at completion. A `client` passed in must be
 * configured the same way. Requests that S3 requires a checksum on (DeleteObjects, PutBucketCors)
 * still get one.
 *
 * Tested against the embedded S3 endpoint and SeaweedFS 4.53 (deploy/local/seaweedfs.sh).
 */
export function createS3ObjectStore(opts: S3ObjectStoreOptions): S3ObjectStore {
  const { bucket } = opts;
  const deleteBatchSize = opts.deleteBatchSize ?? S3_DELETE_OBJECTS_MAX_KEYS;
  if (!Number.isInteger(deleteBatchSize) || deleteBatchSize < 1 || deleteBatchSize > S3_DELETE_OBJECTS_MAX_KEYS) {
    throw new RangeError(`deleteBatchSize must be an integer between 1 and ${S3_DELETE_OBJECTS_MAX_KEYS}`);
  }
  const logger = opts.logger ?? pino({ level: 'silent' });
  const publicBaseUrl = opts.publicBaseUrl.replace(/\/+$/, '');
  const clientFor = (endpoint: string | undefined) => new S3Client({
    region: opts.region,
    endpoint,
    forcePathStyle: opts.forcePathStyle ?? false,
    credentials: opts.credentials,
    maxAttempts: opts.maxAttempts,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const sdk = opts.client ?? clientFor(opts.endpoint);
  // Every request of the port goes through here: an unreachable or failing server → ServiceUnavailable.
  const client = {
    send: (async (command: Parameters<S3Client['send']>[0]) => {
      try {
        return await sdk.send(command);
      } catch (err) {
        throw unavailableOr(err);
      }
    }) as S3Client['send'],
  };
  // Signing is local (no request is sent), so a second client only changes the URL's host.
  const presigner = opts.presignEndpoint && opts.presignEndpoint !== opts.endpoint ? clientFor(opts.presignEndpoint) : sdk;

  async function head(key: string) {
    assertValidKey(key);
    try {
      const out = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return {
        size: out.ContentLength ?? 0,
        contentType: out.ContentType ?? 'application/octet-stream',
        etag: out.ETag,
        lastModified: out.LastModified,
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async function get(key: string, range?: { start: number; end: number }) {
    assertValidKey(key);
    try {
      const out = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      const total = range && out.ContentRange ? Number(out.ContentRange.split('/')[1]) : out.ContentLength;
      return {
        // In Node the SDK's body is an http.IncomingMessage (a Readable).
        body: out.Body as Readable,
        size: total ?? 0,
        contentType: out.ContentType ?? 'application/octet-stream',
        etag: out.ETag,
        lastModified: out.LastModified,
      };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async function putFromFile(key: string, path: string, contentType: string) {
    const file = await openFileStream(path);
    // The SDK pipes the body into its request without listening for the body's errors: a read
    // error (EIO) would be unhandled and end the process. It aborts the request instead (the SDK
    // may still wait for its socket to time out before it settles) and is what this call throws.
    const readFailed = new AbortController();
    let readError: unknown;
    file.body.once('error', (err) => {
      readError = err;
      readFailed.abort();
    });
    try {
      // A known ContentLength lets the SDK stream the file instead of buffering it (S3 needs the length).
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: file.body, ContentLength: file.size, ContentType: contentType }),
        { abortSignal: readFailed.signal },
      );
    } catch (err) {
      throw readError ?? err;
    } finally {
      file.body.destroy();
    }
  }

  const store: S3ObjectStore = {
    async createMultipartUpload(key, contentType) {
      assertValidKey(key);
      const out = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }));
      if (!out.UploadId) throw new ObjectStoreError('InternalError', 'CreateMultipartUpload returned no UploadId');
      return out.UploadId;
    },

    async presignUploadPart(key, uploadId, partNumber, expiresInSeconds, contentLength) {
      assertValidKey(key);
      assertValidPartNumber(partNumber);
      assertContentLength(contentLength);
      if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > SIGV4_MAX_EXPIRES_SECONDS) {
        throw new ObjectStoreError('InvalidArgument', `expiresInSeconds must be an integer between 1 and ${SIGV4_MAX_EXPIRES_SECONDS}`);
      }
      return getSignedUrl(presigner, new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, ContentLength: contentLength }), {
        expiresIn: expiresInSeconds,
        // S3 then checks the PUT's Content-Length against the signature (403 SignatureDoesNotMatch).
        ...(contentLength === undefined ? {} : { signableHeaders: new Set(['content-length']) }),
      });
    },

    async listParts(key, uploadId) {
      assertValidKey(key);
      // Latest upload of each part number. S3 keeps one per number, but SeaweedFS 4.53 keeps every
      // re-upload of a part as its own file and lists them all (CompleteMultipartUpload then takes the
      // newest upload whose ETag matches); LastModified (whole seconds there) picks the newest.
      const latest = new Map<number, UploadedPart & { modified: number }>();
      let marker: string | undefined;
      try {
        // ListParts pages at 1000 parts (S3); follow NextPartNumberMarker until IsTruncated is false.
        for (;;) {
          const out = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }));
          for (const p of out.Parts ?? []) {
            if (p.PartNumber === undefined || !p.ETag) continue;
            const modified = p.LastModified?.getTime() ?? 0;
            const seen = latest.get(p.PartNumber);
            // On a tie the later-listed entry wins: the order among same-second re-uploads is unknowable.
            if (!seen || modified >= seen.modified) latest.set(p.PartNumber, { partNumber: p.PartNumber, etag: p.ETag, size: p.Size ?? 0, modified });
          }
          if (!out.IsTruncated || !out.NextPartNumberMarker) break;
          marker = out.NextPartNumberMarker;
        }
      } catch (err) {
        mapError(err);
      }
      return [...latest.values()].map(({ partNumber, etag, size }) => ({ partNumber, etag, size })).sort((a, b) => a.partNumber - b.partNumber);
    },

    async completeMultipartUpload(key, uploadId, parts) {
      assertValidKey(key);
      assertPartListOrder(parts);
      try {
        await client.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: `"${normalizeEtag(p.etag)}"` })) },
          }),
        );
      } catch (err) {
        if (errorName(err) === 'NoSuchUpload') {
          // A retried completion: S3 has already dropped the upload. Accept it if the object is the
          // one these parts make (multipart ETag = MD5 of part MD5s + "-N").
          const info = await head(key);
          if (info?.etag && normalizeEtag(info.etag) === normalizeEtag(multipartEtag(parts.map((p) => p.etag)))) return info.size;
        }
        mapError(err);
      }
      const info = await head(key);
      if (!info) throw new ObjectStoreError('NoSuchKey', `completed object ${key} is not readable`);
      logger.info({ key, uploadId, size: info.size, parts: parts.length }, 'multipart upload completed');
      return info.size;
    },

    async abortMultipartUpload(key, uploadId) {
      assertValidKey(key);
      try {
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
      } catch (err) {
        mapError(err);
      }
    },

    async putObject(key, body, contentType) {
      assertValidKey(key);
      if (Buffer.isBuffer(body)) {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ContentType: contentType }));
        return;
      }
      // S3 PutObject needs a Content-Length up front; spool a stream of unknown length to a temp file.
      const dir = await mkdtemp(join(tmpdir(), 'streamwave-s3-put-'));
      try {
        const path = join(dir, 'body');
        await writeStreamToFile(body, path);
        await putFromFile(key, path, contentType);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },

    async putFile(key, path, contentType) {
      assertValidKey(key);
      await putFromFile(key, path, contentType);
    },

    async downloadToFile(key, path) {
      const obj = await get(key);
      if (!obj) throw new ObjectStoreError('NoSuchKey', `no object ${JSON.stringify(key)}`);
      await writeStreamToFile(obj.body, path);
    },

    async getObject(key) {
      const obj = await get(key);
      return obj && { body: obj.body, size: obj.size, contentType: obj.contentType };
    },

    getObjectRange: get,
    headObject: head,

    async exists(key) {
      return (await head(key)) !== undefined;
    },

    publicUrl(key) {
      return `${publicBaseUrl}/${encodeKeyPath(key)}`;
    },

    async deleteObject(key) {
      assertValidKey(key);
      // S3 answers 204 for a missing key too.
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    },

    async deletePrefix(prefix) {
      assertValidFolderPrefix(prefix);
      let removed = 0;
      let token: string | undefined;
      // ListObjectsV2 pages hold at most 1000 keys, which is DeleteObjects' limit: one batch per page.
      // Keys deleted behind the continuation token do not disturb it (it marks a position in key order).
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: deleteBatchSize }),
        );
        const keys = (page.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [o.Key]));
        // A server may return more than MaxKeys; batches still respect DeleteObjects' limit.
        for (let i = 0; i < keys.length; i += deleteBatchSize) {
          const batch = keys.slice(i, i + deleteBatchSize);
          const out = await client.send(
            new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
          );
          const failed = out.Errors ?? [];
          removed += batch.length - failed.length;
          if (failed.length > 0) {
            // Partial failure: the caller retries the whole prefix (deleting is idempotent).
            const first = failed[0];
            throw new ObjectStoreError(
              first.Code ?? 'InternalError',
              `DeleteObjects under ${JSON.stringify(prefix)} failed for ${failed.length} of ${batch.length} keys; first: ${first.Key}: ${first.Code} ${first.Message ?? ''}`.trim(),
            );
          }
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      if (removed > 0) logger.info({ prefix, removed }, 'objects deleted by prefix');
      return removed;
    },

    ensureBucket: (cors) => ensureS3Bucket(sdk, bucket, cors, logger),
  };
  return store;
}
