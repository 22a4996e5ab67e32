import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainEvent } from '../../domain/events.ts';
import { InvalidCursorError } from '../read-model.port.ts';
import { driveReadModel } from '../testing/projection-test-kit.ts';

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const comment = (videoId: string, i: number, parentId: string | null = null): DomainEvent => ({
  type: 'CommentPosted', data: { commentId: `c${i}`, videoId, authorId: 'u1', parentId, body: `comment ${i}`, postedAt: T0 + 10 + i },
});

describe('comments projection', () => {
  test('newest first, paged with an opaque cursor bound to the video', async () => {
    const { apply, queries } = await driveReadModel('comments');
    await apply([...[0, 1, 2, 3].map((i) => comment('v1', i)), comment('v1', 4, 'c1'), comment('v2', 9)]);
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await queries.listComments('v1', 2, cursor);
      assert.ok(page.comments.length <= 2);
      seen.push(...page.comments.map((c) => c.commentId));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    assert.deepEqual(seen, ['c4', 'c3', 'c2', 'c1', 'c0']);
    const [reply] = (await queries.listComments('v1', 1)).comments;
    assert.deepEqual(reply, { commentId: 'c4', videoId: 'v1', authorId: 'u1', parentId: 'c1', body: 'comment 4', postedAt: T0 + 14 });
    assert.deepEqual((await queries.listComments('v2', 10)).comments.map((c) => c.commentId), ['c9']);
    assert.deepEqual(await queries.listComments('none', 10), { comments: [], nextCursor: null });
  });

  test('a cursor of another video, or not a cursor at all, is InvalidCursorError', async () => {
    const { apply, queries } = await driveReadModel('comments');
    await apply([0, 1, 2].map((i) => comment('v1', i)));
    const first = await queries.listComments('v1', 2);
    await assert.rejects(queries.listComments('v2', 2, first.nextCursor!), InvalidCursorError);
    await assert.rejects(queries.listComments('v1', 2, 'not!base64'), InvalidCursorError);
    await assert.rejects(queries.listComments('v1', 2, Buffer.from('[1]').toString('base64url')), InvalidCursorError);
  });

  test('a comment event on the log twice is listed once', async () => {
    const { apply, queries } = await driveReadModel('comments', { redeliver: true });
    await apply([comment('v1', 1), comment('v1', 1)]);
    assert.deepEqual((await queries.listComments('v1', 10)).comments.map((c) => c.commentId), ['c1']);
  });

  test('erasure (issue 13): the author\'s comments become placeholders in place, across index pages; later ones too; others untouched', async () => {
    const { apply, queries } = await driveReadModel('comments');
    const by = (authorId: string, videoId: string, i: number): DomainEvent => ({
      type: 'CommentPosted', data: { commentId: `${authorId}-${i}`, videoId, authorId, parentId: null, body: `${authorId} says ${i}`, postedAt: T0 + i },
    });
    // More than one page (10,000) of the author index, spread over videos; committed in two batches.
    const erin = Array.from({ length: 10_050 }, (_, i) => by('erin', `v${i % 7}`, i));
    await apply(erin.slice(0, 6000));
    await apply([...erin.slice(6000), by('frank', 'v1', 1)]);
    assert.equal((await queries.listCommentsByAuthor('erin')).length, 10_050);
    await apply([{ type: 'UserErased', data: { userId: 'erin', erasedAt: T0 + 99_999 } }, by('erin', 'v1', 20_000)]);
    assert.deepEqual(await queries.listCommentsByAuthor('erin'), []);
    const thread = [];
    for (let cursor: string | undefined, page; (page = await queries.listComments('v1', 1000, cursor)); cursor = page.nextCursor) {
      thread.push(...page.comments);
      if (!page.nextCursor) break;
    }
    const erins = thread.filter((c) => c.commentId.startsWith('erin-'));
    assert.equal(erins.length, 1 + Math.ceil((10_050 - 1) / 7), 'every one of them is still in the thread');
    assert.ok(erins.every((c) => c.body === '[deleted]' && c.authorId === null && c.deleted === true));
    assert.deepEqual(thread.filter((c) => c.authorId === 'frank').map((c) => c.body), ['frank says 1']);
    assert.deepEqual((await queries.listCommentsByAuthor('frank')).map((c) => c.commentId), ['frank-1']);
  });

  test('given a deleted comment (issue 14), it stays in its place as a placeholder and its replies stay; the author\'s export no longer lists it', async () => {
    const { apply, queries } = await driveReadModel('comments');
    const del = (commentId: string): DomainEvent => ({ type: 'CommentDeleted', data: { commentId, videoId: 'v1', deletedBy: 'u1', deletedAt: T0 + 99 } });
    await apply([comment('v1', 1), comment('v1', 2, 'c1'), comment('v1', 3), del('c1'), del('c1'), del('nope')]);
    const listed = (await queries.listComments('v1', 10)).comments;
    assert.deepEqual(listed.map((c) => [c.commentId, c.body, c.authorId, c.deleted ?? false]), [
      ['c3', 'comment 3', 'u1', false], ['c2', 'comment 2', 'u1', false], ['c1', '[deleted]', null, true],
    ]);
    assert.deepEqual((await queries.listCommentsByAuthor('u1')).map((c) => c.commentId).sort(), ['c2', 'c3']);
    assert.equal((await queries.getComment('v1', T0 + 11, 'c1'))?.deleted, true);
  });
});
