import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeciderSpecification } from '../shared/decider.spec.ts';
import { fold } from '../shared/decider.ts';
import { videoDecider, type VideoState } from './video.decider.ts';
import type { VideoEvent } from './video.events.ts';
import { historyUpTo, LADDER, OWNER, rendition, STRANGER, T0, videoCommands, videoEvents } from './video.fixtures.ts';

const V = 'vid-1';
const spec = DeciderSpecification.for(videoDecider);
const cmd = videoCommands(V);
const ev = videoEvents(V);
const given = (status: Parameters<typeof historyUpTo>[1], ...more: VideoEvent[]) => spec.given([...historyUpTo(V, status), ...more]);
const ALL_COMMANDS = [
  cmd.startUpload(), cmd.completeUpload(), cmd.startProcessing(), cmd.progress(50), cmd.renditionEncoded(), cmd.publish(),
  cmd.fail(), cmd.complete(), cmd.update({ title: 'x' }), cmd.delete(),
];

describe('video decider', () => {
  describe('visibility (issue 8)', () => {
    test('StartUpload records the visibility, public by default; an unknown one is INVALID_VISIBILITY', () => {
      spec.given([]).when(cmd.startUpload({ visibility: 'private' }))
        .thenMatches((es) => assert.equal((es[0]!.data as { visibility?: string }).visibility, 'private'));
      spec.given([]).when(cmd.startUpload({ visibility: 'secret' as never })).thenThrows('INVALID_VISIBILITY', 'invalid');
    });
    test('UpdateVideoMetadata changes the visibility (owner only); the same visibility again is a no-op', () => {
      given('ready').when(cmd.update({ visibility: 'unlisted' })).thenMatches((es) => {
        assert.equal(es.length, 1);
        assert.equal((es[0]!.data as { visibility?: string | null }).visibility, 'unlisted');
      });
      given('ready').when(cmd.update({ visibility: 'public' })).then([]);
      given('ready').when(cmd.update({ visibility: 'private' }, STRANGER)).thenThrows('NOT_OWNER', 'forbidden');
      given('ready').when(cmd.update({ visibility: 'nobody' as never })).thenThrows('INVALID_VISIBILITY', 'invalid');
      const state = fold(videoDecider, [...historyUpTo(V, 'ready'), ...videoDecider.decide(cmd.update({ visibility: 'private' }), fold(videoDecider, historyUpTo(V, 'ready')))]);
      assert.equal((state as { visibility?: string }).visibility, 'private');
    });
  });
  describe('when the video does not exist', () => {
    test('StartUpload opens the upload with trimmed metadata', () => {
      spec.given([]).when(cmd.startUpload({ title: '  A clip  ', tags: [' cats '] })).then([ev.uploadStarted()]);
    });
    test('every other command is rejected with VIDEO_NOT_FOUND', () => {
      for (const c of ALL_COMMANDS.slice(1)) spec.given([]).when(c).thenThrows('VIDEO_NOT_FOUND', 'not_found');
    });
    test('title must be 1..200 characters', () => {
      spec.given([]).when(cmd.startUpload({ title: '   ' })).thenThrows('INVALID_METADATA', 'invalid');
      spec.given([]).when(cmd.startUpload({ title: 'x'.repeat(201) })).thenThrows('INVALID_METADATA');
      // 200 emoji are 400 UTF-16 units but 200 characters
      spec.given([]).when(cmd.startUpload({ title: '🎬'.repeat(200) })).thenMatches((es) => assert.equal(es.length, 1));
    });
    test('description is at most 5000 characters', () => {
      spec.given([]).when(cmd.startUpload({ description: 'd'.repeat(5001) })).thenThrows('INVALID_METADATA');
      spec.given([]).when(cmd.startUpload({ description: 'd'.repeat(5000) })).thenMatches((es) => assert.equal(es.length, 1));
    });
    test('at most 20 tags, each 1..50 characters', () => {
      spec.given([]).when(cmd.startUpload({ tags: Array.from({ length: 21 }, (_, i) => `t${i}`) })).thenThrows('INVALID_METADATA');
      spec.given([]).when(cmd.startUpload({ tags: ['ok', ''] })).thenThrows('INVALID_METADATA');
      spec.given([]).when(cmd.startUpload({ tags: ['t'.repeat(51)] })).thenThrows('INVALID_METADATA');
      spec.given([]).when(cmd.startUpload({ tags: Array.from({ length: 20 }, () => 't'.repeat(50)) })).thenMatches((es) => assert.equal(es.length, 1));
    });
    test('sizes must be positive integers', () => {
      spec.given([]).when(cmd.startUpload({ sizeBytes: -1 })).thenThrows('INVALID_UPLOAD', 'invalid');
      spec.given([]).when(cmd.startUpload({ partSizeBytes: Number.NaN })).thenThrows('INVALID_UPLOAD');
    });
  });

  describe('when the upload is pending', () => {
    test('CompleteUpload with the open uploadId completes it', () => {
      given('pending_upload').when(cmd.completeUpload()).then([ev.uploadCompleted()]);
    });
    test('CompleteUpload with another uploadId is a conflict', () => {
      given('pending_upload').when(cmd.completeUpload('up-other')).thenThrows('UPLOAD_ID_MISMATCH', 'conflict');
    });
    test('a retried StartUpload with the same uploadId is idempotent, another uploadId conflicts', () => {
      given('pending_upload').when(cmd.startUpload()).then([]);
      given('pending_upload').when(cmd.startUpload({ uploadId: 'up-2' })).thenThrows('VIDEO_ALREADY_EXISTS', 'conflict');
    });
    test('processing cannot complete before the video is published', () => {
      given('pending_upload').when(cmd.complete()).thenThrows('INVALID_TRANSITION', 'conflict');
      given('uploaded').when(cmd.complete()).thenThrows('INVALID_TRANSITION', 'conflict');
      given('processing', ev.renditionEncoded()).when(cmd.complete()).thenThrows('INVALID_TRANSITION', 'conflict');
    });
    test('processing cannot start, be published or fail before the upload completes', () => {
      given('pending_upload').when(cmd.startProcessing()).thenThrows('INVALID_TRANSITION', 'conflict');
      given('pending_upload').when(cmd.publish()).thenThrows('INVALID_TRANSITION', 'conflict');
      given('pending_upload').when(cmd.renditionEncoded()).thenThrows('INVALID_TRANSITION', 'conflict');
      given('pending_upload').when(cmd.fail()).thenThrows('INVALID_TRANSITION', 'conflict');
    });
    test('progress reports are ignored', () => {
      given('pending_upload').when(cmd.progress(10)).then([]);
    });
    test('evolve puts the video in pending_upload', () => {
      assert.equal(given('pending_upload').state.status, 'pending_upload');
    });
  });

  describe('when the upload is completed', () => {
    test('a retried CompleteUpload with the same uploadId is idempotent', () => {
      given('uploaded').when(cmd.completeUpload()).then([]);
    });
    test('CompleteUpload with another uploadId is still a conflict', () => {
      given('uploaded').when(cmd.completeUpload('up-other')).thenThrows('UPLOAD_ID_MISMATCH', 'conflict');
    });
    test('StartProcessing plans the ladder', () => {
      given('uploaded').when(cmd.startProcessing()).then([ev.processingStarted()]);
    });
    test('StartProcessing validates the plan', () => {
      given('uploaded').when(cmd.startProcessing([])).thenThrows('INVALID_PROCESSING_PLAN', 'invalid');
      given('uploaded').when(cmd.startProcessing([LADDER[0], LADDER[0]])).thenThrows('INVALID_PROCESSING_PLAN');
      given('uploaded').when(cmd.startProcessing(LADDER, Number.POSITIVE_INFINITY)).thenThrows('INVALID_PROCESSING_PLAN');
    });
    test('the transcoder may fail while probing (uploaded → failed)', () => {
      given('uploaded').when(cmd.fail('NO_VIDEO_STREAM')).then([ev.failed('NO_VIDEO_STREAM')]);
    });
    test('it cannot be published yet', () => {
      given('uploaded').when(cmd.publish()).thenThrows('INVALID_TRANSITION', 'conflict');
    });
  });

  describe('when the video is processing', () => {
    test('a retried StartProcessing is idempotent', () => {
      given('processing').when(cmd.startProcessing()).then([]);
    });
    test('progress is recorded only when it increases', () => {
      given('processing').when(cmd.progress(40)).then([ev.progressed(40)]);
      given('processing', ev.progressed(40)).when(cmd.progress(40)).then([]);
      given('processing', ev.progressed(40)).when(cmd.progress(30)).then([]);
      given('processing', ev.progressed(40)).when(cmd.progress(41)).then([ev.progressed(41)]);
    });
    test('progress must be within 0..100', () => {
      given('processing').when(cmd.progress(101)).thenThrows('INVALID_PROGRESS', 'invalid');
      given('processing').when(cmd.progress(Number.NaN)).thenThrows('INVALID_PROGRESS');
    });
    test('a rendition is recorded once per name', () => {
      given('processing').when(cmd.renditionEncoded()).then([ev.renditionEncoded()]);
      given('processing', ev.renditionEncoded()).when(cmd.renditionEncoded()).then([]);
      const r360 = rendition('360p', 360);
      given('processing', ev.renditionEncoded()).when(cmd.renditionEncoded(r360)).then([ev.renditionEncoded(r360)]);
    });
    test('PublishVideo needs an encoded rendition', () => {
      given('processing').when(cmd.publish()).thenThrows('NO_RENDITION_ENCODED', 'conflict');
      given('processing', ev.renditionEncoded()).when(cmd.publish()).then([ev.published()]);
    });
    test('progressive publishing (ADR 0007): PublishVideo with the growing rungs the master lists, before any is complete', () => {
      given('processing').when(cmd.publish([...LADDER])).then([ev.published([...LADDER])]);
      given('processing').when(cmd.publish([])).thenThrows('INVALID_PUBLICATION', 'invalid');
      given('processing').when(cmd.publish([LADDER[0], LADDER[0]])).thenThrows('INVALID_PUBLICATION', 'invalid');
      given('processing').when(cmd.publish([{ ...LADDER[0], name: ' ' }])).thenThrows('INVALID_RENDITION', 'invalid');
      // Complete renditions still follow one by one; completion needs them encoded.
      given('processing', ev.published([...LADDER])).when(cmd.complete([LADDER[0].name])).thenThrows('INVALID_COMPLETION', 'invalid');
      given('processing', ev.published([...LADDER]), ev.renditionEncoded()).when(cmd.complete([LADDER[0].name])).then([ev.completed([LADDER[0].name])]);
      // A truncated source: completion carries the playable duration, known only at the end.
      given('processing', ev.published([...LADDER]), ev.renditionEncoded()).when(cmd.complete([LADDER[0].name], [], 1.5))
        .thenMatches((es) => assert.equal((es[0]!.data as { durationSeconds?: number }).durationSeconds, 1.5));
      given('processing', ev.published([...LADDER]), ev.renditionEncoded()).when(cmd.complete([LADDER[0].name], [], -1)).thenThrows('INVALID_COMPLETION', 'invalid');
    });
    test('FailProcessing fails it', () => {
      given('processing').when(cmd.fail()).then([ev.failed()]);
    });
    test('a retried CompleteUpload is still idempotent', () => {
      given('processing').when(cmd.completeUpload()).then([]);
    });
  });

  describe('when the video is ready', () => {
    test('a duplicate PublishVideo is idempotent', () => {
      given('ready').when(cmd.publish()).then([]);
    });
    test('FailProcessing is rejected: status only moves forward', () => {
      given('ready').when(cmd.fail()).thenThrows('INVALID_TRANSITION', 'conflict');
    });
    test('higher renditions are still recorded, duplicates ignored', () => {
      const r360 = rendition('360p', 360);
      given('ready').when(cmd.renditionEncoded(r360)).then([ev.renditionEncoded(r360)]);
      given('ready').when(cmd.renditionEncoded(LADDER[0])).then([]);
    });
    test('progress still increases', () => {
      given('ready', ev.progressed(50)).when(cmd.progress(100)).then([ev.progressed(100)]);
      given('ready', ev.progressed(50)).when(cmd.progress(50)).then([]);
    });
    test('StartProcessing again is a no-op', () => {
      given('ready').when(cmd.startProcessing()).then([]);
    });
    test('evolve records status, keys and duration', () => {
      const s = given('ready').state as Extract<VideoState, { videoId: string }>;
      assert.equal(s.status, 'ready');
      assert.equal(s.masterPlaylistKey, `hls/${V}/master.m3u8`);
      assert.equal(s.durationSeconds, 12.5);
      assert.deepEqual(s.encoded.map((r) => r.name), ['240p']);
    });
  });

  describe('when the ready video completes processing', () => {
    const r360 = rendition('360p', 360);
    test('CompleteProcessing records the final renditions and the omitted ones', () => {
      given('ready').when(cmd.complete(['240p'], [{ name: '360p', reason: 'Encoding failed' }]))
        .then([ev.completed(['240p'], [{ name: '360p', reason: 'Encoding failed' }])]);
      given('ready', ev.renditionEncoded(r360)).when(cmd.complete(['240p', '360p'])).then([ev.completed(['240p', '360p'])]);
    });
    test('a second CompleteProcessing is an idempotent no-op', () => {
      given('ready', ev.completed()).when(cmd.complete()).then([]);
      given('ready', ev.completed()).when(cmd.complete(['240p'], [{ name: '360p', reason: 'x' }])).then([]);
    });
    test('renditions must be non-empty, encoded and listed once', () => {
      given('ready').when(cmd.complete([])).thenThrows('INVALID_COMPLETION', 'invalid');
      given('ready').when(cmd.complete(['240p', '360p'])).thenThrows('INVALID_COMPLETION', 'invalid');
      given('ready').when(cmd.complete(['240p', '240p'])).thenThrows('INVALID_COMPLETION', 'invalid');
    });
    test('omitted renditions need a name and cannot also be listed', () => {
      given('ready').when(cmd.complete(['240p'], [{ name: ' ', reason: 'x' }])).thenThrows('INVALID_COMPLETION', 'invalid');
      given('ready').when(cmd.complete(['240p'], [{ name: '240p', reason: 'x' }])).thenThrows('INVALID_COMPLETION', 'invalid');
    });
    test('a failed video cannot complete', () => {
      given('failed').when(cmd.complete()).thenThrows('INVALID_TRANSITION', 'conflict');
    });
    test('evolve records completed and keeps the video ready', () => {
      const before = given('ready').state as Extract<VideoState, { videoId: string }>;
      assert.equal(before.completed, false);
      const s = given('ready', ev.completed()).state as Extract<VideoState, { videoId: string }>;
      assert.equal(s.completed, true);
      assert.equal(s.status, 'ready');
      assert.equal(s.updatedAt, T0 + 9);
    });
  });

  describe('when a published video gets its storyboard (seek previews)', () => {
    test('RecordStoryboard records StoryboardGenerated; the same key again is a no-op, another key replaces it', () => {
      given('ready').when(cmd.storyboard()).then([ev.storyboardGenerated()]);
      given('ready', ev.storyboardGenerated()).when(cmd.storyboard()).then([]);
      given('ready', ev.storyboardGenerated()).when(cmd.storyboard({ storyboardKey: 'videos/vid-1/storyboard-2/storyboard.vtt' }))
        .then([ev.storyboardGenerated('videos/vid-1/storyboard-2/storyboard.vtt')]);
      const state = fold(videoDecider, [...historyUpTo(V, 'ready'), ev.storyboardGenerated()]);
      assert.equal((state as { storyboardKey?: string }).storyboardKey, `videos/${V}/storyboard/storyboard.vtt`);
    });
    test('only a published video gets one; a deleted video answers VIDEO_DELETED', () => {
      given('processing').when(cmd.storyboard()).thenThrows('INVALID_TRANSITION', 'conflict');
      given('failed').when(cmd.storyboard()).thenThrows('INVALID_TRANSITION', 'conflict');
      given('deleted').when(cmd.storyboard()).thenThrows('VIDEO_DELETED', 'not_found');
    });
    test('malformed data is INVALID_STORYBOARD', () => {
      for (const bad of [{ storyboardKey: ' ' }, { intervalSeconds: 0 }, { intervalSeconds: Number.NaN }, { tiles: 0 }, { tileWidth: 1.5 }, { tileHeight: -90 }]) {
        given('ready').when(cmd.storyboard(bad)).thenThrows('INVALID_STORYBOARD', 'invalid');
      }
    });
  });
  describe('when processing has failed', () => {
    test('a duplicate FailProcessing is idempotent', () => {
      given('failed').when(cmd.fail()).then([]);
    });
    test('it cannot be published, restarted or get renditions', () => {
      given('failed').when(cmd.publish()).thenThrows('INVALID_TRANSITION', 'conflict');
      given('failed').when(cmd.startProcessing()).thenThrows('INVALID_TRANSITION', 'conflict');
      given('failed').when(cmd.renditionEncoded()).thenThrows('INVALID_TRANSITION', 'conflict');
    });
    test('progress reports are ignored', () => {
      given('failed').when(cmd.progress(99)).then([]);
    });
  });

  describe('when someone edits or deletes the video', () => {
    test('the owner may update metadata; only changed fields are in the event', () => {
      given('ready').when(cmd.update({ title: ' New title ', description: 'desc' })).then([{
        type: 'VideoMetadataUpdated',
        data: { videoId: V, title: 'New title', description: null, tags: null, updatedBy: OWNER, updatedAt: T0 + 7 },
      }]);
    });
    test('an update that changes nothing is a no-op', () => {
      given('ready').when(cmd.update({ title: 'A clip', tags: ['cats'] })).then([]);
    });
    test('metadata limits apply to updates', () => {
      given('ready').when(cmd.update({ title: '' })).thenThrows('INVALID_METADATA', 'invalid');
      given('ready').when(cmd.update({ tags: Array.from({ length: 21 }, (_, i) => `t${i}`) })).thenThrows('INVALID_METADATA');
    });
    test('only the owner may edit', () => {
      given('ready').when(cmd.update({ title: 'mine now' }, STRANGER)).thenThrows('NOT_OWNER', 'forbidden');
      given('ready').when(cmd.update({ title: 'mine now' }, null)).thenThrows('NOT_OWNER', 'forbidden');
    });
    test('only the owner may delete', () => {
      given('processing').when(cmd.delete(STRANGER)).thenThrows('NOT_OWNER', 'forbidden');
      given('processing').when(cmd.delete(null)).thenThrows('NOT_OWNER', 'forbidden');
      given('processing').when(cmd.delete()).then([ev.deleted()]);
    });
    test('evolve applies an update and keeps absent fields', () => {
      const s = fold(videoDecider, [
        ...historyUpTo(V, 'ready'),
        { type: 'VideoMetadataUpdated', data: { videoId: V, title: null, description: null, tags: ['dogs'], updatedBy: OWNER, updatedAt: T0 + 9 } },
      ]) as Extract<VideoState, { videoId: string }>;
      assert.equal(s.title, 'A clip');
      assert.deepEqual(s.tags, ['dogs']);
    });
  });

  describe('when the video is deleted', () => {
    test('every command is rejected with VIDEO_DELETED', () => {
      for (const c of ALL_COMMANDS) given('deleted').when(c).thenThrows('VIDEO_DELETED', 'not_found');
    });
    test('later events do not resurrect it', () => {
      const s = fold(videoDecider, [...historyUpTo(V, 'deleted'), ev.published(), ev.uploadStarted()]);
      assert.equal(s.status, 'deleted');
    });
  });
});
