/**
 * The files behind the embedded object store, under its root folder:
 * - `objects/<key>`        the object's bytes (the key's `/` are folders);
 * - `meta/<key>.json`      its metadata ({@link EmbeddedObjectInfo}, `lastModified` as ISO-8601);
 * - `multipart/<uploadId>/` open multipart uploads (multipart-uploads.ts);
 * - `tmp/`                 bodies being received, renamed into place once whole, so readers
 *                          never see a partial object.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { ObjectStoreError } from '../object-store.port.ts';
import { assertValidFolderPrefix, assertValidKey, discardWriteStream } from '../s3-rules.ts';
import { withLock } from './path-locks.ts';
import { beforeReading } from '../../files/file-streams.ts';

/** Object metadata kept next to the object (`meta/<key>.json`). */
export interface EmbeddedObjectInfo {
  /** Bytes. */
  size: number;
  contentType: string;
  /** Quoted ETag: MD5 hex for single PUTs, `"<md5 of md5s>-<n>"` for multipart objects (S3). */
  etag: string;
  lastModified: Date;
}

/** An object opened for reading: the stream reads from the open descriptor. */
export interface OpenedObject {
  body: Readable;
  /** Full object size, bytes. */
  size: number;
  contentType: string;
  etag?: string;
  lastModified: Date;
}

/**
 * Longest path segment of a key the embedded store can hold, bytes of UTF-8: NAME_MAX (255 on
 * ext4, XFS, APFS, NTFS) minus the `.json` of the metadata file written next to the object.
 * S3 itself allows any segment within its 1024-byte key.
 */
const MAX_SEGMENT_BYTES = 250;

/**
 * assertValidKey plus the file-system limit of the embedded store.
 * @throws ObjectStoreError InvalidArgument (see assertValidKey), KeyTooLongError (S3's code for a
 *         key too long) when a segment exceeds 250 bytes.
 */
export function assertStorableKey(key: string): void {
  assertValidKey(key);
  for (const segment of key.split('/')) {
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) {
      throw new ObjectStoreError('KeyTooLongError', `object key has a path segment longer than ${MAX_SEGMENT_BYTES} bytes`);
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

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/** Parses a JSON file; undefined when there is no such file. */
export async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
    throw err;
  }
}

export class ObjectFiles {
  readonly multipartDir: string;
  private readonly objectsDir: string;
  private readonly metaDir: string;
  /** Bodies being received (partial objects). */
  readonly tmpDir: string;
  private ready: Promise<void> | undefined;

  /** @param root absolute path of the store's folder */
  constructor(root: string) {
    this.objectsDir = join(root, 'objects');
    this.metaDir = join(root, 'meta');
    this.multipartDir = join(root, 'multipart');
    this.tmpDir = join(root, 'tmp');
  }

  /** Creates the four folders, once. */
  ensureDirs(): Promise<void> {
    return (this.ready ??= Promise.all(
      [this.objectsDir, this.metaDir, this.multipartDir, this.tmpDir].map((d) => mkdir(d, { recursive: true })),
    ).then(() => undefined));
  }

  /** A fresh temp file name in `tmp/` (same file system as the targets, so renames are atomic). */
  tmpFile(): string {
    return join(this.tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}.tmp`);
  }

  /** Writes a small file atomically (temp + rename), creating its folder. */
  async writeFileAtomic(path: string, data: string): Promise<void> {
    const tmp = this.tmpFile();
    await writeFile(tmp, data, { flag: 'wx' });
    await mkdir(dirname(path), { recursive: true });
    await rename(tmp, path);
  }

  /**
   * Copies `body` into a new temp file, hashing (MD5, optionally SHA-256) and counting as it goes.
   * Reads chunk by chunk without `pipeline` so a limit breach does not destroy `body`.
   * @throws ObjectStoreError EntityTooLarge (over `maxBytes`), XAmzContentSHA256Mismatch; the temp
   *   file is removed.
   */
  async spool(
    body: Readable | Buffer,
    maxBytes: number | undefined,
    expectedSha256: string | undefined,
  ): Promise<{ tmp: string; size: number; md5: string }> {
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    // A body that fails before it is read (a file stream that cannot open its file) fails this
    // call, not the process: the loop below rethrows it.
    await beforeReading(source, this.ensureDirs());
    const tmp = this.tmpFile();
    const out = createWriteStream(tmp, { flags: 'wx' });
    const md5 = createHash('md5');
    const sha = expectedSha256 ? createHash('sha256') : undefined;
    let size = 0;
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

  /**
   * Moves a finished temp file into place as `key`, metadata first (both atomic renames).
   * @throws ObjectStoreError InvalidArgument when the key collides with an object's path (a key
   *   below an existing object, or naming a folder of objects); the temp file is removed.
   */
  async commit(key: string, tmp: string, info: EmbeddedObjectInfo): Promise<void> {
    const target = this.objectPath(key);
    await withLock(`object:${target}`, async () => {
      try {
        await mkdir(dirname(target), { recursive: true });
        await this.writeFileAtomic(this.metaPath(key), JSON.stringify({ ...info, lastModified: info.lastModified.toISOString() }));
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

  /**
   * Hard-links the object's file at `dest` (replacing what is there): O(1) whatever its size, and
   * a snapshot, since an object is never written in place (an overwrite renames a new file in, a
   * deletion unlinks). @returns false when the object is absent or a link is impossible (another
   * file system, links not supported): the caller copies instead.
   */
  async linkTo(key: string, dest: string): Promise<boolean> {
    if (!isStorableKey(key)) return false;
    await rm(dest, { force: true });
    try {
      await link(this.objectPath(key), dest);
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR', 'EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP')) return false;
      throw err;
    }
  }

  /** Opens an object for reading, whole or bytes `start..end` (inclusive); undefined if absent. */
  async open(key: string, range?: { start: number; end: number }): Promise<OpenedObject | undefined> {
    if (!isStorableKey(key)) return undefined;
    const path = this.objectPath(key);
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
      const meta = await readJson<{ contentType?: string; etag?: string }>(this.metaPath(key));
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

  /** Metadata of an object without opening it; undefined if absent. */
  async head(key: string): Promise<EmbeddedObjectInfo | undefined> {
    if (!isStorableKey(key)) return undefined;
    const path = this.objectPath(key);
    let st;
    try {
      st = await stat(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
      throw err;
    }
    if (!st.isFile()) return undefined;
    const meta = await readJson<{ contentType?: string; etag?: string }>(this.metaPath(key));
    return {
      size: st.size,
      contentType: meta?.contentType ?? 'application/octet-stream',
      etag: meta?.etag ?? '""',
      lastModified: st.mtime,
    };
  }

  /** Removes an object and its metadata; no error if absent. */
  async delete(key: string): Promise<void> {
    // S3 DeleteObject of a missing key succeeds; a key no object can have is missing too.
    if (!isStorableKey(key)) return;
    const target = this.objectPath(key);
    await withLock(`object:${target}`, async () => {
      try {
        await rm(target, { force: true });
      } catch (err) {
        // The key names a folder of other objects, or lies below an object: no object to delete.
        if (isErrno(err, 'EISDIR', 'ERR_FS_EISDIR', 'ENOTDIR')) return;
        throw err;
      }
      await rm(this.metaPath(key), { force: true });
    });
  }

  /**
   * Removes every object whose key starts with `prefix` (which must end with `/`: a folder of
   * objects, e.g. `videos/<id>/`), with their metadata; returns how many files were removed.
   * No error when nothing is there. Used by the media collector (issue 8).
   */
  async deletePrefix(prefix: string): Promise<number> {
    assertValidFolderPrefix(prefix);
    // A folder the store cannot hold (segment over 250 bytes) holds no objects.
    if (!isStorableKey(`${prefix}x`)) return 0;
    const dir = this.objectPath(prefix.slice(0, -1));
    const files = await countFiles(dir);
    await withLock(`object:${dir}`, async () => {
      await rm(dir, { recursive: true, force: true });
      await rm(join(this.metaDir, prefix.slice(0, -1)), { recursive: true, force: true });
    });
    return files;
  }

  /**
   * Up to `maxKeys` objects whose key starts with `prefix` (any string, not only a folder) and sorts
   * after `startAfter`, in S3's order (ascending UTF-8 bytes), with `truncated` true when more
   * follow (S3 ListObjectsV2 without a delimiter). Reads the folder tree below the prefix's last `/`
   * on every call: fine for the embedded store's sizes. A prefix no stored key can start with lists nothing.
   */
  async list(prefix: string, startAfter: string | undefined, maxKeys: number): Promise<{ objects: ({ key: string } & EmbeddedObjectInfo)[]; truncated: boolean }> {
    const base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    if (base && !isListableFolder(base)) return { objects: [], truncated: false };
    const dir = base ? join(this.objectsDir, base.slice(0, -1)) : this.objectsDir;
    let entries;
    try {
      entries = await readdir(dir, { recursive: true, withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return { objects: [], truncated: false };
      throw err;
    }
    const after = startAfter === undefined ? undefined : Buffer.from(startAfter, 'utf8');
    const keys = entries
      .filter((e) => e.isFile())
      .map((e) => base + relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
      .filter((k) => k.startsWith(prefix) && (!after || Buffer.compare(Buffer.from(k, 'utf8'), after) > 0))
      .sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
    const objects: ({ key: string } & EmbeddedObjectInfo)[] = [];
    for (const key of keys.slice(0, maxKeys)) {
      // An object removed between readdir and head is simply not listed.
      const info = await this.head(key);
      if (info) objects.push({ key, ...info });
    }
    return { objects, truncated: keys.length > maxKeys };
  }

  private objectPath(key: string): string {
    assertStorableKey(key);
    return join(this.objectsDir, key);
  }

  private metaPath(key: string): string {
    return join(this.metaDir, `${key}.json`);
  }
}

/** True when `folder` (ends with `/`) is a valid, storable key prefix. */
function isListableFolder(folder: string): boolean {
  try {
    return isStorableKey(`${folder}x`);
  } catch {
    return false;
  }
}

/** Files under `dir`, recursively; 0 when it does not exist. */
async function countFiles(dir: string): Promise<number> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).length;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return 0;
    throw err;
  }
}
