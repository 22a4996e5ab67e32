import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeciderSpecification } from '../shared/decider.spec.ts';
import { likeDecider } from './like.decider.ts';
import type { LikeCommand } from './like.commands.ts';
import type { LikeEvent } from './like.events.ts';
import type { VideoEvent } from '../video/video.events.ts';
import { historyUpTo, T0 } from '../video/video.fixtures.ts';

const V = 'vid-l';
const spec = DeciderSpecification.for(likeDecider);
const like = (userId: string, videoId = V): LikeCommand => ({ type: 'LikeVideo', data: { videoId, userId }, metadata: { now: T0 + 200, actorId: userId } });
const unlike = (userId: string, videoId = V): LikeCommand => ({ type: 'UnlikeVideo', data: { videoId, userId }, metadata: { now: T0 + 300, actorId: userId } });
const liked = (userId: string, videoId = V): LikeEvent => ({ type: 'VideoLiked', data: { videoId, userId, likedAt: T0 + 200 } });
const unliked = (userId: string, videoId = V): LikeEvent => ({ type: 'VideoUnliked', data: { videoId, userId, unlikedAt: T0 + 300 } });
const given = (status: Parameters<typeof historyUpTo>[1], ...more: (VideoEvent | LikeEvent)[]) => spec.given([...historyUpTo(V, status), ...more]);

describe('like decider', () => {
  describe('when the video does not exist or was deleted', () => {
    test('LikeVideo and UnlikeVideo are rejected as not found', () => {
      spec.given([]).when(like('u1')).thenThrows('VIDEO_NOT_FOUND', 'not_found');
      given('deleted').when(like('u1')).thenThrows('VIDEO_DELETED', 'not_found');
      given('deleted').when(unlike('u1')).thenThrows('VIDEO_DELETED', 'not_found');
    });
  });
  describe('when the video is not published', () => {
    test('a like is refused with VIDEO_NOT_PUBLISHED', () => {
      for (const s of ['pending_upload', 'uploaded', 'processing', 'failed'] as const) given(s).when(like('u1')).thenThrows('VIDEO_NOT_PUBLISHED', 'conflict');
    });
  });
  describe('when the video is ready', () => {
    test('a user likes it once: VideoLiked, then a repeated like decides nothing', () => {
      given('ready').when(like('u1')).then([liked('u1')]);
      given('ready', liked('u1')).when(like('u1')).then([]);
    });
    test('another user\'s like is their own', () => {
      given('ready', liked('u1')).when(like('u2')).then([liked('u2')]);
    });
    test('unliking takes the like back once; unliking without a like decides nothing', () => {
      given('ready', liked('u1')).when(unlike('u1')).then([unliked('u1')]);
      given('ready').when(unlike('u1')).then([]);
      given('ready', liked('u1'), unliked('u1')).when(unlike('u1')).then([]);
      given('ready', liked('u1'), unliked('u1')).when(like('u1')).then([liked('u1')]);
    });
    test('a like of another video does not count for this one', () => {
      given('ready', liked('u1', 'vid-other')).when(like('u1')).then([liked('u1')]);
    });
    test('a blank user id is refused', () => {
      given('ready').when(like(' ')).thenThrows('INVALID_LIKE', 'invalid');
    });
    test('the likers follow the events, and an older state is not changed by evolving it', () => {
      const base = given('ready', liked('u1'), liked('u2')).state;
      const after = likeDecider.evolve(base, unliked('u1'));
      assert.deepEqual([base.likers.has('u1'), base.likers.size, after.likers.has('u1'), after.likers.size], [true, 2, false, 1]);
    });
  });
});
