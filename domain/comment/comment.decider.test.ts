import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeciderSpecification } from '../shared/decider.spec.ts';
import { commentDecider } from './comment.decider.ts';
import type { CommentCommand } from './comment.commands.ts';
import type { CommentEvent } from './comment.events.ts';
import type { VideoEvent } from '../video/video.events.ts';
import { historyUpTo, OWNER, T0 } from '../video/video.fixtures.ts';

const V = 'vid-c';
const spec = DeciderSpecification.for(commentDecider);
const post = (commentId: string, body: string, parentId?: string | null, videoId = V): CommentCommand => ({
  type: 'PostComment', data: { commentId, videoId, authorId: 'u-2', parentId, body }, metadata: { now: T0 + 100, actorId: 'u-2' },
});
const posted = (commentId: string, body: string, parentId: string | null = null, videoId = V): CommentEvent => ({
  type: 'CommentPosted', data: { commentId, videoId, authorId: 'u-2', parentId, body, postedAt: T0 + 100 },
});
const given = (status: Parameters<typeof historyUpTo>[1], ...more: (VideoEvent | CommentEvent)[]) =>
  spec.given([...historyUpTo(V, status), ...more]);

describe('comment decider', () => {
  describe('when the video does not exist', () => {
    test('PostComment is rejected with VIDEO_NOT_FOUND', () => {
      spec.given([]).when(post('c1', 'hi')).thenThrows('VIDEO_NOT_FOUND', 'not_found');
    });
  });
  describe('when the video is not published yet', () => {
    test('comments are rejected while pending, uploaded, processing or failed', () => {
      for (const s of ['pending_upload', 'uploaded', 'processing', 'failed'] as const) {
        given(s).when(post('c1', 'hi')).thenThrows('VIDEO_NOT_PUBLISHED', 'conflict');
      }
    });
  });
  describe('when the video is deleted', () => {
    test('comments are rejected with VIDEO_DELETED', () => {
      given('deleted').when(post('c1', 'hi')).thenThrows('VIDEO_DELETED', 'not_found');
    });
  });
  describe('when the video is ready', () => {
    test('a top-level comment is posted with its body trimmed', () => {
      given('ready').when(post('c1', '  nice video \n')).then([posted('c1', 'nice video')]);
    });
    test('the body must be 1..5000 characters after trimming', () => {
      given('ready').when(post('c1', '   \n\t ')).thenThrows('INVALID_COMMENT', 'invalid');
      given('ready').when(post('c1', 'x'.repeat(5001))).thenThrows('INVALID_COMMENT');
      given('ready').when(post('c1', ` ${'x'.repeat(5000)} `)).then([posted('c1', 'x'.repeat(5000))]);
    });
    test('a reply must point at an existing comment of the same video', () => {
      given('ready').when(post('c2', 'reply', 'nope')).thenThrows('PARENT_COMMENT_NOT_FOUND', 'invalid');
      given('ready', posted('c1', 'root')).when(post('c2', 'reply', 'c1')).then([posted('c2', 'reply', 'c1')]);
    });
    test('a comment of another video is not a valid parent', () => {
      given('ready', posted('c-other', 'elsewhere', null, 'vid-other')).when(post('c2', 'reply', 'c-other')).thenThrows('PARENT_COMMENT_NOT_FOUND');
    });
    test('a retried PostComment with the same commentId is idempotent', () => {
      given('ready', posted('c1', 'root')).when(post('c1', 'root')).then([]);
    });
    test('evolve does not let one branch see ids added on another', () => {
      const base = given('ready', posted('c1', 'root')).state;
      const a = commentDecider.evolve(base, posted('a', 'x'));
      const b = commentDecider.evolve(base, posted('b', 'y'));
      assert.ok(a.commentIds.has('a') && !a.commentIds.has('b'));
      assert.ok(b.commentIds.has('b') && !b.commentIds.has('a'));
      assert.ok(!base.commentIds.has('a') && !base.commentIds.has('b') && base.commentIds.has('c1'));
    });
  });

  describe('deleting a comment (issue 14)', () => {
    const del = (commentId: string, actorId: string): CommentCommand => ({ type: 'DeleteComment', data: { commentId, videoId: V }, metadata: { now: T0 + 200, actorId } });
    const deleted = (commentId: string, by: string): CommentEvent => ({ type: 'CommentDeleted', data: { commentId, videoId: V, deletedBy: by, deletedAt: T0 + 200 } });
    test('its author may delete it, and so may the owner of the video', () => {
      given('ready', posted('c1', 'hi')).when(del('c1', 'u-2')).then([deleted('c1', 'u-2')]);
      given('ready', posted('c1', 'hi')).when(del('c1', OWNER)).then([deleted('c1', OWNER)]);
    });
    test('anyone else is refused with NOT_COMMENT_AUTHOR, and so is a command without an actor', () => {
      given('ready', posted('c1', 'hi')).when(del('c1', 'u-3')).thenThrows('NOT_COMMENT_AUTHOR', 'forbidden');
      given('ready', posted('c1', 'hi')).when(del('c1', '')).thenThrows('NOT_COMMENT_AUTHOR', 'forbidden');
    });
    test('deleting it again decides nothing; a comment that is not on the video is COMMENT_NOT_FOUND', () => {
      given('ready', posted('c1', 'hi'), deleted('c1', 'u-2')).when(del('c1', 'u-2')).then([]);
      given('ready', posted('c1', 'hi')).when(del('c9', 'u-2')).thenThrows('COMMENT_NOT_FOUND', 'not_found');
      given('ready', posted('c1', 'hi', null, 'vid-other')).when(del('c1', 'u-2')).thenThrows('COMMENT_NOT_FOUND', 'not_found');
    });
    test('a reply to a deleted comment is still accepted (the thread keeps its shape)', () => {
      given('ready', posted('c1', 'hi'), deleted('c1', 'u-2')).when(post('c2', 'reply', 'c1')).then([posted('c2', 'reply', 'c1')]);
    });
  });
});
