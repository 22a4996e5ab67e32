import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTES, routeCommand } from './routing.ts';
import { AGGREGATE_KINDS, AGGREGATES, type AggregateKind } from './aggregates.ts';
import type { Command, CommandType } from './command-bus.port.ts';
import { DomainError } from '../domain/shared/event.ts';
import { T0, videoCommands } from '../domain/video/video.fixtures.ts';

/** Every command type of `DomainCommand` with the kind expected to decide it; a record, so a new type fails to compile here too. */
const EXPECTED: Record<CommandType, AggregateKind> = {
  RegisterUser: 'user', EraseUser: 'user',
  StartUpload: 'video', CompleteUpload: 'video', FailUpload: 'video', StartProcessing: 'video', ReportProcessingProgress: 'video',
  RecordRenditionEncoded: 'video', PublishVideo: 'video', FailProcessing: 'video', CompleteProcessing: 'video', RecordStoryboard: 'video',
  UpdateVideoMetadata: 'video', DeleteVideo: 'video', PublishCaptions: 'video', RemoveCaptions: 'video', SetCustomThumbnail: 'video',
  PostComment: 'comment', DeleteComment: 'comment',
  RecordView: 'view',
  RecordPlaybackEvents: 'playback',
  LikeVideo: 'like', UnlikeVideo: 'like',
  SubscribeToChannel: 'subscription', UnsubscribeFromChannel: 'subscription',
};

const invalid = (command: unknown, message: RegExp) =>
  assert.throws(() => routeCommand(command as Command), (e: unknown) => {
    assert.ok(e instanceof DomainError);
    assert.equal(e.code, 'INVALID_COMMAND');
    assert.equal(e.kind, 'invalid');
    assert.match(e.message, message);
    return true;
  });

describe('routing table', () => {
  test('routes every command type of DomainCommand to exactly one aggregate kind', () => {
    assert.deepEqual(Object.fromEntries(ROUTES), EXPECTED);
    const listed = AGGREGATE_KINDS.flatMap((k) => Object.keys(AGGREGATES[k].commandTypes));
    assert.equal(listed.length, new Set(listed).size, 'a command type is listed by two kinds');
    assert.equal(listed.length, Object.keys(EXPECTED).length);
  });

  describe('given a well-formed command', () => {
    test('when routed, then it carries its kind and its aggregate id as stream id', () => {
      const routed = routeCommand(videoCommands('vid-1').startUpload());
      assert.equal(routed.kind, 'video');
      assert.equal(routed.streamId, 'vid-1');
      const register: Command = {
        type: 'RegisterUser', data: { userId: 'u-1', username: 'a', email: 'a@b', passwordHash: '$x' }, metadata: { now: T0 },
      };
      assert.deepEqual({ ...routeCommand(register), command: undefined }, { kind: 'user', streamId: 'u-1', command: undefined });
      const view: Command = {
        type: 'RecordView', data: { videoId: 'vid-2', sessionId: 's', watchedSeconds: 1, positionSeconds: 1 }, metadata: { now: T0 },
      };
      assert.equal(routeCommand(view).kind, 'view');
      assert.equal(routeCommand(view).streamId, 'vid-2');
    });
  });

  describe('given a malformed envelope', () => {
    test('an unknown or missing type is INVALID_COMMAND', () => {
      invalid({ type: 'Nope', data: {}, metadata: { now: 1 } }, /unknown command type Nope/);
      invalid({ type: 'toString', data: {}, metadata: { now: 1 } }, /unknown command type/);
      invalid({ data: {}, metadata: { now: 1 } }, /unknown command type/);
      invalid(null, /unknown command type/);
      invalid('RegisterUser', /unknown command type/);
    });
    test('missing data is INVALID_COMMAND', () => {
      invalid({ type: 'DeleteVideo', metadata: { now: 1 } }, /data is required/);
      invalid({ type: 'DeleteVideo', data: null, metadata: { now: 1 } }, /data is required/);
    });
    test('metadata.now that is not a finite number is INVALID_COMMAND', () => {
      for (const metadata of [undefined, {}, { now: '1' }, { now: Number.NaN }, { now: Infinity }]) {
        invalid({ type: 'DeleteVideo', data: { videoId: 'v' }, metadata }, /metadata.now/);
      }
    });
    test('a missing or empty aggregate id is INVALID_COMMAND', () => {
      invalid({ type: 'DeleteVideo', data: {}, metadata: { now: 1 } }, /aggregate id/);
      invalid({ type: 'DeleteVideo', data: { videoId: '' }, metadata: { now: 1 } }, /aggregate id/);
      invalid({ type: 'RegisterUser', data: { userId: 7 }, metadata: { now: 1 } }, /aggregate id/);
    });
  });
});
