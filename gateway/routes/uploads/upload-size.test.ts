/**
 * Issue 8, finding 4: an upload cannot store more than it declared, and a user cannot declare more
 * than their storage quota. Attacks reproduced on the real wiring (gateway/testing/test-gateway.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

const MiB = 1024 * 1024;

describe('uploads cannot exceed their declared size', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  before(async () => {
    t = await createTestGateway({ maxUploadBytes: 100 * MiB });
    alice = await t.signUp('alice');
  });
  after(() => t.close());

  const complete = (uploadId: string, parts: { part_number: number; etag: string }[]) =>
    t.inject({ method: 'POST', url: `/api/v1/uploads/${uploadId}/complete`, token: alice.token, payload: { parts } });

  async function expectFailed(videoId: string, uploadId: string) {
    const failed = (await t.world.events()).filter((x) => x.event.type === 'VideoProcessingFailed' && x.event.data.videoId === videoId);
    assert.equal(failed.length, 1);
    assert.equal(failed[0]!.event.type === 'VideoProcessingFailed' && failed[0]!.event.data.code, 'UPLOAD_SIZE_MISMATCH');
    const detail = await t.world.readModels['video-detail'].getVideo(videoId);
    assert.equal(detail?.status, 'failed');
    // The multipart upload and its parts are gone, and no source object was assembled.
    await assert.rejects(t.world.objectStore.listParts(`uploads/${videoId}/source`, uploadId), { code: 'NoSuchUpload' });
    assert.equal(await t.world.objectStore.exists(`uploads/${videoId}/source`), false);
  }

  test('presigned part URLs sign the planned Content-Length of their part', async () => {
    const started = await t.startUpload(alice.token, 12 * MiB + 5);
    const lengths = started.parts.map((p) => new URL(p.url).searchParams.get('X-Amz-SignedHeaders'));
    assert.deepEqual(lengths, ['content-length;host', 'content-length;host', 'content-length;host']);
  });

  test('a 1-byte declaration with a 6 MiB part → 400 UPLOAD_SIZE_MISMATCH, the upload ends failed with the reason', async () => {
    const started = await t.startUpload(alice.token, 1);
    const etag = await t.world.uploadPart(started.upload_id, 1, Buffer.alloc(6 * MiB, 1));
    const res = await complete(started.upload_id, [{ part_number: 1, etag }]);
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'UPLOAD_SIZE_MISMATCH');
    assert.match(res.json().message, /part 1 is 6291456 bytes; the plan says 1 bytes/);
    await expectFailed(started.video_id, started.upload_id);
    // A retry of the completion does not resurrect it.
    const retry = await complete(started.upload_id, [{ part_number: 1, etag }]);
    assert.equal(retry.statusCode, 202);
    assert.equal(retry.json().status, 'failed');
  });

  test('parts bigger than planned → refused, even when they would add up to the declared size', async () => {
    // Plan: 5 MiB, 5 MiB, 2 MiB + 5. The client sends 6 MiB + 6 MiB + 5 bytes (same total).
    const started = await t.startUpload(alice.token, 12 * MiB + 5);
    const e1 = await t.world.uploadPart(started.upload_id, 1, Buffer.alloc(6 * MiB, 1));
    const e2 = await t.world.uploadPart(started.upload_id, 2, Buffer.alloc(6 * MiB, 2));
    const e3 = await t.world.uploadPart(started.upload_id, 3, Buffer.alloc(5, 3));
    const res = await complete(started.upload_id, [{ part_number: 1, etag: e1 }, { part_number: 2, etag: e2 }, { part_number: 3, etag: e3 }]);
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'UPLOAD_SIZE_MISMATCH');
    await expectFailed(started.video_id, started.upload_id);
  });

  test('parts outside the plan, or too few, are refused; the planned parts complete', async () => {
    const extra = await t.startUpload(alice.token, 100);
    const p1 = await t.world.uploadPart(extra.upload_id, 1, Buffer.alloc(100, 1));
    const p2 = await t.world.uploadPart(extra.upload_id, 2, Buffer.alloc(100, 2));
    const res = await complete(extra.upload_id, [{ part_number: 1, etag: p1 }, { part_number: 2, etag: p2 }]);
    assert.equal(res.json().code, 'UPLOAD_SIZE_MISMATCH');
    assert.match(res.json().message, /part 2 is outside the plan of 1 parts/);

    const short = await t.startUpload(alice.token, 6 * MiB);
    const s1 = await t.world.uploadPart(short.upload_id, 1, Buffer.alloc(5 * MiB, 1));
    const shortRes = await complete(short.upload_id, [{ part_number: 1, etag: s1 }]);
    assert.equal(shortRes.json().code, 'UPLOAD_SIZE_MISMATCH');
    assert.match(shortRes.json().message, /add up to 5242880 bytes; 6291456 bytes were declared/);

    const ok = await t.startUpload(alice.token, 6 * MiB);
    const o1 = await t.world.uploadPart(ok.upload_id, 1, Buffer.alloc(5 * MiB, 1));
    const o2 = await t.world.uploadPart(ok.upload_id, 2, Buffer.alloc(MiB, 2));
    const okRes = await complete(ok.upload_id, [{ part_number: 1, etag: o1 }, { part_number: 2, etag: o2 }]);
    assert.equal(okRes.statusCode, 202);
    assert.equal(okRes.json().status, 'uploaded');
  });
});

describe('per-user storage quota', () => {
  test('past STREAMWAVE_USER_STORAGE_QUOTA_BYTES → 403 STORAGE_QUOTA_EXCEEDED and no multipart upload left open; deleting frees it', async () => {
    const t = await createTestGateway({ maxUploadBytes: 100 * MiB }, {}, { userStorageQuotaBytes: 20 * MiB });
    try {
      const bob = await t.signUp('bob');
      const first = await t.startUpload(bob.token, 15 * MiB);
      const aborted = t.world.multipart.aborted;
      const res = await t.inject({
        method: 'POST', url: '/api/v1/uploads', token: bob.token,
        payload: { filename: 'b.mp4', size_bytes: 5 * MiB + 1, content_type: 'video/mp4', title: 'over' },
      });
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().code, 'STORAGE_QUOTA_EXCEEDED');
      assert.equal(t.world.multipart.aborted, aborted + 1);
      // Exactly up to the quota is allowed; another user is not affected.
      await t.startUpload(bob.token, 5 * MiB);
      const carol = await t.signUp('carol');
      await t.startUpload(carol.token, 20 * MiB);
      const del = await t.inject({ method: 'DELETE', url: `/api/v1/videos/${first.video_id}`, token: bob.token });
      assert.ok(del.statusCode < 300, `delete: ${del.statusCode} ${del.body}`);
      await t.startUpload(bob.token, 15 * MiB);
    } finally {
      await t.close();
    }
  });
});
