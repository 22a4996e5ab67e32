/** Comments: auth, posting through the real comment decider, cursor pagination. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../../testing/test-gateway.ts';

describe('comments', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  let videoId: string;
  before(async () => {
    t = await createTestGateway();
    alice = await t.signUp('alice');
    videoId = await t.uploadVideo(alice.token, { publish: true });
  });
  after(() => t.close());

  const post = (payload: unknown, token?: string, id = videoId) =>
    t.inject({ method: 'POST', url: `/api/v1/videos/${id}/comments`, payload: payload as object, ...(token && { token }) });

  test('401 UNAUTHORIZED without a token, and nothing is sent', async () => {
    const before = t.world.sent.length;
    const res = await post({ body: 'hello' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'UNAUTHORIZED');
    assert.equal(t.world.sent.length, before);
  });

  test('201 with the comment id; replies carry parent_id; listed newest first', async () => {
    const first = await post({ body: 'first!' }, alice.token);
    assert.equal(first.statusCode, 201);
    const firstId = first.json().id;
    assert.match(firstId, /^cmt_/);
    const reply = await post({ body: 'a reply', parent_id: firstId }, alice.token);
    assert.equal(reply.statusCode, 201);

    const list = await t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}/comments` });
    assert.equal(list.statusCode, 200);
    const { comments, next_cursor } = list.json();
    assert.deepEqual(comments.map((c: { body: string }) => c.body), ['a reply', 'first!']);
    assert.equal(comments[0].parent_id, firstId);
    assert.equal(comments[1].parent_id, null);
    assert.equal(comments[0].author_id, alice.id);
    assert.equal(new Date(comments[0].posted_at).toISOString(), comments[0].posted_at);
    assert.equal(next_cursor, null);
  });

  test('a reply to an unknown comment → 400 PARENT_COMMENT_NOT_FOUND; on a video not yet published → 409', async () => {
    const orphan = await post({ body: 'reply', parent_id: 'cmt_missing' }, alice.token);
    assert.equal(orphan.statusCode, 400);
    assert.equal(orphan.json().code, 'PARENT_COMMENT_NOT_FOUND');
    const pending = await t.uploadVideo(alice.token);
    const early = await post({ body: 'too soon' }, alice.token, pending);
    assert.equal(early.statusCode, 409);
    assert.equal(early.json().code, 'VIDEO_NOT_PUBLISHED');
    const missing = await post({ body: 'nobody home' }, alice.token, 'vid_missing');
    assert.equal(missing.statusCode, 404);
  });

  test('empty or oversized body → 400', async () => {
    for (const payload of [{ body: '' }, { body: 'x'.repeat(5001) }, { text: 'wrong field' }]) {
      const res = await post(payload, alice.token);
      assert.equal(res.statusCode, 400);
    }
  });

  test('pagination: limit and next_cursor walk every comment once; a bad cursor → 400 INVALID_CURSOR', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true });
    for (const body of ['one', 'two', 'three']) assert.equal((await post({ body }, alice.token, id)).statusCode, 201);
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 5; page++) {
      const qs: string = `limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res = await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/comments?${qs}` });
      assert.equal(res.statusCode, 200);
      const body: { comments: { body: string }[]; next_cursor: string | null } = res.json();
      assert.ok(body.comments.length <= 2);
      seen.push(...body.comments.map((c) => c.body));
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual(seen, ['three', 'two', 'one']);

    const bad = await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/comments?cursor=%25%25garbage` });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().code, 'INVALID_CURSOR');
    const limit0 = await t.inject({ method: 'GET', url: `/api/v1/videos/${id}/comments?limit=0` });
    assert.equal(limit0.statusCode, 400);
  });

  test('issue 14: a page has an ETag → 304 on If-None-Match until a comment is posted; pages differ; * → 304; none on a 404', async () => {
    const id = await t.uploadVideo(alice.token, { publish: true });
    for (const body of ['one', 'two', 'three']) assert.equal((await post({ body }, alice.token, id)).statusCode, 201);
    const url = `/api/v1/videos/${id}/comments`;
    const list = (inm?: string, query = '') => t.inject({ method: 'GET', url: `${url}${query}`, ...(inm && { headers: { 'if-none-match': inm } }) });
    const first = await list();
    assert.equal(first.statusCode, 200);
    const tag = first.headers.etag as string;
    assert.match(tag, /^"[A-Za-z0-9_-]+"$/);
    assert.equal(first.headers.vary, 'Authorization');
    for (const inm of [tag, `W/${tag}`, `"old", ${tag}`, '*']) {
      const res = await list(inm);
      assert.equal(res.statusCode, 304, inm);
      assert.equal(res.body, '', inm);
      assert.equal(res.headers.etag, tag, inm);
    }
    assert.equal((await list('"nope"')).statusCode, 200);

    // Two cursor pages: two bodies, two tags.
    const page1 = await list(undefined, '?limit=2');
    const page2 = await list(undefined, `?limit=2&cursor=${encodeURIComponent(page1.json().next_cursor)}`);
    assert.equal(page2.statusCode, 200);
    assert.ok(page1.headers.etag && page2.headers.etag && page1.headers.etag !== page2.headers.etag && page1.headers.etag !== tag);

    // POST waits for the comments read model (read-your-writes): the next list shows the comment.
    assert.equal((await post({ body: 'four' }, alice.token, id)).statusCode, 201);
    const changed = await list(tag);
    assert.equal(changed.statusCode, 200, 'the old tag no longer matches');
    assert.equal(changed.json().comments[0].body, 'four');
    assert.ok(changed.headers.etag && changed.headers.etag !== tag, 'a new tag');

    // A video the caller may not see: 404 without a tag, even with * or the owner's tag.
    const pending = await t.uploadVideo(alice.token);
    const own = await t.inject({ method: 'GET', url: `/api/v1/videos/${pending}/comments`, token: alice.token });
    assert.equal(own.statusCode, 200);
    for (const inm of ['*', own.headers.etag as string]) {
      const res = await t.inject({ method: 'GET', url: `/api/v1/videos/${pending}/comments`, headers: { 'if-none-match': inm } });
      assert.equal(res.statusCode, 404, inm);
      assert.equal(res.headers.etag, undefined, inm);
    }
    const bad = await list('*', '?cursor=%25%25garbage');
    assert.equal(bad.statusCode, 400, 'an error is never a 304');
    assert.equal(bad.headers.etag, undefined);
  });

  test('DELETE (issue 14): the author or the video\'s owner; anyone else 403 NOT_COMMENT_AUTHOR; the comment lists as a placeholder, replies stay', async () => {
    const bob = await t.signUp('bobdel');
    const carol = await t.signUp('caroldel');
    const top = (await post({ body: 'bob says hi' }, bob.token)).json().id as string;
    const reply = (await post({ body: 'carol answers', parent_id: top }, carol.token)).json().id as string;
    const del = (id: string, token?: string) => t.inject({ method: 'DELETE', url: `/api/v1/videos/${videoId}/comments/${id}`, ...(token && { token }) });
    assert.equal((await del(top)).statusCode, 401);
    const refused = await del(top, carol.token);
    assert.deepEqual([refused.statusCode, refused.json().code], [403, 'NOT_COMMENT_AUTHOR']);
    assert.equal((await del(top, bob.token)).statusCode, 204);
    assert.equal((await del(top, bob.token)).statusCode, 204, 'deleting again changes nothing');
    assert.equal((await del(reply, alice.token)).statusCode, 204, 'the owner of the video deletes any comment on it');
    const missing = await del('cmt_nope', bob.token);
    assert.deepEqual([missing.statusCode, missing.json().code], [404, 'COMMENT_NOT_FOUND']);
    const listed = (await t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}/comments?limit=100` })).json().comments as { id: string; body: string; deleted?: true; author_id: string | null; parent_id: string | null }[];
    const byId = new Map(listed.map((c) => [c.id, c]));
    assert.deepEqual(byId.get(top), { id: top, author_id: null, parent_id: null, body: '[deleted]', deleted: true, posted_at: (byId.get(top) as { posted_at?: string } | undefined)?.posted_at });
    assert.equal(byId.get(reply)?.parent_id, top, 'the reply keeps its parent');
    assert.ok(!listed.some((c) => c.body === 'bob says hi' || c.body === 'carol answers'), 'no deleted text is listed');
  });

  test('replies page per thread (issue 14): oldest first, with a cursor bound to the thread; a foreign cursor is 400 INVALID_CURSOR', async () => {
    const parent = (await post({ body: 'thread root' }, alice.token)).json().id as string;
    const other = (await post({ body: 'another root' }, alice.token)).json().id as string;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post({ body: `reply ${i}`, parent_id: parent }, alice.token)).json().id);
    await post({ body: 'elsewhere', parent_id: other }, alice.token);
    const replies = (query = '', id = parent) => t.inject({ method: 'GET', url: `/api/v1/videos/${videoId}/comments/${id}/replies${query}` });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await replies(`?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(res.statusCode, 200, res.body);
      seen.push(...res.json().comments.map((c: { id: string }) => c.id));
      cursor = res.json().next_cursor;
    } while (cursor);
    assert.deepEqual(seen, ids, 'every reply once, oldest first, none of the other thread');
    const first = (await replies('?limit=2')).json().next_cursor as string;
    const foreign = await replies(`?cursor=${encodeURIComponent(first)}`, other);
    assert.deepEqual([foreign.statusCode, foreign.json().code], [400, 'INVALID_CURSOR']);
    assert.deepEqual((await replies('', 'cmt_none')).json(), { comments: [], next_cursor: null });
  });
});
