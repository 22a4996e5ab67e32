import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ObjectStore, UploadedPart } from '../../../platform/object-store/object-store.port.ts';
import { ObjectStoreError } from '../../../platform/object-store/object-store.port.ts';

/** An ObjectStore over a local directory, for transcoder tests; records every write. */
export interface FsObjectStoreFake extends ObjectStore {
  /** Keys written by putObject/putFile, in call order (duplicates kept). */
  readonly writes: string[];
  /** Local path of a key (for assertions with ffprobe). */
  pathOf(key: string): string;
}

/**
 * Creates the fake. Keys map to files under `root`; content types are kept in memory.
 * Multipart uploads are minimal (parts in memory) since the transcoder never uses them.
 * @throws ObjectStoreError NoSuchKey from downloadToFile when the key is absent, NoSuchUpload for unknown uploads.
 */
export function createFsObjectStoreFake(root: string): FsObjectStoreFake {
  const types = new Map<string, string>();
  const uploads = new Map<string, { key: string; parts: Map<number, Buffer> }>();
  const writes: string[] = [];
  const pathOf = (key: string): string => {
    if (key.split('/').some((s) => s === '..' || s === '')) throw new ObjectStoreError('InvalidKey', `bad key ${key}`);
    return join(root, key);
  };
  const put = async (key: string, write: (p: string) => Promise<void>, contentType: string): Promise<void> => {
    const p = pathOf(key);
    await mkdir(dirname(p), { recursive: true });
    await write(p);
    types.set(key, contentType);
    writes.push(key);
  };
  return {
    writes,
    pathOf,
    async createMultipartUpload(key) {
      const id = randomUUID();
      uploads.set(id, { key, parts: new Map() });
      return id;
    },
    async presignUploadPart(key, uploadId, partNumber) {
      return `file://${root}/_uploads/${uploadId}/${partNumber}?key=${encodeURIComponent(key)}`;
    },
    async listParts(_key, uploadId) {
      const u = uploads.get(uploadId);
      if (!u) throw new ObjectStoreError('NoSuchUpload', uploadId);
      return [...u.parts].map(([partNumber, b]): UploadedPart => ({
        partNumber,
        etag: `"${createHash('md5').update(b).digest('hex')}"`,
        size: b.length,
      }));
    },
    async completeMultipartUpload(key, uploadId, parts) {
      const u = uploads.get(uploadId);
      if (!u) throw new ObjectStoreError('NoSuchUpload', uploadId);
      const body = Buffer.concat(parts.map((p) => u.parts.get(p.partNumber) ?? Buffer.alloc(0)));
      await put(key, (p) => writeFile(p, body), 'application/octet-stream');
      uploads.delete(uploadId);
      return body.length;
    },
    async abortMultipartUpload(_key, uploadId) {
      uploads.delete(uploadId);
    },
    async putObject(key, body, contentType) {
      await put(key, (p) => (Buffer.isBuffer(body) ? writeFile(p, body) : pipeline(body, createWriteStream(p))), contentType);
    },
    async putFile(key, path, contentType) {
      await put(key, (p) => copyFile(path, p), contentType);
    },
    async downloadToFile(key, path) {
      const p = pathOf(key);
      if (!(await stat(p).catch(() => null))) throw new ObjectStoreError('NoSuchKey', key);
      await mkdir(dirname(path), { recursive: true });
      await copyFile(p, path);
    },
    async getObject(key) {
      const p = pathOf(key);
      const s = await stat(p).catch(() => null);
      if (!s) return undefined;
      return { body: createReadStream(p), size: s.size, contentType: types.get(key) ?? 'application/octet-stream' };
    },
    async exists(key) {
      return (await stat(pathOf(key)).catch(() => null)) !== null;
    },
    publicUrl(key) {
      return `file://${pathOf(key)}`;
    },
  };
}

/** Reads a whole object as text (test helper). */
export async function readObjectText(store: FsObjectStoreFake, key: string): Promise<string> {
  return readFile(store.pathOf(key), 'utf8');
}

/** Removes the store's directory. */
export async function destroyFsObjectStoreFake(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true });
}

