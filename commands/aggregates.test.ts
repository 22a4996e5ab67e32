import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AGGREGATE_KINDS, AGGREGATES, kindsEvolvedBy, lockOf, ownTopics, STATEFUL_KINDS, streamsRead, type AggregateKind,
} from './aggregates.ts';
import { TOPIC_OF, TOPICS } from '../schemas/topics.ts';
import type { DomainEventType } from '../domain/events.ts';
import { DomainError } from '../domain/shared/event.ts';
import { fold } from '../domain/shared/decider.ts';
import { historyUpTo, T0, videoCommands } from '../domain/video/video.fixtures.ts';
import type { VideoCommand } from '../domain/video/video.commands.ts';

describe('decider registry', () => {
  test('one entry per aggregate kind, each naming its own kind', () => {
    assert.deepEqual(AGGREGATE_KINDS, ['user', 'video', 'comment', 'view', 'like', 'subscription', 'playback']);
    for (const k of AGGREGATE_KINDS) assert.equal(AGGREGATES[k].kind, k);
  });

  test('every event type is decided by the kind whose topic it goes to', () => {
    // The event types each decider emits, by the topic TOPIC_OF gives them.
    const writers: Record<string, AggregateKind> = {};
    for (const k of AGGREGATE_KINDS) writers[AGGREGATES[k].topic] = k;
    assert.deepEqual(Object.keys(writers).sort(), Object.values(TOPICS).sort(), 'each event topic is written by exactly one kind');
    const decided: Record<AggregateKind, DomainEventType[]> = {
      user: ['UserRegistered'],
      video: ['UploadStarted', 'UploadCompleted', 'VideoProcessingStarted', 'VideoProcessingProgressed', 'RenditionEncoded', 'VideoPublished',
        'VideoProcessingFailed', 'VideoProcessingCompleted', 'VideoMetadataUpdated', 'VideoDeleted',
        'CaptionsPublished', 'CaptionsRemoved', 'CustomThumbnailSet'],
      comment: ['CommentPosted'],
      view: ['VideoViewed'],
      like: ['VideoLiked', 'VideoUnliked'],
      subscription: ['ChannelSubscribed', 'ChannelUnsubscribed'],
      playback: ['PlaybackStarted', 'RenditionSwitched', 'RebufferStarted', 'RebufferEnded', 'PlaybackFailed', 'PlaybackEnded'],
    };
    for (const k of AGGREGATE_KINDS) for (const t of decided[k]) assert.equal(TOPIC_OF[t], AGGREGATES[k].topic, t);
  });

  describe('state kept once per video', () => {
    test('only users, videos, comment threads, likes and subscriptions keep state, each from its own topic; views are never read', () => {
      assert.deepEqual(STATEFUL_KINDS, ['user', 'video', 'comment', 'like', 'subscription']);
      assert.deepEqual(ownTopics('subscription'), [TOPICS.subscriptions]);
      assert.deepEqual(ownTopics('like'), [TOPICS.likes]);
      assert.deepEqual(kindsEvolvedBy(TOPICS.likes), ['like']);
      assert.deepEqual(ownTopics('user'), [TOPICS.users]);
      assert.deepEqual(ownTopics('video'), [TOPICS.videos]);
      assert.deepEqual(ownTopics('comment'), [TOPICS.comments]);
      assert.deepEqual(ownTopics('view'), []);
      assert.deepEqual(kindsEvolvedBy(TOPICS.videos), ['video']);
      assert.deepEqual(kindsEvolvedBy(TOPICS.views), []);
    });
    test('a comment thread evolves from videos and comments, and decides against the video kind\'s state', () => {
      assert.deepEqual(AGGREGATES.comment.evolvesFrom, [TOPICS.videos, TOPICS.comments]);
      assert.equal(AGGREGATES.comment.borrows?.kind, 'video');
      assert.deepEqual(streamsRead('comment', 'v'), [{ kind: 'comment', id: 'v' }, { kind: 'video', id: 'v' }]);
      assert.deepEqual(streamsRead('view', 'v'), [{ kind: 'video', id: 'v' }]);
      assert.deepEqual(streamsRead('like', 'v'), [{ kind: 'like', id: 'v' }, { kind: 'video', id: 'v' }]);
    });
    test('given a video and its likes evolved apart, when composed, then they equal the likes folded over both topics', () => {
      const videoEvents = historyUpTo('v', 'ready');
      const likes = [
        { type: 'VideoLiked' as const, data: { videoId: 'v', userId: 'u1', likedAt: T0 } },
        { type: 'VideoLiked' as const, data: { videoId: 'v', userId: 'u2', likedAt: T0 } },
        { type: 'VideoUnliked' as const, data: { videoId: 'v', userId: 'u1', unlikedAt: T0 } },
      ];
      const expected = fold(AGGREGATES.like.decider, [...videoEvents, ...likes]);
      const composed = AGGREGATES.like.borrows!.into(fold(AGGREGATES.like.decider, likes) as never, fold(AGGREGATES.video.decider, videoEvents) as never);
      assert.deepEqual(composed.video, expected.video);
      assert.deepEqual([composed.likers.has('u1'), composed.likers.has('u2'), composed.likers.size], [false, true, 1]);
    });
    test('given a video and a thread evolved apart, when composed, then it equals the thread folded over both topics', () => {
      const videoEvents = historyUpTo('v', 'ready');
      const comment = { type: 'CommentPosted' as const, data: { commentId: 'c1', videoId: 'v', authorId: 'u', parentId: null, body: 'b', postedAt: T0 } };
      const expected = fold(AGGREGATES.comment.decider, [...videoEvents, comment]);
      const ownPart = fold(AGGREGATES.comment.decider, [comment]);
      const composed = AGGREGATES.comment.borrows!.into(ownPart as never, fold(AGGREGATES.video.decider, videoEvents) as never);
      assert.deepEqual({ ...composed, commentIds: [...composed.commentIds] }, { ...expected, commentIds: [...expected.commentIds] });
    });
  });

  describe('concurrency keys', () => {
    test('a video and its comment thread serialise on video:<id>; registrations on one key; views take none', () => {
      assert.equal(lockOf('video', 'v1'), 'video:v1');
      assert.equal(lockOf('comment', 'v1'), 'video:v1');
      assert.equal(lockOf('user', 'u1'), lockOf('user', 'u2'));
      assert.equal(lockOf('view', 'v1'), null);
    });
    test('a kind that borrows state takes the borrowed kind\'s key or none (the borrowed state is reloaded under it)', () => {
      for (const k of AGGREGATE_KINDS) {
        const b = AGGREGATES[k].borrows?.kind;
        if (b && lockOf(k, 'x') !== null) assert.equal(lockOf(k, 'x'), lockOf(b, 'x'), k);
      }
    });
  });

  describe('decisions come from the registered deciders', () => {
    test('given a deleted video, when a view is decided with the view entry, then VIDEO_DELETED', () => {
      const video = fold(AGGREGATES.video.decider, historyUpTo('v', 'deleted'));
      const state = AGGREGATES.view.borrows!.into(AGGREGATES.view.decider.initialState, video as never);
      assert.throws(
        () => AGGREGATES.view.decider.decide({ type: 'RecordView', data: { videoId: 'v', sessionId: 's', watchedSeconds: 1, positionSeconds: 1 }, metadata: { now: T0 } }, state),
        (e: unknown) => e instanceof DomainError && e.code === 'VIDEO_DELETED',
      );
    });
    test('given a registered username, the user entry\'s cross-aggregate check refuses it for another user only', () => {
      const register = (userId: string) => ({
        type: 'RegisterUser' as const, data: { userId, username: 'Alice', email: 'a@b', passwordHash: '$x' }, metadata: { now: T0 },
      });
      const lookups = {
        userIdOfUsername: (name: string) => (name.toLowerCase() === 'alice' ? 'u-1' : undefined),
        storageUsedBy: () => 0, userStorageQuotaBytes: 1,
      };
      assert.doesNotThrow(() => AGGREGATES.user.checkAcross!(register('u-1'), lookups));
      assert.throws(() => AGGREGATES.user.checkAcross!(register('u-2'), lookups), (e: unknown) => e instanceof DomainError && e.code === 'USERNAME_TAKEN' && e.kind === 'conflict');
    });
    test('the stream id of a command is its aggregate id', () => {
      const c: VideoCommand = videoCommands('vid-9').delete();
      assert.equal(AGGREGATES.video.streamId(c), 'vid-9');
    });
  });
});
