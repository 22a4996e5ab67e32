/**
 * Multipart uploads of the embedded object store, with S3's semantics (Amazon S3 API reference:
 * CreateMultipartUpload, UploadPart, ListParts, CompleteMultipartUpload, AbortMultipartUpload).
 * One folder per upload, `multipart/<uploadId>/`:
 * - `manifest.json`           key, content type and creation time of the upload;
 * - `<n>.part`, `<n>.part.json` the bytes of part n and its ETag, size and upload time;
 * - `completed.json`          written on completion (parts list, size, ETag), so a retried
 *                             CompleteMultipartUpload with the same parts answers the same.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { ObjectStoreError, type UploadedPart } from '../object-store.port.ts';
import { assertPartListOrder, assertValidPartNumber, discardWriteStream, multipartEtag, normalizeEtag, quoteEtag } from '../s3-rules.ts';
import { assertStorableKey, isErrno, readJson, type ObjectFiles } from './object-files.ts';
import { withLock } from './path-locks.ts';

/** A stored part, with the time it was (last) uploaded, for the ListParts XML. */
export interface EmbeddedUploadedPart extends UploadedPart {
  lastModified: Date;
}

interface Manifest {
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

const UPLOAD_ID = /^[A-Za-z0-9_-]{16,128}$/;

export class MultipartUploads {
  /**
   * @param minPartSizeBytes minimum size of every part but the last (S3: 5 MiB)
   */
  constructor(
    private readonly files: ObjectFiles,
    private readonly minPartSizeBytes: number,
    private readonly logger: Logger,
  ) {}

  /** Opens an upload of `key`; returns its id (32 hex of a UUID + 16 random hex). */
  async create(key: string, contentType: string): Promise<string> {
    assertStorableKey(key);
    await this.files.ensureDirs();
    const uploadId = randomUUID().replace(/-/g, '') + randomBytes(8).toString('hex');
    const dir = this.uploadDir(uploadId);
    await mkdir(dir, { recursive: true });
    const manifest: Manifest = { key, contentType, created: new Date().toISOString() };
    await this.files.writeFileAtomic(join(dir, 'manifest.json'), JSON.stringify(manifest));
    this.logger.debug({ key, uploadId }, 'multipart upload created');
    return uploadId;
  }

  /** Parts received so far, ascending part number. @throws ObjectStoreError NoSuchUpload */
  async listParts(key: string, uploadId: string): Promise<EmbeddedUploadedPart[]> {
    await this.requireOpenUpload(key, uploadId);
    return this.readParts(uploadId);
  }

  /**
   * Stores one part, replacing an earlier upload of the same number; returns its quoted MD5 ETag.
   * See EmbeddedObjectStore.writePart for the limits and errors.
   */
  async writePart(
    uploadId: string,
    partNumber: number,
    body: Readable | Buffer,
    maxBytes: number,
    opts?: { key?: string; expectedSha256?: string },
  ): Promise<string> {
    assertValidPartNumber(partNumber);
    await this.requireOpenUpload(opts?.key, uploadId);
    const { tmp, size, md5 } = await this.files.spool(body, maxBytes, opts?.expectedSha256);
    const dir = this.uploadDir(uploadId);
    const etag = quoteEtag(md5);
    try {
      await withLock(`upload:${dir}`, async () => {
        // Re-check under the lock: the upload may have been completed or aborted meanwhile.
        await this.requireOpenUpload(opts?.key, uploadId);
        await rename(tmp, join(dir, `${partNumber}.part`));
        const record: PartRecord = { etag, size, lastModified: new Date().toISOString() };
        await this.files.writeFileAtomic(join(dir, `${partNumber}.part.json`), JSON.stringify(record));
      });
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    this.logger.debug({ uploadId, partNumber, size }, 'part stored');
    return etag;
  }

  /**
   * Concatenates the listed parts into the object `key`; returns its size in bytes. Idempotent
   * for a retry with the same parts.
   * @throws ObjectStoreError NoSuchUpload, InvalidPartOrder, InvalidPart, EntityTooSmall
   */
  async complete(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<number> {
    assertStorableKey(key);
    const dir = this.uploadDir(uploadId);
    return withLock(`upload:${dir}`, async () => {
      const manifest = await this.readManifest(uploadId);
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
      const stored = new Map((await this.readParts(uploadId)).map((p) => [p.partNumber, p]));
      for (const p of requested) {
        const have = stored.get(p.partNumber);
        if (!have || normalizeEtag(have.etag) !== p.etag) {
          throw new ObjectStoreError('InvalidPart', `part ${p.partNumber} was not uploaded or its ETag does not match`);
        }
      }
      requested.forEach((p, i) => {
        const have = stored.get(p.partNumber)!;
        if (i < requested.length - 1 && have.size < this.minPartSizeBytes) {
          throw new ObjectStoreError('EntityTooSmall', `part ${p.partNumber} is ${have.size} bytes; all parts but the last must be at least ${this.minPartSizeBytes} bytes`);
        }
      });

      const { tmp, size } = await this.concatenate(dir, requested.map((p) => p.partNumber));
      const etag = multipartEtag(requested.map((p) => p.etag));
      await this.files.commit(key, tmp, { size, contentType: manifest.contentType, etag, lastModified: new Date() });
      const record: CompletionRecord = { parts: requested, size, etag, completed: new Date().toISOString() };
      await this.files.writeFileAtomic(join(dir, 'completed.json'), JSON.stringify(record));
      // Parts are only dropped once the completion record exists, so a crash in between is retried from the parts.
      for (const p of stored.keys()) {
        await rm(join(dir, `${p}.part`), { force: true });
        await rm(join(dir, `${p}.part.json`), { force: true });
      }
      this.logger.info({ key, uploadId, size, parts: requested.length }, 'multipart upload completed');
      return size;
    });
  }

  /** Drops an open upload and its parts. @throws ObjectStoreError NoSuchUpload */
  async abort(key: string, uploadId: string): Promise<void> {
    const dir = this.uploadDir(uploadId);
    await withLock(`upload:${dir}`, async () => {
      await this.requireOpenUpload(key, uploadId);
      await rm(dir, { recursive: true, force: true });
    });
  }

  /** Copies the parts, in order, into a new temp file; returns it and its size in bytes. */
  private async concatenate(dir: string, partNumbers: number[]): Promise<{ tmp: string; size: number }> {
    await this.files.ensureDirs();
    const tmp = this.files.tmpFile();
    let size = 0;
    try {
      const out = createWriteStream(tmp, { flags: 'wx' });
      try {
        for (const n of partNumbers) {
          for await (const chunk of createReadStream(join(dir, `${n}.part`))) {
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
    return { tmp, size };
  }

  /** @throws ObjectStoreError NoSuchUpload for an id this store cannot have issued */
  private uploadDir(uploadId: string): string {
    if (typeof uploadId !== 'string' || !UPLOAD_ID.test(uploadId)) throw new ObjectStoreError('NoSuchUpload', 'unknown upload id');
    return join(this.files.multipartDir, uploadId);
  }

  private readManifest(uploadId: string): Promise<Manifest | undefined> {
    return readJson<Manifest>(join(this.uploadDir(uploadId), 'manifest.json'));
  }

  /**
   * Checks that the upload is neither completed nor aborted and (when `key` is given) is one of
   * that key. @throws ObjectStoreError NoSuchUpload otherwise
   */
  private async requireOpenUpload(key: string | undefined, uploadId: string): Promise<void> {
    const manifest = await this.readManifest(uploadId);
    const completed = await readJson<CompletionRecord>(join(this.uploadDir(uploadId), 'completed.json'));
    if (!manifest || completed || (key !== undefined && manifest.key !== key)) {
      throw new ObjectStoreError('NoSuchUpload', 'the specified multipart upload does not exist');
    }
  }

  private async readParts(uploadId: string): Promise<EmbeddedUploadedPart[]> {
    const dir = this.uploadDir(uploadId);
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
}
