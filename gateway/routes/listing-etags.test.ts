/**
 * ETag / If-None-Match on the listings (issue 14, "push instead of polling": "ETag / If-None-Match
 * → 304 on video detail, status and listings"): given a listing read once, when it is read again
 * with its ETag, then 304 without a body; when something it lists changed, then 200 with a new tag.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestGateway, type TestGateway } from '../testing/test-gateway.ts';

describe('listing ETags', () => {
  let t: TestGateway;
  let alice: { id: string; token: string };
  let bob: { id: string; token: string };
  let video = '';
  let thread = '';
  before(async () => {
    t = await createTestGateway();
    alice = await t.signUp('alice');
    bob = await t.signUp('bob');
    video = await t.uploadVideo(alice.token, { publish: true, title: 'Lighthouse at night', tags: ['sea'] });
    assert.equal((await t.inject({ method: 'PUT', url: `/api/v1/users/${alice.id}/subscription`, token: bob.token })).statusCode, 200);
    const posted = await t.inject({ method: 'POST', url: `/api/v1/videos/${video}/comments`, token: bob.token, payload: { body: 'Lovely' } });
    thread = posted.json().id;
    await t.world.settle();
  });
  after(() => t.close());

  const listings = () => [
    { url: `/api/v1/users/${alice.id}/videos` },
    { url: '/api/v1/users/me/videos', token: alice.token },
    { url: '/api/v1/users/me/feed', token: bob.token },
    { url: '/api/v1/search/videos?q=lighthouse' },
    { url: `/api/v1/videos/${video}/recommendations` },
    { url: `/api/v1/videos/${video}/comments/${thread}/replies` },
  ];

  test('given a listing\'s ETag, when it is sent back in If-None-Match, then 304 without a body', async () => {
    for (const { url, token } of listings()) {
      const first = await t.inject({ method: 'GET', url, ...(token && { token }) });
      assert.equal(first.statusCode, 200, `${url}: ${first.body}`);
      const etag = first.headers.etag as string;
      assert.match(etag, /^"[\w-]+"$/, url);
      if (token) assert.match(String(first.headers.vary), /Authorization/, `${url} depends on the caller`);
      const again = await t.inject({ method: 'GET', url, headers: { 'if-none-match': etag }, ...(token && { token }) });
      assert.equal(again.statusCode, 304, url);
      assert.equal(again.body, '', url);
      assert.equal(again.headers.etag, etag, `${url}: a 304 carries the tag`);
      const other = await t.inject({ method: 'GET', url, headers: { 'if-none-match': '"something-else"' }, ...(token && { token }) });
      assert.equal(other.statusCode, 200, `${url}: another tag gets the body`);
      const head = await t.inject({ method: 'HEAD', url, headers: { 'if-none-match': etag }, ...(token && { token }) });
      assert.equal(head.statusCode, 304, `${url}: HEAD too`);
      assert.equal(head.body, '');
      const plainHead = await t.inject({ method: 'HEAD', url, ...(token && { token }) });
      assert.deepEqual([plainHead.statusCode, plainHead.headers.etag], [200, etag], `${url}: HEAD carries the GET's tag`);
    }
  });

  test('when a listed video changes, then the old ETag gets 200 and the new body', async () => {
    const before = await Promise.all(listings().map(({ url, token }) => t.inject({ method: 'GET', url, ...(token && { token }) })));
    assert.equal((await t.inject({ method: 'PATCH', url: `/api/v1/videos/${video}`, token: alice.token, payload: { title: 'Lighthouse in a storm' } })).statusCode, 200);
    await t.inject({ method: 'POST', url: `/api/v1/videos/${video}/comments`, token: alice.token, payload: { body: 'Thanks!', parent_id: thread } });
    await t.world.settle();
    for (const [i, { url, token }] of listings().entries()) {
      if (url.includes('/recommendations')) continue; // lists other videos; the video itself is not in it
      const res = await t.inject({ method: 'GET', url, headers: { 'if-none-match': before[i]!.headers.etag as string }, ...(token && { token }) });
      assert.equal(res.statusCode, 200, `${url} changed`);
      assert.notEqual(res.headers.etag, before[i]!.headers.etag, url);
    }
  });
});
