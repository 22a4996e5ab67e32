/**
 * The S3 adapter against a real S3 server: SeaweedFS (`weed server -s3`, built and started by
 * deploy/local/seaweedfs.sh through test/support/seaweedfs-server.ts). Runs the same object-store
 * contract as the embedded store and the embedded S3 endpoint, then what only a real server shows:
 * signature checks on presigned URLs, why the client must not add checksums, bucket CORS, paging
 * past 1000 keys, and data surviving a restart.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { GetBucketCorsCommand, S3Client, UploadPartCommand, CreateMultipartUploadCommand, AbortMultipartUploadCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { seaweedfsRequirement, startSeaweedfsServer, type SeaweedfsServer } from '../../../test/support/seaweedfs-server.ts';
import { runObjectStoreContract } from '../object-store.contract.ts';
import { S3_MIN_PART_SIZE_BYTES } from '../s3-rules.ts';
import { createS3ObjectStore, type S3ObjectStoreOptions } from './s3-object-store.adapter.ts';

// The AWS SDK v3 warns about Node 20 support on load; irrelevant to these tests.
process.removeAllListeners('warning');

const skip = await seaweedfsRequirement();

// One server for the whole file (starting one takes seconds); every group uses its own bucket.
let serverStarted: Promise<SeaweedfsServer> | undefined;
const server = () => (serverStarted ??= startSeaweedfsServer());
after(async () => {
  if (!serverStarted) return;
  const s = await serverStarted.catch(() => undefined);
  await s?.stop();
});

function storeFor(s: SeaweedfsServer, bucket: string, extra: Partial<S3ObjectStoreOptions> = {}) {
  return createS3ObjectStore({
    endpoint: s.endpoint,
    region: s.region,
    bucket,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    forcePathStyle: true,
    publicBaseUrl: `${s.endpoint}/${bucket}`,
    maxAttempts: 1,
    ...extra,
  });
}

const put = async (url: string, body: Buffer, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { method: 'PUT', body: new Uint8Array(body), headers, signal: AbortSignal.timeout(30_000) });
  return { status: res.status, text: await res.text(), headers: res.headers };
};

if (skip) {
  describe('S3 adapter → SeaweedFS', { skip }, () => {});
} else {
  runObjectStoreContract('S3 adapter → SeaweedFS', async () => {
    const s = await server();
    const bucket = await s.createBucket();
    // SeaweedFS enforces S3's 5 MiB minimum part size (filer_multipart.go multiPartMinSize).
    // Small delete pages so the contract's paging case crosses several ListObjectsV2/DeleteObjects rounds.
    return {
      store: storeFor(s, bucket, { deleteBatchSize: 3 }),
      minPartSizeBytes: S3_MIN_PART_SIZE_BYTES,
      close: async () => {},
      deviations: { partReuploadsNeedDistinctSeconds: true },
    };
  });

  describe('S3 adapter → SeaweedFS specifics', () => {
    test('a presigned part URL with a tampered signature or key is refused with 403', async () => {
      const s = await server();
      const store = storeFor(s, await s.createBucket());
      const uploadId = await store.createMultipartUpload('uploads/t/source', 'video/mp4');
      const url = new URL(await store.presignUploadPart('uploads/t/source', uploadId, 1, 300));
      const signature = url.searchParams.get('X-Amz-Signature') ?? '';
      const tampered = new URL(url);
      tampered.searchParams.set('X-Amz-Signature', `${signature[0] === '0' ? '1' : '0'}${signature.slice(1)}`);
      assert.equal((await put(tampered.href, Buffer.from('x'))).status, 403);
      const otherKey = new URL(url);
      otherKey.pathname = otherKey.pathname.replace('/source', '/other');
      assert.equal((await put(otherKey.href, Buffer.from('x'))).status, 403);
      assert.deepEqual(await store.listParts('uploads/t/source', uploadId), []);
      assert.equal((await put(url.href, Buffer.from('x'))).status, 200);
      await store.abortMultipartUpload('uploads/t/source', uploadId);
    });

    test("without requestChecksumCalculation 'WHEN_REQUIRED' the SDK's presigned part URL fails (why the adapter sets it)", async () => {
      const s = await server();
      const bucket = await s.createBucket();
      // The SDK's default since 3.729: a checksum on every request that supports one. The presigned
      // URL then carries the CRC32 of the empty body it was signed with, which no real part matches.
      const defaults = new S3Client({
        endpoint: s.endpoint,
        region: s.region,
        forcePathStyle: true,
        credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
        maxAttempts: 1,
      });
      try {
        const { UploadId } = await defaults.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'uploads/c/source' }));
        const url = await getSignedUrl(defaults, new UploadPartCommand({ Bucket: bucket, Key: 'uploads/c/source', UploadId, PartNumber: 1 }), { expiresIn: 300 });
        const res = await put(url, Buffer.from('a part'));
        assert.equal(res.status, 400, res.text);
        assert.match(res.text, /BadDigest|InvalidDigest|checksum/i);
        await defaults.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'uploads/c/source', UploadId }));
      } finally {
        defaults.destroy();
      }
    });

    test('wrong credentials are refused', async () => {
      const s = await server();
      const bucket = await s.createBucket();
      const store = createS3ObjectStore({
        endpoint: s.endpoint,
        region: s.region,
        bucket,
        credentials: { accessKeyId: s.accessKeyId, secretAccessKey: 'not-the-secret' },
        forcePathStyle: true,
        publicBaseUrl: s.endpoint,
        maxAttempts: 1,
      });
      await assert.rejects(store.putObject('videos/x/y.jpg', Buffer.from('x'), 'image/jpeg'), (err: Error) => err.name === 'SignatureDoesNotMatch');
      assert.equal(await storeFor(s, bucket).exists('videos/x/y.jpg'), false);
    });

    test('deletePrefix pages through more than 1000 keys (ListObjectsV2 pages, DeleteObjects batches of 1000)', async () => {
      const s = await server();
      const store = storeFor(s, await s.createBucket());
      const keys = Array.from({ length: 1005 }, (_, i) => `videos/big/hls/360p/seg-${String(i).padStart(5, '0')}.m4s`);
      // Eight writers at a time: enough to be quick, few enough for a 2-core machine.
      for (let i = 0; i < keys.length; i += 8) {
        await Promise.all(keys.slice(i, i + 8).map((k) => store.putObject(k, Buffer.from(k), 'video/iso.segment')));
      }
      await store.putObject('videos/bigger/keep.m4s', Buffer.from('keep'), 'video/iso.segment');
      assert.equal(await store.deletePrefix('videos/big/'), keys.length);
      assert.equal(await store.exists(keys[0]), false);
      assert.equal(await store.exists(keys.at(-1) ?? ''), false);
      assert.equal(await store.exists('videos/bigger/keep.m4s'), true);
      assert.equal(await store.deletePrefix('videos/big/'), 0);
    });

    test('objects survive a server restart (same port, same data directory)', async () => {
      const s = await server();
      const store = storeFor(s, await s.createBucket());
      await store.putObject('videos/r/master.m3u8', Buffer.from('#EXTM3U\n'), 'application/vnd.apple.mpegurl');
      const pid = s.pid;
      await s.restart();
      assert.notEqual(s.pid, pid);
      const got = await store.getObject('videos/r/master.m3u8');
      assert.ok(got);
      assert.equal(Buffer.concat(await got.body.toArray()).toString(), '#EXTM3U\n');
    });
  });

  describe('ensureBucket on SeaweedFS', () => {
    test('creates the bucket once, then finds it', async () => {
      const s = await server();
      const store = storeFor(s, `streamwave-ensure-${process.pid}`);
      const first = await store.ensureBucket();
      assert.equal(first.created, true);
      const second = await store.ensureBucket();
      assert.equal(second.created, false);
      await store.putObject('videos/e/x.txt', Buffer.from('x'), 'text/plain');
      assert.equal(await store.exists('videos/e/x.txt'), true);
    });

    test('a browser can PUT a part from another origin and read its ETag (CORS)', async () => {
      const s = await server();
      const bucket = `streamwave-cors-${process.pid}`;
      const store = storeFor(s, bucket);
      const origin = 'https://app.example.test';
      // SeaweedFS 4.53 implements PutBucketCors / GetBucketCors.
      assert.deepEqual(await store.ensureBucket({ allowedOrigins: [origin] }), { created: true, cors: 'applied' });
      const cors = await s.client().send(new GetBucketCorsCommand({ Bucket: bucket }));
      const rule = cors.CORSRules?.[0];
      assert.ok(rule, 'the bucket has a CORS rule');
      assert.ok(rule.ExposeHeaders?.some((h) => h.toLowerCase() === 'etag'), `exposed: ${rule.ExposeHeaders}`);
      assert.deepEqual(rule.AllowedOrigins, [origin]);
      const uploadId = await store.createMultipartUpload('uploads/b/source', 'video/mp4');
      const url = await store.presignUploadPart('uploads/b/source', uploadId, 1, 300);
      // The preflight a browser sends before a cross-origin PUT.
      const preflight = await fetch(url, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' },
        signal: AbortSignal.timeout(10_000),
      });
      await preflight.arrayBuffer();
      assert.ok(preflight.status === 200 || preflight.status === 204, `preflight status ${preflight.status}`);
      assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
      assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /PUT/i);
      // The PUT itself: the response must expose ETag to the page's script.
      const res = await put(url, Buffer.from('browser part'), { origin });
      assert.equal(res.status, 200, res.text);
      assert.ok(res.headers.get('etag'));
      assert.equal(res.headers.get('access-control-allow-origin'), origin);
      assert.match(res.headers.get('access-control-expose-headers') ?? '', /etag/i);
      // The bucket's rule replaces SeaweedFS's default (reflect any origin, -s3.allowedOrigins=*): a
      // page on another origin is refused at the preflight, so its browser never sends the PUT.
      const foreign = await fetch(url, {
        method: 'OPTIONS',
        headers: { origin: 'https://elsewhere.example.test', 'access-control-request-method': 'PUT' },
        signal: AbortSignal.timeout(10_000),
      });
      await foreign.arrayBuffer();
      assert.equal(foreign.status, 403);
      assert.equal(foreign.headers.get('access-control-allow-origin'), null);
      await store.abortMultipartUpload('uploads/b/source', uploadId);
    });

    test('without a bucket CORS rule SeaweedFS reflects any origin and exposes ETag (its default)', async () => {
      const s = await server();
      const store = storeFor(s, await s.createBucket());
      const uploadId = await store.createMultipartUpload('uploads/d/source', 'video/mp4');
      const url = await store.presignUploadPart('uploads/d/source', uploadId, 1, 300);
      const origin = 'https://any.example.test';
      const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'PUT' }, signal: AbortSignal.timeout(10_000) });
      await preflight.arrayBuffer();
      assert.equal(preflight.status, 200);
      assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
      assert.match(preflight.headers.get('access-control-expose-headers') ?? '', /etag/i);
      await store.abortMultipartUpload('uploads/d/source', uploadId);
    });
  });
}
