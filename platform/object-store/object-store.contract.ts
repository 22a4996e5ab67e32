import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ObjectStoreError, type ObjectDeletion, type ObjectStore } from './object-store.port.ts';

/** What a contract run needs from an adapter under test. */
export interface ObjectStoreContractFixture {
  /** The adapter; every adapter also implements ObjectDeletion (the media collector needs it). */
  store: ObjectStore & ObjectDeletion;
  /**
   * The backend's minimum size of every part but the last, bytes. The suite uses parts of exactly
   * this size, so keep it small (the embedded store's `minPartSizeBytes`) for fast tests.
   */
  minPartSizeBytes: number;
  close(): Promise<void>;
  /**
   * Where a real server departs from S3 in a way no adapter can hide, so the suite arranges its
   * inputs around it (and names it here instead of weakening an assertion).
   * `partReuploadsNeedDistinctSeconds`: the server keeps every upload of a part number and ListParts
   * tells them apart only by LastModified in whole seconds (SeaweedFS 4.53), so a re-upload of a part
   * within the same second cannot be told from the first through the S3 API.
   */
  deviations?: { partReuploadsNeedDistinctSeconds?: boolean };
}

/** Resolves once the wall clock has entered the next whole second. */
async function nextWholeSecond(): Promise<void> {
  const target = Math.floor(Date.now() / 1000) * 1000 + 1000;
  while (Date.now() < target) await new Promise((r) => setTimeout(r, target - Date.now() + 5));
}

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

const md5Etag = (b: Buffer) => `"${createHash('md5').update(b).digest('hex')}"`;

/** PUTs a part to a presigned URL as a browser would (no SDK, no extra headers). */
async function putPart(url: string, body: Buffer): Promise<{ status: number; etag: string | null }> {
  const res = await fetch(url, { method: 'PUT', body: new Uint8Array(body), signal: AbortSignal.timeout(10_000) });
  await res.arrayBuffer();
  return { status: res.status, etag: res.headers.get('etag') };
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ObjectStoreError, `expected ObjectStoreError ${code}, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/**
 * Shared behaviour of every ObjectStore adapter (the port's contract, S3 semantics): object
 * round trips, multipart upload through presigned part URLs with resume, CompleteMultipartUpload's
 * checks (InvalidPart, InvalidPartOrder, EntityTooSmall), idempotent completion, abort, key validation,
 * and deletion (ObjectDeletion: deleteObject, deletePrefix with its folder boundary and paging).
 * Call from a `*.test.ts` with a factory building a fresh adapter.
 */
export function runObjectStoreContract(name: string, setup: () => Promise<ObjectStoreContractFixture>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let fx: ObjectStoreContractFixture;
    let scratch: string;
    let n = 0;
    /** A fresh key per test so cases do not see each other's objects. */
    const key = (suffix: string) => `videos/contract-${process.pid}-${++n}/${suffix}`;
    const partBody = (fill: string, size = fx.minPartSizeBytes) => Buffer.alloc(size, fill);

    before(async () => {
      fx = await setup();
      scratch = await mkdtemp(join(tmpdir(), 'streamwave-contract-'));
    });
    after(async () => {
      await fx?.close();
      if (scratch) await rm(scratch, { recursive: true, force: true });
    });

    test('putObject (Buffer) then getObject returns the bytes, size and content type', async () => {
      const k = key('master.m3u8');
      const body = Buffer.from('#EXTM3U\n#EXT-X-VERSION:7\n');
      await fx.store.putObject(k, body, 'application/vnd.apple.mpegurl');
      const got = await fx.store.getObject(k);
      assert.ok(got);
      assert.equal(got.size, body.length);
      assert.equal(got.contentType, 'application/vnd.apple.mpegurl');
      assert.deepEqual(await readAll(got.body), body);
      assert.equal(await fx.store.exists(k), true);
    });

    test('putObject (stream of unknown length) overwrites an existing object', async () => {
      const k = key('seg-1.m4s');
      await fx.store.putObject(k, Buffer.from('old'), 'video/iso.segment');
      await fx.store.putObject(k, Readable.from([Buffer.from('new-'), Buffer.from('segment')]), 'video/iso.segment');
      const got = await fx.store.getObject(k);
      assert.ok(got);
      assert.equal((await readAll(got.body)).toString(), 'new-segment');
    });

    test('a part URL presigned with a contentLength refuses any other length (403) and takes exactly that length (issue 8)', async () => {
      const k = key('signed-length.mp4');
      const uploadId = await fx.store.createMultipartUpload(k, 'video/mp4');
      const url = await fx.store.presignUploadPart(k, uploadId, 1, 300, 4);
      assert.match(new URL(url).searchParams.get('X-Amz-SignedHeaders') ?? '', /(^|;)content-length(;|$)/);
      assert.equal((await putPart(url, Buffer.from('12345'))).status, 403);
      assert.equal((await putPart(url, Buffer.from('123'))).status, 403);
      assert.deepEqual(await fx.store.listParts(k, uploadId), []);
      assert.equal((await putPart(url, Buffer.from('1234'))).status, 200);
      assert.deepEqual((await fx.store.listParts(k, uploadId)).map((p) => p.size), [4]);
    });

    test('keys with spaces, unicode and reserved characters round-trip (put, multipart, get)', async () => {
      const k = key("my clip (1) ü+&=.mp4");
      await fx.store.putObject(k, Buffer.from('odd key'), 'video/mp4');
      const got = await fx.store.getObject(k);
      assert.ok(got);
      assert.equal((await readAll(got.body)).toString(), 'odd key');
      const uploadId = await fx.store.createMultipartUpload(k, 'video/mp4');
      const res = await putPart(await fx.store.presignUploadPart(k, uploadId, 1, 300), Buffer.from('part'));
      assert.equal(res.status, 200);
      assert.equal(await fx.store.completeMultipartUpload(k, uploadId, [{ partNumber: 1, etag: md5Etag(Buffer.from('part')) }]), 4);
    });

    test('missing objects: getObject undefined, exists false, downloadToFile NoSuchKey', async () => {
      const k = key('missing.jpg');
      assert.equal(await fx.store.getObject(k), undefined);
      assert.equal(await fx.store.exists(k), false);
      await rejectsWithCode(fx.store.downloadToFile(k, join(scratch, 'missing.jpg')), 'NoSuchKey');
    });

    test('putFile then downloadToFile copies the file', async () => {
      const k = key('thumb.jpg');
      const src = join(scratch, 'src.bin');
      const dst = join(scratch, 'nested', 'dst.bin');
      const body = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
      await writeFile(src, body);
      await fx.store.putFile(k, src, 'image/jpeg');
      await fx.store.downloadToFile(k, dst);
      assert.deepEqual(await readFile(dst), body);
    });

    test('putFile of a file that is not there rejects with ENOENT and writes no object (never an unhandled stream error)', async () => {
      const k = key('vanished.m4s');
      const err = await fx.store.putFile(k, join(scratch, 'deleted-under-the-uploader.m4s'), 'video/iso.segment').then(() => null, (e: unknown) => e);
      assert.equal((err as NodeJS.ErrnoException | null)?.code, 'ENOENT');
      assert.equal(await fx.store.exists(k), false);
    });

    test('putFile of a folder (it opens; its reads would fail) rejects with EISDIR and writes nothing', async () => {
      const k = key('folder.m4s');
      const folder = join(scratch, 'a-folder');
      await mkdir(folder, { recursive: true });
      const err = await fx.store.putFile(k, folder, 'video/iso.segment').then(() => null, (e: unknown) => e);
      assert.equal((err as NodeJS.ErrnoException | null)?.code, 'EISDIR');
      assert.equal(await fx.store.exists(k), false);
    });

    test('a downloaded file is a snapshot: overwriting, then deleting the object leaves it as it was', async () => {
      const k = key('source.mp4');
      const dst = join(scratch, 'snapshot.bin');
      await fx.store.putObject(k, Buffer.from('first version'), 'video/mp4');
      await fx.store.downloadToFile(k, dst);
      await fx.store.putObject(k, Buffer.from('second, longer version'), 'video/mp4');
      assert.equal((await readFile(dst)).toString(), 'first version');
      await fx.store.deleteObject(k);
      assert.equal((await readFile(dst)).toString(), 'first version');
      // Downloading over an existing file replaces it.
      await fx.store.putObject(k, Buffer.from('third'), 'video/mp4');
      await fx.store.downloadToFile(k, dst);
      assert.equal((await readFile(dst)).toString(), 'third');
    });

    test('keys that could escape the store are rejected', async () => {
      for (const bad of ['../etc/passwd', '/abs/key', 'a//b', 'a/./b', '']) {
        await rejectsWithCode(fx.store.putObject(bad, Buffer.from('x'), 'text/plain'), 'InvalidArgument');
      }
    });

    test('publicUrl ends with the key', () => {
      assert.ok(fx.store.publicUrl('videos/v1/master.m3u8').endsWith('/videos/v1/master.m3u8'));
    });

    test('resume: parts 1 and 3, listParts shows both, then part 2, complete assembles in order', async () => {
      const k = key('source');
      const uploadId = await fx.store.createMultipartUpload(k, 'video/mp4');
      const p1 = partBody('a');
      const p2 = partBody('b');
      const p3 = Buffer.from('tail');
      for (const [num, body] of [[1, p1], [3, p3]] as const) {
        const res = await putPart(await fx.store.presignUploadPart(k, uploadId, num, 300), body);
        assert.equal(res.status, 200);
        assert.equal(res.etag, md5Etag(body));
      }
      const listed = await fx.store.listParts(k, uploadId);
      assert.deepEqual(
        listed.map((p) => ({ partNumber: p.partNumber, etag: p.etag, size: p.size })),
        [
          { partNumber: 1, etag: md5Etag(p1), size: p1.length },
          { partNumber: 3, etag: md5Etag(p3), size: p3.length },
        ],
      );
      // The client uploads only what is missing.
      const missing = [1, 2, 3].filter((num) => !listed.some((p) => p.partNumber === num));
      assert.deepEqual(missing, [2]);
      assert.equal((await putPart(await fx.store.presignUploadPart(k, uploadId, 2, 300), p2)).status, 200);

      const parts = (await fx.store.listParts(k, uploadId)).map((p) => ({ partNumber: p.partNumber, etag: p.etag }));
      const size = await fx.store.completeMultipartUpload(k, uploadId, parts);
      const whole = Buffer.concat([p1, p2, p3]);
      assert.equal(size, whole.length);
      const got = await fx.store.getObject(k);
      assert.ok(got);
      assert.equal(got.contentType, 'video/mp4');
      assert.deepEqual(await readAll(got.body), whole);

      // Completing again with the same parts (a retry after a lost response) is fine.
      assert.equal(await fx.store.completeMultipartUpload(k, uploadId, parts), whole.length);
      // After completion the upload is gone.
      await rejectsWithCode(fx.store.listParts(k, uploadId), 'NoSuchUpload');
    });

    test('re-uploading a part replaces it', async () => {
      const k = key('source');
      const uploadId = await fx.store.createMultipartUpload(k, 'video/mp4');
      await putPart(await fx.store.presignUploadPart(k, uploadId, 1, 300), Buffer.from('first'));
      if (fx.deviations?.partReuploadsNeedDistinctSeconds) await nextWholeSecond();
      const second = Buffer.from('second try');
      await putPart(await fx.store.presignUploadPart(k, uploadId, 1, 300), second);
      const listed = await fx.store.listParts(k, uploadId);
      assert.equal(listed.length, 1);
      assert.equal(listed[0].etag, md5Etag(second));
      assert.equal(listed[0].size, second.length);
      await fx.store.abortMultipartUpload(k, uploadId);
    });

    test('complete with a wrong ETag or an unknown part → InvalidPart', async () => {
      const k = key('source');
      const uploadId = await fx.store.createMultipartUpload(k, 'video/mp4');
      const body = partBody('p');
      await putPart(await fx.store.presignUploadPart(k, uploadId, 1, 300), body);
      await rejectsWithCode(
        fx.store.completeMultipartUpload(k, uploadId, [{ partNumber: 1, etag: md5Etag(Buffer.from('something else')) }]),
        'InvalidPart',
      );
      await rejectsWithCode(
        fx.store.completeMultipartUpload(k, uploadId, [
          { partNumber: 1, etag: md5Etag(body) },
          { partNumber: 2, etag: md5Etag(body) },
        ]),
        'InvalidPart',
      );
      // The upload survives a rejected completion.
      assert.equal(await fx.store.completeMultipartUpload(k, uploadId, [{ partNumber: 1, etag: md5Etag(body) }]), body.length);
    });

    test('complete with parts out of order → InvalidPartOrder', async () => {
      const k = key('source');
      const uploadId = await fx.store.createMultipartUpload(k, 'video/mp4');
      const p1 = partBody('x');
      const p2 = partBody('y');
      await putPart(await fx.store.presignUploadPart(k, uploadId, 1, 300), p1);
      await putPart(await fx.store.presignUploadPart(k, uploadId, 2, 300), p2);
      await rejectsWithCode(
        fx.store.completeMultipartUpload(k, uploadId, [
          { partNumber: 2, etag: md5Etag(p2) },
          { partNumber: 1, etag: md5Etag(p1) },
        ]),
        'InvalidPartOrder',
      );
      await fx.store.abortMultipartUpload(k, uploadId);
    });

    test('a non-last part under the minimum size → EntityTooSmall', async () => {
      const k = key('source');
      const uploadId = await fx.store.createMultipartUpload(k, 'video/mp4');
      const small = partBody('s', fx.minPartSizeBytes - 1);
      const last = Buffer.from('z');
      await putPart(await fx.store.presignUploadPart(k, uploadId, 1, 300), small);
      await putPart(await fx.store.presignUploadPart(k, uploadId, 2, 300), last);
      await rejectsWithCode(
        fx.store.completeMultipartUpload(k, uploadId, [
          { partNumber: 1, etag: md5Etag(small) },
          { partNumber: 2, etag: md5Etag(last) },
        ]),
        'EntityTooSmall',
      );
      await fx.store.abortMultipartUpload(k, uploadId);
    });

    test('abort drops the upload; unknown uploads → NoSuchUpload', async () => {
      const k = key('source');
      const uploadId = await fx.store.createMultipartUpload(k, 'video/mp4');
      await putPart(await fx.store.presignUploadPart(k, uploadId, 1, 300), Buffer.from('abc'));
      await fx.store.abortMultipartUpload(k, uploadId);
      await rejectsWithCode(fx.store.listParts(k, uploadId), 'NoSuchUpload');
      await rejectsWithCode(fx.store.completeMultipartUpload(k, uploadId, [{ partNumber: 1, etag: md5Etag(Buffer.from('abc')) }]), 'NoSuchUpload');
      assert.equal(await fx.store.exists(k), false);
      await rejectsWithCode(fx.store.listParts(k, 'nosuchuploadnosuchupload00'), 'NoSuchUpload');
    });

    test('deleteObject removes an object; deleting a missing key is a no-op', async () => {
      const k = key('thumbnail.jpg');
      await fx.store.putObject(k, Buffer.from('jpeg'), 'image/jpeg');
      await fx.store.deleteObject(k);
      assert.equal(await fx.store.exists(k), false);
      assert.equal(await fx.store.getObject(k), undefined);
      await fx.store.deleteObject(k);
      await fx.store.deleteObject(key('never-written.jpg'));
      await rejectsWithCode(fx.store.deleteObject('../etc/passwd'), 'InvalidArgument');
    });

    test('deletePrefix removes every object below the folder, counts them, and stops at the folder boundary', async () => {
      const folder = key('v');
      const inside = [
        `${folder}/hls/master.m3u8`,
        `${folder}/hls/720p/init.mp4`,
        `${folder}/hls/720p/seg-1.m4s`,
        `${folder}/hls/720p/seg-2.m4s`,
        `${folder}/thumbnail.jpg`,
        `${folder}/odd name ü+&=.txt`,
      ];
      // Same leading characters, other folders: not "below" `${folder}/`.
      const outside = [`${folder}x/seg-1.m4s`, `${folder}-2/thumbnail.jpg`];
      for (const k of [...inside, ...outside]) await fx.store.putObject(k, Buffer.from(k), 'application/octet-stream');
      // A multipart-completed object is an object like any other.
      const uploadId = await fx.store.createMultipartUpload(`${folder}/source`, 'video/mp4');
      assert.equal((await putPart(await fx.store.presignUploadPart(`${folder}/source`, uploadId, 1, 300), Buffer.from('raw'))).status, 200);
      await fx.store.completeMultipartUpload(`${folder}/source`, uploadId, [{ partNumber: 1, etag: md5Etag(Buffer.from('raw')) }]);

      assert.equal(await fx.store.deletePrefix(`${folder}/`), inside.length + 1);
      for (const k of [...inside, `${folder}/source`]) assert.equal(await fx.store.exists(k), false, k);
      for (const k of outside) assert.equal(await fx.store.exists(k), true, k);
      // Again (a redelivered VideoDeleted): nothing left, nothing fails.
      assert.equal(await fx.store.deletePrefix(`${folder}/`), 0);
      assert.equal(await fx.store.deletePrefix(`${key('empty')}/`), 0);
    });

    test('deletePrefix takes only folder prefixes', async () => {
      for (const bad of ['', '/', 'videos', '../videos/', '/videos/', 'videos//', 'a/../b/']) {
        await rejectsWithCode(fx.store.deletePrefix(bad), 'InvalidArgument');
      }
    });

    test('deletePrefix of a folder with more objects than one listing page holds removes them all', async () => {
      // Adapters that page (S3: 1000 keys per ListObjectsV2 / DeleteObjects) are built with small pages by their fixtures.
      const folder = key('many');
      const keys = Array.from({ length: 7 }, (_, i) => `${folder}/seg-${String(i).padStart(2, '0')}.m4s`);
      for (const k of keys) await fx.store.putObject(k, Buffer.from(k), 'video/iso.segment');
      assert.equal(await fx.store.deletePrefix(`${folder}/`), keys.length);
      for (const k of keys) assert.equal(await fx.store.exists(k), false, k);
    });

    test('an upload id only works with its own key', async () => {
      const k = key('source');
      const uploadId = await fx.store.createMultipartUpload(k, 'video/mp4');
      await rejectsWithCode(fx.store.listParts(key('other'), uploadId), 'NoSuchUpload');
      const res = await putPart(await fx.store.presignUploadPart(key('other'), uploadId, 1, 300), Buffer.from('x'));
      assert.equal(res.status, 404);
      await fx.store.abortMultipartUpload(k, uploadId);
    });
  });
}
