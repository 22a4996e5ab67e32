import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { startEmbeddedS3Endpoint } from '../testing/s3-endpoint.fixture.ts';
import { createEmbeddedObjectStore, type EmbeddedObjectStore } from './embedded-object-store.adapter.ts';
import { runObjectStoreContract } from '../object-store.contract.ts';
import { ObjectStoreError } from '../object-store.port.ts';

const MIN_PART = 16;

// Port calls go straight to the embedded adapter; part PUTs go through its S3 endpoint.
runObjectStoreContract('embedded (direct)', async () => {
  const ep = await startEmbeddedS3Endpoint({ minPartSizeBytes: MIN_PART });
  return { store: ep.store, minPartSizeBytes: MIN_PART, close: () => ep.close() };
});

const s3 = { endpointPath: '/s3', bucket: 'streamwave', region: 'us-east-1', accessKeyId: 'AK', secretAccessKey: 'SK' };
const isCode = (code: string) => (err: unknown) => err instanceof ObjectStoreError && err.code === code;

describe('embedded object store specifics', () => {
  let dir: string;
  let store: EmbeddedObjectStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streamwave-embedded-'));
    store = createEmbeddedObjectStore({ dir, publicBaseUrl: 'http://media.test:8080', s3, minPartSizeBytes: MIN_PART });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('objects are files under objects/<key> and no temp files are left behind', async () => {
    await store.putObject('videos/v1/720p/init.mp4', Buffer.from('init'), 'video/mp4');
    assert.equal(await readFile(join(dir, 'objects/videos/v1/720p/init.mp4'), 'utf8'), 'init');
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });

  test('a body that fails before it is read (its file is gone) fails the write, not the process, even while the store is still making its folders', async () => {
    // A fresh store: its first write waits on mkdir, the time in which a bare file stream's open
    // fails with nobody listening (an unhandled 'error' ended a restarted standalone process).
    const fresh = createEmbeddedObjectStore({ dir: join(dir, 'fresh'), publicBaseUrl: 'http://media.test:8080', s3, minPartSizeBytes: MIN_PART });
    const gone = join(dir, 'no-such-segment.m4s');
    const failed = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => (e as NodeJS.ErrnoException).code);
    assert.equal(await failed(fresh.putFile('videos/v9/144p/init.mp4', gone, 'video/mp4')), 'ENOENT');
    const again = createEmbeddedObjectStore({ dir: join(dir, 'fresh-2'), publicBaseUrl: 'http://media.test:8080', s3, minPartSizeBytes: MIN_PART });
    assert.equal(await failed(again.writeObject('videos/v9/144p/init.mp4', createReadStream(gone), 'video/mp4')), 'ENOENT');
    assert.equal(await fresh.exists('videos/v9/144p/init.mp4'), false);
    assert.deepEqual(await readdir(join(dir, 'fresh-2', 'tmp')), []);
  });

  test('a multipart upload keeps a manifest and <n>.part files', async () => {
    const uploadId = await store.createMultipartUpload('uploads/u1/source', 'video/quicktime');
    const manifest = JSON.parse(await readFile(join(dir, 'multipart', uploadId, 'manifest.json'), 'utf8'));
    assert.equal(manifest.key, 'uploads/u1/source');
    assert.equal(manifest.contentType, 'video/quicktime');
    assert.ok(!Number.isNaN(Date.parse(manifest.created)));
    const body = Buffer.from('part one');
    const etag = await store.writePart(uploadId, 1, Readable.from([body]), 1024);
    assert.equal(etag, `"${createHash('md5').update(body).digest('hex')}"`);
    assert.deepEqual(await readFile(join(dir, 'multipart', uploadId, '1.part')), body);
  });

  test('writePart over the limit → EntityTooLarge, nothing stored', async () => {
    const uploadId = await store.createMultipartUpload('uploads/u2/source', 'video/mp4');
    await assert.rejects(store.writePart(uploadId, 1, Buffer.alloc(65), 64), isCode('EntityTooLarge'));
    assert.deepEqual(await store.listParts('uploads/u2/source', uploadId), []);
    assert.deepEqual(await readdir(join(dir, 'tmp')), []);
  });

  test('writePart checks a signed SHA-256, the part number and the upload key', async () => {
    const uploadId = await store.createMultipartUpload('uploads/u3/source', 'video/mp4');
    const wrong = createHash('sha256').update('other').digest('hex');
    await assert.rejects(store.writePart(uploadId, 1, Buffer.from('abc'), 64, { expectedSha256: wrong }), isCode('XAmzContentSHA256Mismatch'));
    await assert.rejects(store.writePart(uploadId, 0, Buffer.from('abc'), 64), isCode('InvalidArgument'));
    await assert.rejects(store.writePart(uploadId, 10_001, Buffer.from('abc'), 64), isCode('InvalidArgument'));
    await assert.rejects(store.writePart(uploadId, 1, Buffer.from('abc'), 64, { key: 'uploads/other' }), isCode('NoSuchUpload'));
    await assert.rejects(store.writePart('../../etc', 1, Buffer.from('abc'), 64), isCode('NoSuchUpload'));
  });

  test('completing again with different parts → NoSuchUpload (the upload is gone, as in S3)', async () => {
    const k = 'uploads/u4/source';
    const uploadId = await store.createMultipartUpload(k, 'video/mp4');
    const e1 = await store.writePart(uploadId, 1, Buffer.alloc(MIN_PART, 1), 1024);
    const e2 = await store.writePart(uploadId, 2, Buffer.from('end'), 1024);
    const size = await store.completeMultipartUpload(k, uploadId, [
      { partNumber: 1, etag: e1 },
      { partNumber: 2, etag: e2 },
    ]);
    assert.equal(size, MIN_PART + 3);
    await assert.rejects(store.completeMultipartUpload(k, uploadId, [{ partNumber: 1, etag: e1 }]), isCode('NoSuchUpload'));
    // Multipart objects carry S3's "<md5 of md5s>-<n>" ETag.
    assert.match((await store.headObject(k))?.etag ?? '', /^"[0-9a-f]{32}-2"$/);
    // Part files are dropped once the completion is recorded.
    const left = await readdir(join(dir, 'multipart', uploadId));
    assert.ok(!left.some((f) => f.endsWith('.part')), `left: ${left.join(',')}`);
  });

  test('presignUploadPart is a path-style SigV4 query-auth URL on the public base URL', async () => {
    const url = new URL(await store.presignUploadPart('uploads/u5/source', 'abcdefabcdefabcdef', 7, 900));
    assert.equal(url.origin, 'http://media.test:8080');
    assert.equal(url.pathname, '/s3/streamwave/uploads/u5/source');
    assert.equal(url.searchParams.get('partNumber'), '7');
    assert.equal(url.searchParams.get('uploadId'), 'abcdefabcdefabcdef');
    assert.equal(url.searchParams.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
    assert.match(url.searchParams.get('X-Amz-Credential') ?? '', /^AK\/\d{8}\/us-east-1\/s3\/aws4_request$/);
    assert.match(url.searchParams.get('X-Amz-Date') ?? '', /^\d{8}T\d{6}Z$/);
    assert.equal(url.searchParams.get('X-Amz-Expires'), '900');
    assert.equal(url.searchParams.get('X-Amz-SignedHeaders'), 'host');
    assert.match(url.searchParams.get('X-Amz-Signature') ?? '', /^[0-9a-f]{64}$/);
    await assert.rejects(store.presignUploadPart('uploads/u5/source', 'abcdefabcdefabcdef', 1, 604_801), isCode('InvalidArgument'));
  });

  test('a key that is a prefix of another object is reported as a typed error', async () => {
    await store.putObject('videos/v9/file', Buffer.from('x'), 'text/plain');
    await assert.rejects(store.putObject('videos/v9/file/child', Buffer.from('y'), 'text/plain'), isCode('InvalidArgument'));
  });

  test('deleting a key that names a folder or lies below a file is a no-op, as for any missing key', async () => {
    await store.putObject('videos/v10/file', Buffer.from('x'), 'text/plain');
    await store.deleteObject('videos/v10');
    await store.deleteObject('videos/v10/file/child');
    assert.equal(await store.exists('videos/v10/file'), true);
  });

  test('a path segment longer than the file system takes → KeyTooLongError (missing on reads)', async () => {
    const key = `videos/${'y'.repeat(300)}/x`;
    await assert.rejects(store.putObject(key, Buffer.from('x'), 'text/plain'), isCode('KeyTooLongError'));
    await assert.rejects(store.createMultipartUpload(key, 'video/mp4'), isCode('KeyTooLongError'));
    assert.equal(await store.headObject(key), undefined);
    assert.equal(await store.getObject(key), undefined);
    assert.equal(await store.exists(key), false);
    await store.deleteObject(key);
  });

  test('publicUrl = publicBaseUrl + mediaPathPrefix + key', () => {
    assert.equal(store.publicUrl('videos/v1/master.m3u8'), 'http://media.test:8080/media/videos/v1/master.m3u8');
  });
});
