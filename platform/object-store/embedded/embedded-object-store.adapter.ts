import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import pino from 'pino';
import { writeStreamToFile } from '../../files/file-streams.ts';
import { NodeSha256 } from '../node-sha256.ts';
import type { ObjectRangeReader } from '../object-range.port.ts';
import { ObjectStoreError, type ObjectStore, type UploadedPart } from '../object-store.port.ts';
import {
  S3_MIN_PART_SIZE_BYTES,
  SIGV4_MAX_EXPIRES_SECONDS,
  assertPartListOrder,
  assertValidKey,
  assertValidPartNumber,
  discardWriteStream,
  encodeKeyPath,
  encodeRfc3986,
  multipartEtag,
  normalizeEtag,
  quoteEtag,
} from '../s3-rules.ts';

/** The S3-compatible endpoint the embedded store is served through (standalone mode). */
export interface EmbeddedS3Config {
  /** Mount path of the endpoint in the gateway, e.g. `/s3`. */
  endpointPath: string;
  /** The single bucket the endpoint serves, e.g. `streamwave`. */
  bucket: string;
  /** SigV4 signing region, e.g. `us-east-1`. */
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

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

/** Object metadata kept next to the object (`dir/meta/<key>.json`). */
export interface EmbeddedObjectInfo {
  /** Bytes. */
  size: number;
  contentType: string;
  /** Quoted ETag: MD5 hex for single PUTs, `"<md5 of md5s>-<n>"` for multipart objects (S3). */
  etag: string;
  lastModified: Date;
}

/** A stored part, with the time it was (last) uploaded, for the ListParts XML. */
export interface EmbeddedUploadedPart extends UploadedPart {
  lastModified: Date;
}

/** Manifest of an open (or completed) multipart upload. */
export interface MultipartManifest {
  key: string;
  contentType: string;
  /** ISO-8601. */
  created: string;
}

interface CompletionRecord {
  parts: { partNumber: number; etag: string }[];
  size: number;
  etag: string;
  completed: string;
}

interface PartRecord {
  etag: string;
  size: number;
  lastModified: string;
}

/** Embedded ObjectStore plus what the S3 endpoint and the media plugin need beyond the port. */
export interface EmbeddedObjectStore extends ObjectStore, ObjectRangeReader {
  readonly s3: Readonly<EmbeddedS3Config>;
  /** The effective minimum part size, bytes. */
  readonly minPartSizeBytes: number;
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
  /** The upload's manifest, or undefined (unknown upload). */
  getUpload(uploadId: string): Promise<MultipartManifest | undefined>;
  /** Removes an object; no error if absent (S3 DeleteObject). */
  deleteObject(key: string): Promise<void>;
}

// Commits (renames) are serialised per path. Module-level, so two store instances over the same
// folder in one process (the gateway's and a test's) still agree.
const locks = new Map<string, Promise<void>>();

async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(name) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = previous.then(() => mine);
  locks.set(name, tail);
  await previous;
  try {
    return await fn();
  } finally {
    release();
    if (locks.get(name) === tail) locks.delete(name);
  }
}

const UPLOAD_ID = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * Longest path segment of a key the embedded store can hold, bytes of UTF-8: NAME_MAX (255 on
 * ext4, XFS, APFS, NTFS) minus the `.json` of the metadata file written next to the object.
 * S3 itself allows any segment within its 1024-byte key.
 */
export const EMBEDDED_MAX_SEGMENT_BYTES = 250;

/**
 * assertValidKey plus the file-system limit of the embedded store.
 * @throws ObjectStoreError InvalidArgument (see assertValidKey), KeyTooLongError (S3's code for a
 *         key too long) when a segment exceeds EMBEDDED_MAX_SEGMENT_BYTES.
 */
function assertStorableKey(key: string): void {
  assertValidKey(key);
  for (const segment of key.split('/')) {
    if (Buffer.byteLength(segment, 'utf8') > EMBEDDED_MAX_SEGMENT_BYTES) {
      throw new ObjectStoreError('KeyTooLongError', `object key has a path segment longer than ${EMBEDDED_MAX_SEGMENT_BYTES} bytes`);
    }
  }
}

/**
 * True when `key` could name a stored object; false for a valid S3 key the store cannot hold (reads
 * of it find nothing). @throws ObjectStoreError InvalidArgument for an invalid key (assertValidKey).
 */
function isStorableKey(key: string): boolean {
  try {
    assertStorableKey(key);
    return true;
  } catch (err) {
    if (err instanceof ObjectStoreError && err.code === 'KeyTooLongError') return false;
    throw err;
  }
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
    throw err;
  }
}

/**
 * Embedded (standalone-mode) ObjectStore: files on disk, written to `dir/tmp` then renamed into
 * place so readers never see a partial object, served to clients through the S3-compatible
 * endpoint (`platform/object-store/http`) and the media plugin. Multipart semantics follow S3
 * (CompleteMultipartUpload: InvalidPartOrder, InvalidPart, EntityTooSmall); presigned part URLs are
 * real SigV4 query-string URLs made by `@aws-sdk/s3-request-presigner` (path-style).
 */
export function createEmbeddedObjectStore(opts: EmbeddedObjectStoreOptions): EmbeddedObjectStore {
  const root = resolve(opts.dir);
  const objectsDir = join(root, 'objects');
  const metaDir = join(root, 'meta');
  const multipartDir = join(root, 'multipart');
  const tmpDir = join(root, 'tmp');
  const mediaPathPrefix = opts.mediaPathPrefix ?? '/media';
  const minPartSizeBytes = opts.minPartSizeBytes ?? S3_MIN_PART_SIZE_BYTES;
  const now = opts.now ?? (() => new Date());
  const logger = opts.logger ?? pino({ level: 'silent' });
  const publicBase = new URL(opts.publicBaseUrl);
  const publicBaseUrl = opts.publicBaseUrl.replace(/\/+$/, '');
  const s3: EmbeddedS3Config = { ...opts.s3, endpointPath: opts.s3.endpointPath.replace(/\/+$/, '') };
  const presigner = new S3RequestPresigner({
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    region: s3.region,
    sha256: NodeSha256,
  });
  let ready: Promise<void> | undefined;

  const ensureDirs = () =>
    (ready ??= Promise.all([objectsDir, metaDir, multipartDir, tmpDir].map((d) => mkdir(d, { recursive: true }))).then(() => undefined));

  const objectPath = (key: string) => {
    assertStorableKey(key);
    return join(objectsDir, key);
  };
  const metaPath = (key: string) => join(metaDir, `${key}.json`);
  const uploadDir = (uploadId: string) => {
    if (typeof uploadId !== 'string' || !UPLOAD_ID.test(uploadId)) throw new ObjectStoreError('NoSuchUpload', 'unknown upload id');
    return join(multipartDir, uploadId);
  };
  const tmpFile = () => join(tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}.tmp`);

  /** Writes a small file atomically (temp + rename). */
  async function writeFileAtomic(path: string, data: string): Promise<void> {
    const tmp = tmpFile();
    await writeFile(tmp, data, { flag: 'wx' });
    await mkdir(dirname(path), { recursive: true });
    await rename(tmp, path);
  }

  /**
   * Copies `body` into a new temp file, hashing (MD5, optionally SHA-256) and counting as it goes.
   * Reads chunk by chunk without `pipeline` so a limit breach does not destroy `body`.
   */
  async function spool(
    body: Readable | Buffer,
    maxBytes: number | undefined,
    expectedSha256: string | undefined,
  ): Promise<{ tmp: string; size: number; md5: string }> {
    await ensureDirs();
    const tmp = tmpFile();
    const out = createWriteStream(tmp, { flags: 'wx' });
    const md5 = createHash('md5');
    const sha = expectedSha256 ? createHash('sha256') : undefined;
    let size = 0;
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    try {
      for await (const raw of source.iterator({ destroyOnReturn: false })) {
        const chunk: Buffer = typeof raw === 'string' ? Buffer.from(raw) : raw;
        size += chunk.length;
        if (maxBytes !== undefined && size > maxBytes) {
          throw new ObjectStoreError('EntityTooLarge', `body exceeds the maximum allowed size of ${maxBytes} bytes`);
        }
        md5.update(chunk);
        sha?.update(chunk);
        if (!out.write(chunk)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'close');
      if (sha && expectedSha256 && sha.digest('hex') !== expectedSha256.toLowerCase()) {
        throw new ObjectStoreError('XAmzContentSHA256Mismatch', 'the body does not match x-amz-content-sha256');
      }
    } catch (err) {
      await discardWriteStream(out);
      await rm(tmp, { force: true });
      throw err;
    }
    return { tmp, size, md5: md5.digest('hex') };
  }

  /** Moves a finished temp file into place as `key`, metadata first (both atomic renames). */
  async function commitObject(key: string, tmp: string, info: EmbeddedObjectInfo): Promise<void> {
    const target = objectPath(key);
    await withLock(`object:${target}`, async () => {
      try {
        await mkdir(dirname(target), { recursive: true });
        await writeFileAtomic(metaPath(key), JSON.stringify({ ...info, lastModified: info.lastModified.toISOString() }));
        await rename(tmp, target);
      } catch (err) {
        await rm(tmp, { force: true });
        if (isErrno(err, 'ENOTDIR', 'EISDIR', 'EEXIST')) {
          throw new ObjectStoreError('InvalidArgument', `key ${JSON.stringify(key)} collides with an existing object path`);
        }
        throw err;
      }
    });
  }

  async function readManifest(uploadId: string): Promise<MultipartManifest | undefined> {
    return readJson<MultipartManifest>(join(uploadDir(uploadId), 'manifest.json'));
  }

  async function requireOpenUpload(key: string | undefined, uploadId: string): Promise<MultipartManifest> {
    const manifest = await readManifest(uploadId);
    const completed = await readJson<CompletionRecord>(join(uploadDir(uploadId), 'completed.json'));
    if (!manifest || completed || (key !== undefined && manifest.key !== key)) {
      throw new ObjectStoreError('NoSuchUpload', 'the specified multipart upload does not exist');
    }
    return manifest;
  }

  async function readParts(uploadId: string): Promise<EmbeddedUploadedPart[]> {
    const dir = uploadDir(uploadId);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const parts: EmbeddedUploadedPart[] = [];
    for (const name of names) {
      const m = /^(\d+)\.part\.json$/.exec(name);
      if (!m) continue;
      const record = await readJson<PartRecord>(join(dir, name));
      if (!record) continue;
      parts.push({ partNumber: Number(m[1]), etag: record.etag, size: record.size, lastModified: new Date(record.lastModified) });
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async function openObject(key: string, range?: { start: number; end: number }) {
    if (!isStorableKey(key)) return undefined;
    const path = objectPath(key);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
      throw err;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) {
        await handle.close();
        return undefined;
      }
      const meta = await readJson<{ contentType?: string; etag?: string }>(metaPath(key));
      // The stream reads from the open descriptor, so a concurrent overwrite (rename) cannot tear it.
      const body = handle.createReadStream(range ? { start: range.start, end: range.end } : {});
      return {
        body: body as Readable,
        size: st.size,
        contentType: meta?.contentType ?? 'application/octet-stream',
        etag: meta?.etag,
        lastModified: st.mtime,
      };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  const store: EmbeddedObjectStore = {
    s3,
    minPartSizeBytes,

    async createMultipartUpload(key, contentType) {
      assertStorableKey(key);
      await ensureDirs();
      const uploadId = randomUUID().replace(/-/g, '') + randomBytes(8).toString('hex');
      const dir = uploadDir(uploadId);
      await mkdir(dir, { recursive: true });
      const manifest: MultipartManifest = { key, contentType, created: new Date().toISOString() };
      await writeFileAtomic(join(dir, 'manifest.json'), JSON.stringify(manifest));
      logger.debug({ key, uploadId }, 'multipart upload created');
      return uploadId;
    },

    async presignUploadPart(key, uploadId, partNumber, expiresInSeconds) {
      assertStorableKey(key);
      assertValidPartNumber(partNumber);
      if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > SIGV4_MAX_EXPIRES_SECONDS) {
        throw new ObjectStoreError('InvalidArgument', `expiresInSeconds must be an integer between 1 and ${SIGV4_MAX_EXPIRES_SECONDS}`);
      }
      const basePath = publicBase.pathname.replace(/\/+$/, '');
      const path = `${basePath}${s3.endpointPath}/${encodeRfc3986(s3.bucket)}/${encodeKeyPath(key)}`;
      const signed = await presigner.presign(
        {
          method: 'PUT',
          protocol: publicBase.protocol,
          hostname: publicBase.hostname,
          port: publicBase.port ? Number(publicBase.port) : undefined,
          path,
          query: { partNumber: String(partNumber), uploadId },
          headers: {},
        },
        { expiresIn: expiresInSeconds, signingDate: now() },
      );
      const query = Object.entries(signed.query ?? {})
        .flatMap(([k, v]) => (Array.isArray(v) ? v : v == null ? [] : [v]).map((x) => `${encodeRfc3986(k)}=${encodeRfc3986(x)}`))
        .join('&');
      return `${publicBase.protocol}//${publicBase.host}${path}?${query}`;
    },

    async listParts(key, uploadId) {
      await requireOpenUpload(key, uploadId);
      return readParts(uploadId);
    },

    async writePart(uploadId, partNumber, body, maxBytes, partOpts) {
      assertValidPartNumber(partNumber);
      await requireOpenUpload(partOpts?.key, uploadId);
      const { tmp, size, md5 } = await spool(body, maxBytes, partOpts?.expectedSha256);
      const dir = uploadDir(uploadId);
      const etag = quoteEtag(md5);
      try {
        await withLock(`upload:${dir}`, async () => {
          // Re-check under the lock: the upload may have been completed or aborted meanwhile.
          await requireOpenUpload(partOpts?.key, uploadId);
          await rename(tmp, join(dir, `${partNumber}.part`));
          const record: PartRecord = { etag, size, lastModified: new Date().toISOString() };
          await writeFileAtomic(join(dir, `${partNumber}.part.json`), JSON.stringify(record));
        });
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      logger.debug({ uploadId, partNumber, size }, 'part stored');
      return etag;
    },

    async completeMultipartUpload(key, uploadId, parts) {
      assertStorableKey(key);
      const dir = uploadDir(uploadId);
      return withLock(`upload:${dir}`, async () => {
        const manifest = await readManifest(uploadId);
        if (!manifest || manifest.key !== key) throw new ObjectStoreError('NoSuchUpload', 'the specified multipart upload does not exist');
        const requested = parts.map((p) => ({ partNumber: p.partNumber, etag: normalizeEtag(p.etag) }));
        const completed = await readJson<CompletionRecord>(join(dir, 'completed.json'));
        if (completed) {
          const same =
            completed.parts.length === requested.length &&
            completed.parts.every((p, i) => p.partNumber === requested[i].partNumber && p.etag === requested[i].etag);
          // Idempotent retry (e.g. the client lost the first response); anything else is a new request
          // against an upload that no longer exists, as in S3.
          if (same) return completed.size;
          throw new ObjectStoreError('NoSuchUpload', 'the multipart upload was already completed with other parts');
        }
        assertPartListOrder(requested);
        const stored = new Map((await readParts(uploadId)).map((p) => [p.partNumber, p]));
        for (const p of requested) {
          const have = stored.get(p.partNumber);
          if (!have || normalizeEtag(have.etag) !== p.etag) {
            throw new ObjectStoreError('InvalidPart', `part ${p.partNumber} was not uploaded or its ETag does not match`);
          }
        }
        requested.forEach((p, i) => {
          const have = stored.get(p.partNumber)!;
          if (i < requested.length - 1 && have.size < minPartSizeBytes) {
            throw new ObjectStoreError('EntityTooSmall', `part ${p.partNumber} is ${have.size} bytes; all parts but the last must be at least ${minPartSizeBytes} bytes`);
          }
        });

        await ensureDirs();
        const tmp = tmpFile();
        let size = 0;
        try {
          const out = createWriteStream(tmp, { flags: 'wx' });
          try {
            for (const p of requested) {
              for await (const chunk of createReadStream(join(dir, `${p.partNumber}.part`))) {
                size += (chunk as Buffer).length;
                if (!out.write(chunk)) await once(out, 'drain');
              }
            }
            out.end();
            await once(out, 'close');
          } catch (err) {
            await discardWriteStream(out);
            throw err;
          }
        } catch (err) {
          await rm(tmp, { force: true });
          throw err;
        }
        const etag = multipartEtag(requested.map((p) => p.etag));
        await commitObject(key, tmp, { size, contentType: manifest.contentType, etag, lastModified: new Date() });
        const record: CompletionRecord = { parts: requested, size, etag, completed: new Date().toISOString() };
        await writeFileAtomic(join(dir, 'completed.json'), JSON.stringify(record));
        // Parts are only dropped once the completion record exists, so a crash in between is retried from the parts.
        for (const p of stored.keys()) {
          await rm(join(dir, `${p}.part`), { force: true });
          await rm(join(dir, `${p}.part.json`), { force: true });
        }
        logger.info({ key, uploadId, size, parts: requested.length }, 'multipart upload completed');
        return size;
      });
    },

    async abortMultipartUpload(key, uploadId) {
      const dir = uploadDir(uploadId);
      await withLock(`upload:${dir}`, async () => {
        await requireOpenUpload(key, uploadId);
        await rm(dir, { recursive: true, force: true });
      });
    },

    async putObject(key, body, contentType) {
      await store.writeObject(key, body, contentType);
    },

    async writeObject(key, body, contentType, writeOpts) {
      assertStorableKey(key);
      const { tmp, size, md5 } = await spool(body, writeOpts?.maxBytes, writeOpts?.expectedSha256);
      const etag = quoteEtag(md5);
      await commitObject(key, tmp, { size, contentType, etag, lastModified: new Date() });
      return etag;
    },

    async putFile(key, path, contentType) {
      await store.writeObject(key, createReadStream(path), contentType);
    },

    async downloadToFile(key, path) {
      const obj = await openObject(key);
      if (!obj) throw new ObjectStoreError('NoSuchKey', `no object ${JSON.stringify(key)}`);
      await writeStreamToFile(obj.body, path);
    },

    async getObject(key) {
      const obj = await openObject(key);
      return obj && { body: obj.body, size: obj.size, contentType: obj.contentType };
    },

    async getObjectRange(key, range) {
      return openObject(key, range);
    },

    async headObject(key) {
      if (!isStorableKey(key)) return undefined;
      const path = objectPath(key);
      let st;
      try {
        st = await stat(path);
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
        throw err;
      }
      if (!st.isFile()) return undefined;
      const meta = await readJson<{ contentType?: string; etag?: string }>(metaPath(key));
      return {
        size: st.size,
        contentType: meta?.contentType ?? 'application/octet-stream',
        etag: meta?.etag ?? '""',
        lastModified: st.mtime,
      };
    },

    async exists(key) {
      return (await store.headObject(key)) !== undefined;
    },

    async getUpload(uploadId) {
      try {
        return await readManifest(uploadId);
      } catch (err) {
        if (err instanceof ObjectStoreError) return undefined;
        throw err;
      }
    },

    async deleteObject(key) {
      // S3 DeleteObject of a missing key succeeds; a key no object can have is missing too.
      if (!isStorableKey(key)) return;
      const target = objectPath(key);
      await withLock(`object:${target}`, async () => {
        try {
          await rm(target, { force: true });
        } catch (err) {
          // The key names a folder of other objects, or lies below an object: no object to delete.
          if (isErrno(err, 'EISDIR', 'ERR_FS_EISDIR', 'ENOTDIR')) return;
          throw err;
        }
        await rm(metaPath(key), { force: true });
      });
    },

    publicUrl(key) {
      return `${publicBaseUrl}${mediaPathPrefix}/${encodeKeyPath(key)}`;
    },
  };
  return store;
}
