/**
 * Issue 8: a presigned part URL signs the part's planned length (Content-Length in
 * X-Amz-SignedHeaders), so a PUT of any other length fails the signature with 403, as S3 does
 * with signed headers. The attack: a 1-byte declaration whose part URL is used for 6 MiB.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { XMLParser } from 'fast-xml-parser';
import { startEmbeddedS3Endpoint, type EmbeddedS3Endpoint } from '../testing/s3-endpoint.fixture.ts';

const MiB = 1024 * 1024;
const xml = new XMLParser({ parseTagValue: false });
const timeout = () => AbortSignal.timeout(30_000);

describe('presigned part URL with a signed Content-Length', () => {
  let ep: EmbeddedS3Endpoint;
  before(async () => { ep = await startEmbeddedS3Endpoint(); });
  after(() => ep.close());

  test('another length → 403 SignatureDoesNotMatch and nothing stored; the signed length → 200', async () => {
    const key = 'uploads/one-byte/source';
    const uploadId = await ep.store.createMultipartUpload(key, 'video/mp4');
    const url = await ep.store.presignUploadPart(key, uploadId, 1, 60, 1);
    assert.equal(new URL(url).searchParams.get('X-Amz-SignedHeaders'), 'content-length;host');
    for (const body of [Buffer.alloc(6 * MiB, 7), Buffer.alloc(2, 7)]) {
      const res = await fetch(url, { method: 'PUT', body: new Uint8Array(body), signal: timeout() });
      assert.equal(res.status, 403, `PUT of ${body.length} bytes`);
      assert.equal((xml.parse(await res.text()) as { Error: { Code: string } }).Error.Code, 'SignatureDoesNotMatch');
    }
    assert.deepEqual(await ep.store.listParts(key, uploadId), []);
    const ok = await fetch(url, { method: 'PUT', body: new Uint8Array([1]), signal: timeout() });
    assert.equal(ok.status, 200);
    assert.deepEqual((await ep.store.listParts(key, uploadId)).map((p) => p.size), [1]);
  });

  test('a negative or fractional length is refused when presigning', async () => {
    const key = 'uploads/bad-length/source';
    const uploadId = await ep.store.createMultipartUpload(key, 'video/mp4');
    await assert.rejects(ep.store.presignUploadPart(key, uploadId, 1, 60, -1), { code: 'InvalidArgument' });
    await assert.rejects(ep.store.presignUploadPart(key, uploadId, 1, 60, 1.5), { code: 'InvalidArgument' });
  });
});
