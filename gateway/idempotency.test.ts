/**
 * `Idempotency-Key` over HTTP on the real wiring (gateway/idempotency.ts, commands/command-ids.ts):
 * a retried request with the same key gets the first answer and the command is decided once; a
 * request without the key, or with another key, is a new command; the key is scoped to the caller.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createTestGateway, type TestGateway } from './testing/test-gateway.ts';

const upload = { filename: 'a.mp4', size_bytes: 1000, content_type: 'video/mp4', title: 'Retry me' };

describe('Idempotency-Key', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  before(async () => {
    t = await createTestGateway({ uploadsPerHour: 100 });
    alice = await t.signUp('alice');
    bob = await t.signUp('bob');
  });
  after(() => t.close());

  const countOf = async (type: string, match: (data: Record<string, unknown>) => boolean = () => true) =>
    (await t.world.events()).filter(({ event }) => event.type === type && match(event.data as unknown as Record<string, unknown>)).length;

  test('POST /uploads twice with one key: the same video and upload, one UploadStarted, the retry\'s multipart upload aborted', async () => {
    const key = randomUUID();
    const send = () => t.inject({ method: 'POST', url: '/api/v1/uploads', token: alice.token, headers: { 'idempotency-key': key }, payload: upload });
    const first = await send();
    const aborted = t.world.multipart.aborted;
    const second = await send();
    assert.equal(first.statusCode, 201, first.body);
    assert.equal(second.statusCode, 201, second.body);
    assert.equal(second.json().video_id, first.json().video_id);
    assert.equal(second.json().upload_id, first.json().upload_id);
    assert.equal(await countOf('UploadStarted', (d) => d.videoId === first.json().video_id), 1);
    assert.equal(t.world.multipart.aborted, aborted + 1, 'the multipart upload opened for the retry is aborted');
    // Without the key (or with another one) the same body is a new upload.
    const other = await t.inject({ method: 'POST', url: '/api/v1/uploads', token: alice.token, headers: { 'idempotency-key': randomUUID() }, payload: upload });
    const none = await t.inject({ method: 'POST', url: '/api/v1/uploads', token: alice.token, payload: upload });
    assert.equal(new Set([first.json().video_id, other.json().video_id, none.json().video_id]).size, 3);
  });

  test('the key is scoped to the caller: bob\'s request with alice\'s key is his own new upload', async () => {
    const key = randomUUID();
    const a = await t.inject({ method: 'POST', url: '/api/v1/uploads', token: alice.token, headers: { 'idempotency-key': key }, payload: upload });
    const b = await t.inject({ method: 'POST', url: '/api/v1/uploads', token: bob.token, headers: { 'idempotency-key': key }, payload: upload });
    assert.equal(b.statusCode, 201);
    assert.notEqual(b.json().video_id, a.json().video_id);
    const detail = await t.inject({ method: 'GET', url: `/api/v1/videos/${b.json().video_id}`, token: bob.token });
    assert.equal(detail.json().owner_id, bob.id);
  });

  test('POST /users twice with one key: 201 with the same id both times (without a key the retry is 409 USERNAME_TAKEN)', async () => {
    const key = randomUUID();
    const payload = { username: 'carol', email: 'carol@example.com', password: 'correct horse battery' };
    const first = await t.inject({ method: 'POST', url: '/api/v1/users', headers: { 'idempotency-key': key }, payload });
    const second = await t.inject({ method: 'POST', url: '/api/v1/users', headers: { 'idempotency-key': key }, payload });
    assert.equal(first.statusCode, 201, first.body);
    assert.equal(second.statusCode, 201, second.body);
    assert.equal(second.json().id, first.json().id);
    assert.equal(await countOf('UserRegistered', (d) => d.username === 'carol'), 1);
    const unkeyed = await t.inject({ method: 'POST', url: '/api/v1/users', payload });
    assert.equal(unkeyed.statusCode, 409);
    assert.equal(unkeyed.json().code, 'USERNAME_TAKEN');
    // Anonymous callers are told apart by the name they ask for: the same key for another name is another account.
    const other = await t.inject({ method: 'POST', url: '/api/v1/users', headers: { 'idempotency-key': key }, payload: { ...payload, username: 'carol2', email: 'carol2@example.com' } });
    assert.equal(other.statusCode, 201, other.body);
    assert.notEqual(other.json().id, first.json().id);
  });

  test('concurrent retries of one comment: one CommentPosted, every answer names it', async () => {
    const videoId = await t.uploadVideo(alice.token, { publish: true });
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 5 }, () => t.inject({
      method: 'POST', url: `/api/v1/videos/${videoId}/comments`, token: bob.token, headers: { 'idempotency-key': key }, payload: { body: 'first!' },
    })));
    for (const a of answers) assert.equal(a.statusCode, 201, a.body);
    assert.equal(new Set(answers.map((a) => a.json().id)).size, 1);
    assert.equal(await countOf('CommentPosted', (d) => d.videoId === videoId), 1);
    const list = await t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}/comments` });
    assert.equal(list.json().comments.length, 1);
  });

  test('PATCH retried after a later edit does not undo it', async () => {
    const videoId = await t.uploadVideo(alice.token, { publish: true });
    const key = randomUUID();
    const patch = (title: string, k?: string) => t.inject({
      method: 'PATCH', url: `/api/v1/videos/${videoId}`, token: alice.token, ...(k && { headers: { 'idempotency-key': k } }), payload: { title },
    });
    assert.equal((await patch('one', key)).statusCode, 200);
    assert.equal((await patch('two')).json().title, 'two');
    const retry = await patch('one', key);
    assert.equal(retry.statusCode, 200);
    assert.equal(retry.json().title, 'two', 'the retry of the first edit is not applied again');
  });

  test('a malformed key is 400 VALIDATION_ERROR and nothing is decided', async () => {
    const sent = t.world.sent.length;
    for (const key of ['has space', 'x'.repeat(256), 'é']) {
      const res = await t.inject({ method: 'POST', url: '/api/v1/uploads', token: alice.token, headers: { 'idempotency-key': key }, payload: upload });
      assert.equal(res.statusCode, 400, key);
      assert.equal(res.json().code, 'VALIDATION_ERROR');
    }
    assert.equal(t.world.sent.length, sent);
  });
});
