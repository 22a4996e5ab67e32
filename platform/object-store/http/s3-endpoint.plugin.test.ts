import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { XMLParser } from 'fast-xml-parser';
import { createEmbeddedObjectStore } from '../embedded/embedded-object-store.adapter.ts';
import { NodeSha256 } from '../node-sha256.ts';
import { FIXTURE_S3, startEmbeddedS3Endpoint, type EmbeddedS3Endpoint } from '../testing/s3-endpoint.fixture.ts';

const MIN_PART = 8;
const MAX_PART = 1024;
const xml = new XMLParser({ parseTagValue: false, isArray: (name) => name === 'Part' });
const md5Etag = (b: Buffer | string) => `"${createHash('md5').update(b).digest('hex')}"`;
const bytes = (s: string | Buffer) => new Uint8Array(Buffer.from(s));
const timeout = () => AbortSignal.timeout(10_000);

async function s3Error(res: Response): Promise<{ status: number; code: string | undefined }> {
  const body = xml.parse(await res.text()) as { Error?: { Code?: string } };
  return { status: res.status, code: body.Error?.Code };
}

/** Sends a request signed with the Authorization header (as the SDK does), body hash included. */
async function signedFetch(
  baseUrl: string,
  method: string,
  path: string,
  query: Record<string, string> = {},
  body?: string,
  opts: { secret?: string; payloadHash?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const url = new URL(baseUrl);
  const signer = new SignatureV4({
    service: 's3',
    region: FIXTURE_S3.region,
    credentials: { accessKeyId: FIXTURE_S3.accessKeyId, secretAccessKey: opts.secret ?? FIXTURE_S3.secretAccessKey },
    sha256: NodeSha256,
    uriEscapePath: false,
  });
  const payloadHash = opts.payloadHash ?? createHash('sha256').update(body ?? '').digest('hex');
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query,
    headers: { host: url.host, 'x-amz-content-sha256': payloadHash, ...opts.headers },
    body,
  });
  const qs = new URLSearchParams(query).toString();
  const headers = { ...signed.headers } as Record<string, string>;
  delete headers.host;
  return fetch(`${baseUrl}${path}${qs ? `?${qs}` : ''}`, { method, headers, body: body === undefined ? undefined : bytes(body), signal: timeout() });
}

function completeXml(parts: { partNumber: number; etag: string }[]): string {
  return `<CompleteMultipartUpload>${parts
    .map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${p.etag.replace(/"/g, '&quot;')}</ETag></Part>`)
    .join('')}</CompleteMultipartUpload>`;
}

describe('S3 endpoint', () => {
  let ep: EmbeddedS3Endpoint;
  const objectPath = (key: string) => `/s3/${FIXTURE_S3.bucket}/${key}`;

  before(async () => {
    ep = await startEmbeddedS3Endpoint({ minPartSizeBytes: MIN_PART, maxPartSizeBytes: MAX_PART });
  });
  after(async () => {
    await ep?.close();
  });

  test('resume over HTTP: create, parts 1 and 3, ListParts XML, part 2, complete XML, GET/HEAD/Range', async () => {
    const key = 'uploads/http/source';
    const created = await signedFetch(ep.baseUrl, 'POST', objectPath(key), { uploads: '' }, undefined, { headers: { 'content-type': 'video/mp4' } });
    assert.equal(created.status, 200);
    const uploadId = (xml.parse(await created.text()) as { InitiateMultipartUploadResult: { UploadId: string } }).InitiateMultipartUploadResult.UploadId;
    assert.ok(uploadId);

    const bodies: Record<number, string> = { 1: 'AAAAAAAAAA', 2: 'BBBBBBBBBB', 3: 'CCC' };
    for (const n of [1, 3]) {
      const res = await fetch(await ep.store.presignUploadPart(key, uploadId, n, 60), { method: 'PUT', body: bytes(bodies[n]), signal: timeout() });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('etag'), md5Etag(bodies[n]));
    }
    const listed = await signedFetch(ep.baseUrl, 'GET', objectPath(key), { uploadId });
    assert.equal(listed.status, 200);
    const parts = (xml.parse(await listed.text()) as { ListPartsResult: { Part: { PartNumber: string; ETag: string; Size: string }[] } })
      .ListPartsResult.Part;
    assert.deepEqual(
      parts.map((p) => [Number(p.PartNumber), p.ETag, Number(p.Size)]),
      [
        [1, md5Etag(bodies[1]), 10],
        [3, md5Etag(bodies[3]), 3],
      ],
    );
    // ListParts paging (max-parts / part-number-marker), as the SDK follows it.
    const page = await signedFetch(ep.baseUrl, 'GET', objectPath(key), { uploadId, 'max-parts': '1', 'part-number-marker': '1' });
    const pageDoc = xml.parse(await page.text()) as { ListPartsResult: { Part: { PartNumber: string }[]; IsTruncated: string } };
    assert.deepEqual(pageDoc.ListPartsResult.Part.map((p) => p.PartNumber), ['3']);
    assert.equal(pageDoc.ListPartsResult.IsTruncated, 'false');

    const res2 = await fetch(await ep.store.presignUploadPart(key, uploadId, 2, 60), { method: 'PUT', body: bytes(bodies[2]), signal: timeout() });
    assert.equal(res2.status, 200);

    const all = [1, 2, 3].map((n) => ({ partNumber: n, etag: md5Etag(bodies[n]) }));
    const done = await signedFetch(ep.baseUrl, 'POST', objectPath(key), { uploadId }, completeXml(all));
    assert.equal(done.status, 200);
    const result = (xml.parse(await done.text()) as { CompleteMultipartUploadResult: { Key: string; ETag: string } }).CompleteMultipartUploadResult;
    assert.equal(result.Key, key);
    assert.match(result.ETag, /^"[0-9a-f]{32}-3"$/);

    const whole = bodies[1] + bodies[2] + bodies[3];
    const got = await signedFetch(ep.baseUrl, 'GET', objectPath(key));
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'video/mp4');
    assert.equal(await got.text(), whole);
    const head = await signedFetch(ep.baseUrl, 'HEAD', objectPath(key));
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(whole.length));
    const ranged = await signedFetch(ep.baseUrl, 'GET', objectPath(key), {}, undefined, { headers: { range: 'bytes=8-11' } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get('content-range'), `bytes 8-11/${whole.length}`);
    assert.equal(await ranged.text(), whole.slice(8, 12));
  });

  test('a tampered signature → 403 SignatureDoesNotMatch', async () => {
    const key = 'uploads/sig/source';
    const uploadId = await ep.store.createMultipartUpload(key, 'video/mp4');
    const url = new URL(await ep.store.presignUploadPart(key, uploadId, 1, 60));
    const sig = url.searchParams.get('X-Amz-Signature')!;
    url.searchParams.set('X-Amz-Signature', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    assert.deepEqual(await s3Error(await fetch(url, { method: 'PUT', body: bytes('x'), signal: timeout() })), {
      status: 403,
      code: 'SignatureDoesNotMatch',
    });
    assert.deepEqual(await ep.store.listParts(key, uploadId), []);
  });

  test('a URL reused for another part number or another host → 403', async () => {
    const key = 'uploads/sig2/source';
    const uploadId = await ep.store.createMultipartUpload(key, 'video/mp4');
    const url = new URL(await ep.store.presignUploadPart(key, uploadId, 1, 60));
    url.searchParams.set('partNumber', '2');
    assert.equal((await s3Error(await fetch(url, { method: 'PUT', body: bytes('x'), signal: timeout() }))).code, 'SignatureDoesNotMatch');

    // Signed for a different host than the one the request reaches.
    const elsewhere = createEmbeddedObjectStore({ dir: ep.dir, publicBaseUrl: 'http://cdn.invalid:9', s3: FIXTURE_S3 });
    const foreign = new URL(await elsewhere.presignUploadPart(key, uploadId, 1, 60));
    const local = new URL(`${ep.baseUrl}${foreign.pathname}${foreign.search}`);
    assert.equal((await s3Error(await fetch(local, { method: 'PUT', body: bytes('x'), signal: timeout() }))).code, 'SignatureDoesNotMatch');
  });

  test('header auth with the wrong secret → 403; unsigned → 403 AccessDenied', async () => {
    const res = await signedFetch(ep.baseUrl, 'GET', objectPath('videos/nothing'), {}, undefined, { secret: 'wrong' });
    assert.deepEqual(await s3Error(res), { status: 403, code: 'SignatureDoesNotMatch' });
    const anon = await fetch(`${ep.baseUrl}${objectPath('videos/nothing')}`, { signal: timeout() });
    assert.deepEqual(await s3Error(anon), { status: 403, code: 'AccessDenied' });
  });

  test('a part over maxPartSizeBytes → 400 EntityTooLarge, with or without Content-Length', async () => {
    const key = 'uploads/big/source';
    const uploadId = await ep.store.createMultipartUpload(key, 'video/mp4');
    const tooBig = Buffer.alloc(MAX_PART + 1, 7);
    const declared = await fetch(await ep.store.presignUploadPart(key, uploadId, 1, 60), { method: 'PUT', body: new Uint8Array(tooBig), signal: timeout() });
    assert.deepEqual(await s3Error(declared), { status: 400, code: 'EntityTooLarge' });

    // Chunked transfer: the limit is enforced while streaming.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(tooBig.subarray(0, 600)));
        controller.enqueue(new Uint8Array(tooBig.subarray(600)));
        controller.close();
      },
    });
    const chunked = await fetch(await ep.store.presignUploadPart(key, uploadId, 2, 60), {
      method: 'PUT',
      body: stream,
      duplex: 'half',
      signal: timeout(),
    } as RequestInit);
    assert.deepEqual(await s3Error(chunked), { status: 400, code: 'EntityTooLarge' });
    assert.deepEqual(await ep.store.listParts(key, uploadId), []);

    // A part exactly at the limit is fine.
    const atLimit = await fetch(await ep.store.presignUploadPart(key, uploadId, 1, 60), {
      method: 'PUT',
      body: new Uint8Array(Buffer.alloc(MAX_PART, 1)),
      signal: timeout(),
    });
    assert.equal(atLimit.status, 200);
  });

  test('CompleteMultipartUpload with a wrong ETag → 400 InvalidPart; out of order → InvalidPartOrder', async () => {
    const key = 'uploads/etag/source';
    const uploadId = await ep.store.createMultipartUpload(key, 'video/mp4');
    for (const n of [1, 2]) {
      await fetch(await ep.store.presignUploadPart(key, uploadId, n, 60), { method: 'PUT', body: bytes(`part-${n}-xxxxx`), signal: timeout() });
    }
    const wrong = await signedFetch(ep.baseUrl, 'POST', objectPath(key), { uploadId }, completeXml([{ partNumber: 1, etag: md5Etag('nope') }]));
    assert.deepEqual(await s3Error(wrong), { status: 400, code: 'InvalidPart' });
    const reversed = await signedFetch(
      ep.baseUrl,
      'POST',
      objectPath(key),
      { uploadId },
      completeXml([
        { partNumber: 2, etag: md5Etag('part-2-xxxxx') },
        { partNumber: 1, etag: md5Etag('part-1-xxxxx') },
      ]),
    );
    assert.deepEqual(await s3Error(reversed), { status: 400, code: 'InvalidPartOrder' });
    const malformed = await signedFetch(ep.baseUrl, 'POST', objectPath(key), { uploadId }, '<CompleteMultipartUpload><Part>');
    assert.deepEqual(await s3Error(malformed), { status: 400, code: 'MalformedXML' });
  });

  test('unknown upload, key and bucket → 404 NoSuchUpload / NoSuchKey / NoSuchBucket', async () => {
    const list = await signedFetch(ep.baseUrl, 'GET', objectPath('uploads/x/source'), { uploadId: 'doesnotexistdoesnotexist' });
    assert.deepEqual(await s3Error(list), { status: 404, code: 'NoSuchUpload' });
    assert.deepEqual(await s3Error(await signedFetch(ep.baseUrl, 'GET', objectPath('videos/missing.m3u8'))), { status: 404, code: 'NoSuchKey' });
    assert.deepEqual(await s3Error(await signedFetch(ep.baseUrl, 'GET', '/s3/other-bucket/k')), { status: 404, code: 'NoSuchBucket' });
    const abort = await signedFetch(ep.baseUrl, 'DELETE', objectPath('uploads/x/source'), { uploadId: 'doesnotexistdoesnotexist' });
    assert.deepEqual(await s3Error(abort), { status: 404, code: 'NoSuchUpload' });
  });

  test('PutObject verifies a signed body hash', async () => {
    const lying = await signedFetch(ep.baseUrl, 'PUT', objectPath('videos/h/a.jpg'), {}, 'real body', {
      payloadHash: createHash('sha256').update('other body').digest('hex'),
    });
    assert.deepEqual(await s3Error(lying), { status: 400, code: 'XAmzContentSHA256Mismatch' });
    assert.equal(await ep.store.exists('videos/h/a.jpg'), false);
    const honest = await signedFetch(ep.baseUrl, 'PUT', objectPath('videos/h/a.jpg'), {}, 'real body', { headers: { 'content-type': 'image/jpeg' } });
    assert.equal(honest.status, 200);
    assert.equal(honest.headers.get('etag'), md5Etag('real body'));
    assert.equal((await ep.store.headObject('videos/h/a.jpg'))?.contentType, 'image/jpeg');
  });

  test('bad input is a 4xx, never a 500: malformed Content-Type, over-long key segment, DELETE of a "folder"', async () => {
    // Fastify refuses a Content-Type that is not type/subtype before the route runs.
    const badType = await signedFetch(ep.baseUrl, 'PUT', objectPath('videos/ct/a.bin'), {}, 'x', { headers: { 'content-type': 'not-a-media-type' } });
    assert.equal((await s3Error(badType)).status, 415);
    // S3 takes 1024-byte keys; a file system does not take a 300-byte path segment.
    const longKey = `videos/${'x'.repeat(300)}`;
    const put = await s3Error(await signedFetch(ep.baseUrl, 'PUT', objectPath(longKey), {}, 'x'));
    assert.deepEqual(put, { status: 400, code: 'KeyTooLongError' });
    assert.deepEqual(await s3Error(await signedFetch(ep.baseUrl, 'GET', objectPath(longKey))), { status: 404, code: 'NoSuchKey' });
    const created = await signedFetch(ep.baseUrl, 'POST', objectPath(longKey), { uploads: '' });
    assert.deepEqual(await s3Error(created), { status: 400, code: 'KeyTooLongError' });
    // DeleteObject of a key that holds no object is a 204 in S3, also when it names a "folder".
    assert.equal((await signedFetch(ep.baseUrl, 'PUT', objectPath('videos/dir/file'), {}, 'x')).status, 200);
    assert.equal((await signedFetch(ep.baseUrl, 'DELETE', objectPath('videos/dir'))).status, 204);
    assert.equal((await signedFetch(ep.baseUrl, 'DELETE', objectPath('videos/dir/file/below'))).status, 204);
    assert.equal((await signedFetch(ep.baseUrl, 'DELETE', objectPath(longKey))).status, 204);
    assert.equal(await ep.store.exists('videos/dir/file'), true);
  });

  test('CORS: preflight answered without auth; ETag exposed to browsers', async () => {
    const pre = await fetch(`${ep.baseUrl}${objectPath('uploads/c/source')}?partNumber=1&uploadId=x`, {
      method: 'OPTIONS',
      headers: { origin: 'http://app.test', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' },
      signal: timeout(),
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), '*');
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /PUT/);
    const anon = await fetch(`${ep.baseUrl}${objectPath('videos/nothing')}`, { signal: timeout() });
    await anon.arrayBuffer();
    assert.match(anon.headers.get('access-control-expose-headers') ?? '', /ETag/);
  });
});

describe('S3 endpoint clock', () => {
  let ep: EmbeddedS3Endpoint;
  before(async () => {
    // The endpoint's clock runs one hour ahead of the signer's.
    ep = await startEmbeddedS3Endpoint({ now: () => Date.now() + 3_600_000 });
  });
  after(async () => {
    await ep?.close();
  });

  test('an expired presigned URL → 403 AccessDenied', async () => {
    const key = 'uploads/exp/source';
    const uploadId = await ep.store.createMultipartUpload(key, 'video/mp4');
    const res = await fetch(await ep.store.presignUploadPart(key, uploadId, 1, 600), { method: 'PUT', body: bytes('x'), signal: timeout() });
    assert.deepEqual(await s3Error(res), { status: 403, code: 'AccessDenied' });
    // A URL still within its validity at the endpoint's time works.
    const ok = await fetch(await ep.store.presignUploadPart(key, uploadId, 1, 7200), { method: 'PUT', body: bytes('x'), signal: timeout() });
    assert.equal(ok.status, 200);
  });

  test('header auth an hour off → 403 RequestTimeTooSkewed', async () => {
    const res = await signedFetch(ep.baseUrl, 'GET', `/s3/${FIXTURE_S3.bucket}/videos/any`);
    assert.deepEqual(await s3Error(res), { status: 403, code: 'RequestTimeTooSkewed' });
  });
});
