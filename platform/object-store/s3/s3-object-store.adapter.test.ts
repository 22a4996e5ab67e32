import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { FIXTURE_S3, startEmbeddedS3Endpoint, type EmbeddedS3Endpoint } from '../testing/s3-endpoint.fixture.ts';
import { runObjectStoreContract } from '../object-store.contract.ts';
import { createS3ObjectStore } from './s3-object-store.adapter.ts';
import { ObjectStoreError } from '../object-store.port.ts';
import { freePort } from '../../../test/support/kafka-broker.ts';

// The AWS SDK v3 warns about Node 20 support on load; irrelevant to these tests.
process.removeAllListeners('warning');

const MIN_PART = 16;

function s3StoreFor(ep: EmbeddedS3Endpoint) {
  return createS3ObjectStore({
    endpoint: `${ep.baseUrl}${FIXTURE_S3.endpointPath}`,
    region: FIXTURE_S3.region,
    bucket: FIXTURE_S3.bucket,
    credentials: { accessKeyId: FIXTURE_S3.accessKeyId, secretAccessKey: FIXTURE_S3.secretAccessKey },
    forcePathStyle: true,
    publicBaseUrl: `${ep.baseUrl}/media`,
    maxAttempts: 1,
    // Small pages so the contract's paging case crosses several ListObjectsV2 / DeleteObjects rounds.
    deleteBatchSize: 3,
  });
}

// The real AWS SDK (header SigV4, SDK presigned URLs, XML parsing) against our S3 endpoint.
runObjectStoreContract('S3 adapter → embedded S3 endpoint', async () => {
  const ep = await startEmbeddedS3Endpoint({ minPartSizeBytes: MIN_PART });
  return { store: s3StoreFor(ep), minPartSizeBytes: MIN_PART, close: () => ep.close() };
});

describe('S3 adapter specifics', () => {
  let ep: EmbeddedS3Endpoint;
  before(async () => {
    ep = await startEmbeddedS3Endpoint({ minPartSizeBytes: MIN_PART });
  });
  after(async () => {
    await ep?.close();
  });

  test('an S3 server that does not answer → ObjectStoreError ServiceUnavailable on every call (the gateway answers 503), a missing object is still just missing', async () => {
    const port = await freePort(); // nothing listens there
    const down = createS3ObjectStore({
      endpoint: `http://127.0.0.1:${port}${FIXTURE_S3.endpointPath}`, region: FIXTURE_S3.region, bucket: FIXTURE_S3.bucket,
      credentials: { accessKeyId: FIXTURE_S3.accessKeyId, secretAccessKey: FIXTURE_S3.secretAccessKey }, forcePathStyle: true, publicBaseUrl: 'http://127.0.0.1:1/media', maxAttempts: 1,
    });
    const unavailable = (e: unknown) => e instanceof ObjectStoreError && e.code === 'ServiceUnavailable';
    await assert.rejects(down.createMultipartUpload('uploads/x/source', 'video/mp4'), unavailable);
    await assert.rejects(down.getObject('videos/x/master.m3u8'), unavailable);
    await assert.rejects(down.headObject('videos/x/master.m3u8'), unavailable);
    await assert.rejects(down.listParts('uploads/x/source', 'u1'), unavailable);
    await assert.rejects(down.putObject('videos/x/a', Buffer.from('a'), 'text/plain'), unavailable);
    // A live server's 4xx answers keep their meaning.
    assert.equal(await s3StoreFor(ep).getObject('videos/none/master.m3u8'), undefined);
    await assert.rejects(s3StoreFor(ep).listParts('uploads/none/source', 'no-such-upload'), (e: unknown) => e instanceof ObjectStoreError && e.code === 'NoSuchUpload');
  });

  test('SDK presigned part URLs carry query SigV4 and are accepted by the endpoint', async () => {
    const store = s3StoreFor(ep);
    const uploadId = await store.createMultipartUpload('uploads/sdk/source', 'video/mp4');
    const url = new URL(await store.presignUploadPart('uploads/sdk/source', uploadId, 1, 60));
    assert.equal(url.pathname, '/s3/streamwave/uploads/sdk/source');
    assert.equal(url.searchParams.get('X-Amz-Expires'), '60');
    assert.equal(url.searchParams.get('uploadId'), uploadId);
    const res = await fetch(url, { method: 'PUT', body: new Uint8Array(Buffer.from('hello')), signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    // The embedded store sees the same part the SDK wrote through.
    const parts = await ep.store.listParts('uploads/sdk/source', uploadId);
    assert.deepEqual(parts.map((p) => p.size), [5]);
    await store.abortMultipartUpload('uploads/sdk/source', uploadId);
  });

  test('objects written by the embedded store are readable through the SDK, with byte ranges', async () => {
    const store = s3StoreFor(ep);
    await ep.store.putObject('videos/r/seg.m4s', Buffer.from('0123456789'), 'video/iso.segment');
    const part = await store.getObjectRange('videos/r/seg.m4s', { start: 2, end: 5 });
    assert.ok(part);
    assert.equal(part.size, 10);
    assert.equal(Buffer.concat(await part.body.toArray()).toString(), '2345');
    const head = await store.headObject('videos/r/seg.m4s');
    assert.equal(head?.contentType, 'video/iso.segment');
    assert.equal(head?.etag, (await ep.store.headObject('videos/r/seg.m4s'))?.etag);
  });

  test('wrong credentials are refused by the endpoint', async () => {
    const store = createS3ObjectStore({
      endpoint: `${ep.baseUrl}/s3`,
      region: FIXTURE_S3.region,
      bucket: FIXTURE_S3.bucket,
      credentials: { accessKeyId: FIXTURE_S3.accessKeyId, secretAccessKey: 'not-the-secret' },
      forcePathStyle: true,
      publicBaseUrl: ep.baseUrl,
      maxAttempts: 1,
    });
    await assert.rejects(store.putObject('videos/x/y.jpg', Buffer.from('x'), 'image/jpeg'), (err: Error) => err.name === 'SignatureDoesNotMatch');
    assert.equal(await ep.store.exists('videos/x/y.jpg'), false);
  });

  test('ensureBucket on the embedded endpoint: the bucket exists, PutBucketCors is not implemented (the endpoint answers CORS itself)', async () => {
    assert.deepEqual(await s3StoreFor(ep).ensureBucket(), { created: false, cors: 'unsupported' });
  });

  test('deletePrefix goes through ListObjectsV2 and DeleteObjects of the endpoint', async () => {
    const store = s3StoreFor(ep);
    for (const k of ['videos/d1/a', 'videos/d1/b/c', 'videos/d1/b/d', 'videos/d10/e']) await ep.store.putObject(k, Buffer.from(k), 'text/plain');
    assert.equal(await store.deletePrefix('videos/d1/'), 3);
    assert.equal(await ep.store.exists('videos/d1/b/c'), false);
    assert.equal(await ep.store.exists('videos/d10/e'), true);
  });

  test('endpoint ListObjectsV2 pages with continuation tokens and refuses a delimiter; DeleteObjects reports bad keys per key', async () => {
    const client = new S3Client({
      endpoint: `${ep.baseUrl}${FIXTURE_S3.endpointPath}`,
      region: FIXTURE_S3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: FIXTURE_S3.accessKeyId, secretAccessKey: FIXTURE_S3.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      maxAttempts: 1,
    });
    try {
      for (const k of ['videos/l/ü', 'videos/l/a', 'videos/l/z/1']) await ep.store.putObject(k, Buffer.from('x'), 'text/plain');
      const first = await client.send(new ListObjectsV2Command({ Bucket: FIXTURE_S3.bucket, Prefix: 'videos/l/', MaxKeys: 2 }));
      assert.deepEqual(first.Contents?.map((o) => o.Key), ['videos/l/a', 'videos/l/z/1']);
      assert.equal(first.IsTruncated, true);
      const second = await client.send(new ListObjectsV2Command({ Bucket: FIXTURE_S3.bucket, Prefix: 'videos/l/', ContinuationToken: first.NextContinuationToken }));
      // UTF-8 byte order, as S3: "ü" (0xC3 0xBC) after "z".
      assert.deepEqual(second.Contents?.map((o) => o.Key), ['videos/l/ü']);
      assert.equal(second.IsTruncated, false);
      await assert.rejects(client.send(new ListObjectsV2Command({ Bucket: FIXTURE_S3.bucket, Delimiter: '/' })), (err: Error) => err.name === 'NotImplemented');
      const out = await client.send(
        new DeleteObjectsCommand({ Bucket: FIXTURE_S3.bucket, Delete: { Objects: [{ Key: 'videos/l/a' }, { Key: '../escape' }, { Key: 'videos/l/missing' }] } }),
      );
      assert.deepEqual(out.Deleted?.map((d) => d.Key), ['videos/l/a', 'videos/l/missing']);
      assert.deepEqual(out.Errors?.map((e) => [e.Key, e.Code]), [['../escape', 'InvalidArgument']]);
      assert.equal(await ep.store.exists('videos/l/a'), false);
    } finally {
      client.destroy();
    }
  });

  test('publicUrl joins the CDN base and the key', () => {
    assert.equal(s3StoreFor(ep).publicUrl('videos/v1/master.m3u8'), `${ep.baseUrl}/media/videos/v1/master.m3u8`);
  });
});
