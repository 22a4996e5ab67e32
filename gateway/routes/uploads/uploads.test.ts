/** Upload flow on the real wiring (gateway/testing/test-gateway.ts): start (plan, presign, StartUpload), resume, complete, limits. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

const MiB = 1024 * 1024;

describe('POST /api/v1/uploads', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  before(async () => {
    t = await createTestGateway({ maxUploadBytes: 100 * MiB, uploadsPerHour: 100, uploadUrlTtlSeconds: 600 });
    alice = await t.signUp('alice');
  });
  after(() => t.close());

  test('201: one presigned URL per part, parts cover the declared size, StartUpload with the source key', async () => {
    const size = 12 * MiB + 5;
    const before = Date.now();
    const body = await t.startUpload(alice.token, size, { title: '  Trip ', tags: ['travel'], description: 'Alps' });
    assert.match(body.video_id, /^vid_/);
    assert.equal(body.part_size_bytes, 5 * MiB);
    assert.deepEqual(body.parts.map((p) => p.part_number), [1, 2, 3]);
    for (const p of body.parts) {
      const url = new URL(p.url);
      assert.equal(url.searchParams.get('uploadId'), body.upload_id);
      assert.equal(url.searchParams.get('partNumber'), String(p.part_number));
      assert.equal(url.pathname, `/s3/streamwave/uploads/${body.video_id}/source`);
    }
    const expires = Date.parse(body.expires_at);
    assert.ok(expires >= before + 600_000 && expires <= Date.now() + 600_000);
    const cmd = t.world.sent.find((c) => c.type === 'StartUpload' && c.data.videoId === body.video_id);
    assert.ok(cmd && cmd.type === 'StartUpload');
    assert.equal(cmd.data.ownerId, alice.id);
    assert.equal(cmd.data.objectKey, `uploads/${body.video_id}/source`);
    assert.equal(cmd.data.uploadId, body.upload_id);
    assert.equal(cmd.data.sizeBytes, size);
    assert.equal(cmd.data.partSizeBytes, 5 * MiB);
    // The read model sees the video at once (read-your-writes) with the decider's trimmed title.
    const status = await t.inject({ method: 'GET', url: `/api/v1/videos/${body.video_id}`, token: alice.token });
    assert.equal(status.json().status, 'pending_upload');
    assert.equal(status.json().visibility, 'public');
    assert.equal(status.json().title, 'Trip');
  });

  test('413 UPLOAD_TOO_LARGE above maxUploadBytes, and no multipart upload is opened', async () => {
    const open = t.world.multipart.created;
    const res = await t.inject({
      method: 'POST', url: '/api/v1/uploads', token: alice.token,
      payload: { filename: 'big.mp4', size_bytes: 100 * MiB + 1, content_type: 'video/mp4', title: 'Big' },
    });
    assert.equal(res.statusCode, 413);
    assert.equal(res.json().code, 'UPLOAD_TOO_LARGE');
    assert.equal(t.world.multipart.created, open);
  });

  test('415 UNSUPPORTED_MEDIA_TYPE for a non-media content type', async () => {
    const res = await t.inject({
      method: 'POST', url: '/api/v1/uploads', token: alice.token,
      payload: { filename: 'notes.txt', size_bytes: 10, content_type: 'text/plain', title: 'Notes' },
    });
    assert.equal(res.statusCode, 415);
    assert.equal(res.json().code, 'UNSUPPORTED_MEDIA_TYPE');
  });

  test('400 on a string where a number belongs (no coercion), on size 0, and without a title', async () => {
    for (const payload of [
      { filename: 'a.mp4', size_bytes: '1000', content_type: 'video/mp4', title: 'x' },
      { filename: 'a.mp4', size_bytes: 0, content_type: 'video/mp4', title: 'x' },
      { filename: 'a.mp4', size_bytes: 10, content_type: 'video/mp4' },
    ]) {
      const res = await t.inject({ method: 'POST', url: '/api/v1/uploads', token: alice.token, payload });
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(res.json().code, 'VALIDATION_ERROR');
    }
  });

  test('a DomainError from the decider surfaces with its code and the multipart upload is aborted', async () => {
    const res = await t.inject({
      method: 'POST', url: '/api/v1/uploads', token: alice.token,
      payload: { filename: 'a.mp4', size_bytes: 10, content_type: 'video/mp4', title: '   ' },
    });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'INVALID_METADATA');
    assert.equal(t.world.multipart.aborted, 1);
  });

  test('401 without a token', async () => {
    const res = await t.inject({ method: 'POST', url: '/api/v1/uploads', payload: { filename: 'a.mp4', size_bytes: 10, content_type: 'video/mp4', title: 'x' } });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'UNAUTHORIZED');
  });
});

describe('upload rate limit', () => {
  test('429 RATE_LIMITED with Retry-After after uploadsPerHour starts, per user', async () => {
    const t = await createTestGateway({ uploadsPerHour: 2 });
    try {
      const bob = await t.signUp('bob');
      const carol = await t.signUp('carol');
      await t.startUpload(bob.token);
      await t.startUpload(bob.token);
      const res = await t.inject({
        method: 'POST', url: '/api/v1/uploads', token: bob.token,
        payload: { filename: 'c.mp4', size_bytes: 10, content_type: 'video/mp4', title: 'third' },
      });
      assert.equal(res.statusCode, 429);
      assert.equal(res.json().code, 'RATE_LIMITED');
      const retryAfter = Number(res.headers['retry-after']);
      assert.ok(retryAfter > 0 && retryAfter <= 3600, `retry-after ${res.headers['retry-after']}`);
      assert.equal(t.world.sent.filter((c) => c.type === 'StartUpload').length, 2);
      // Keyed by user: another user still has a full quota.
      await t.startUpload(carol.token);
    } finally {
      await t.close();
    }
  });
});

describe('resume and complete', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  let mallory: { id: string; token: string };
  before(async () => {
    t = await createTestGateway();
    alice = await t.signUp('alice');
    mallory = await t.signUp('mallory');
  });
  after(() => t.close());

  test('GET /uploads/{id} lists received parts and fresh URLs for the missing ones', async () => {
    const started = await t.startUpload(alice.token, 6 * MiB);
    const etag = await t.world.uploadPart(started.upload_id, 1, Buffer.alloc(5 * MiB, 1));
    const res = await t.inject({ method: 'GET', url: `/api/v1/uploads/${started.upload_id}`, token: alice.token });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.video_id, started.video_id);
    assert.equal(body.size_bytes, 6 * MiB);
    assert.equal(body.part_size_bytes, started.part_size_bytes);
    assert.deepEqual(body.parts, [{ part_number: 1, etag, size_bytes: 5 * MiB }]);
    assert.deepEqual(body.missing_parts.map((p: { part_number: number }) => p.part_number), [2]);
    assert.equal(new URL(body.missing_parts[0].url).searchParams.get('partNumber'), '2');

    const other = await t.inject({ method: 'GET', url: `/api/v1/uploads/${started.upload_id}`, token: mallory.token });
    assert.equal(other.statusCode, 403);
    assert.equal(other.json().code, 'NOT_OWNER');
    const unknown = await t.inject({ method: 'GET', url: '/api/v1/uploads/nope', token: alice.token });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().code, 'UPLOAD_NOT_FOUND');
  });

  test('complete: wrong ETag → 400 INVALID_PART; right ETag → 202 uploaded; a retry is idempotent', async () => {
    const started = await t.startUpload(alice.token, 2000);
    const etag = await t.world.uploadPart(started.upload_id, 1, Buffer.alloc(2000, 9));
    const url = `/api/v1/uploads/${started.upload_id}/complete`;

    const wrong = await t.inject({ method: 'POST', url, token: alice.token, payload: { parts: [{ part_number: 1, etag: '"00000000000000000000000000000000"' }] } });
    assert.equal(wrong.statusCode, 400);
    assert.equal(wrong.json().code, 'INVALID_PART');

    const notMine = await t.inject({ method: 'POST', url, token: mallory.token, payload: { parts: [{ part_number: 1, etag }] } });
    assert.equal(notMine.statusCode, 403);

    // ETag accepted without its quotes too.
    const ok = await t.inject({ method: 'POST', url, token: alice.token, payload: { parts: [{ part_number: 1, etag: etag.replaceAll('"', '') }] } });
    assert.equal(ok.statusCode, 202);
    assert.deepEqual(ok.json(), { video_id: started.video_id, status: 'uploaded' });
    assert.equal((await t.world.objectStore.headObject(`uploads/${started.video_id}/source`))?.size, 2000);

    const retry = await t.inject({ method: 'POST', url, token: alice.token, payload: { parts: [{ part_number: 1, etag }] } });
    assert.equal(retry.statusCode, 202);
    assert.equal(retry.json().video_id, started.video_id);
    const completed = (await t.world.events()).filter((x) => x.event.type === 'UploadCompleted' && x.event.data.videoId === started.video_id);
    assert.equal(completed.length, 1);
    assert.equal(completed[0]!.event.type === 'UploadCompleted' && completed[0]!.event.data.sizeBytes, 2000);
    const resume = await t.inject({ method: 'GET', url: `/api/v1/uploads/${started.upload_id}`, token: alice.token });
    assert.equal(resume.statusCode, 409);
    assert.equal(resume.json().code, 'UPLOAD_ALREADY_COMPLETED');
  });

  test('complete recovers when the store assembled the object but CompleteUpload never landed', async () => {
    const started = await t.startUpload(alice.token, 100);
    const etag = await t.world.uploadPart(started.upload_id, 1, Buffer.alloc(100, 3));
    // The store side of an earlier attempt went through...
    await t.world.objectStore.completeMultipartUpload(`uploads/${started.video_id}/source`, started.upload_id, [{ partNumber: 1, etag }]);
    // ...the client retries:
    const res = await t.inject({ method: 'POST', url: `/api/v1/uploads/${started.upload_id}/complete`, token: alice.token, payload: { parts: [{ part_number: 1, etag }] } });
    assert.equal(res.statusCode, 202);
    assert.equal(res.json().status, 'uploaded');
  });

  test('complete with an empty part list or part number 0 → 400', async () => {
    const started = await t.startUpload(alice.token, 100);
    for (const parts of [[], [{ part_number: 0, etag: '"x"' }]]) {
      const res = await t.inject({ method: 'POST', url: `/api/v1/uploads/${started.upload_id}/complete`, token: alice.token, payload: { parts } });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 'VALIDATION_ERROR');
    }
  });
});
