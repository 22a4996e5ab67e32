/** FailUpload (issue 8): an upload whose size does not match its declaration, or abandoned, ends `failed` with a reason. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fold } from '../shared/decider.ts';
import { videoDecider, type VideoState } from './video.decider.ts';
import type { VideoCommand } from './video.commands.ts';
import { T0, videoEvents } from './video.fixtures.ts';
import { DomainError } from '../shared/event.ts';

const ev = videoEvents('vid-1');
const failUpload = (uploadId = 'up-1', code = 'UPLOAD_SIZE_MISMATCH'): VideoCommand => ({
  type: 'FailUpload', data: { videoId: 'vid-1', uploadId, code, reason: 'assembled 6291456 bytes, declared 1' }, metadata: { now: T0 + 10 },
});
const stateOf = (events = [ev.uploadStarted()]): VideoState => fold(videoDecider, events);

describe('FailUpload', () => {
  test('a pending upload becomes failed, with code and reason, through VideoProcessingFailed', () => {
    const events = videoDecider.decide(failUpload(), stateOf());
    assert.deepEqual(events, [{ type: 'VideoProcessingFailed', data: { videoId: 'vid-1', code: 'UPLOAD_SIZE_MISMATCH', reason: 'assembled 6291456 bytes, declared 1', failedAt: T0 + 10 } }]);
    const after = fold(videoDecider, [ev.uploadStarted(), ...events]);
    assert.ok(after.status !== 'absent');
    assert.equal(after.status, 'failed');
    assert.equal(after.failure?.code, 'UPLOAD_SIZE_MISMATCH');
  });
  test('a retry once failed is a no-op', () => {
    const failed = fold(videoDecider, [ev.uploadStarted(), ...videoDecider.decide(failUpload(), stateOf())]);
    assert.deepEqual(videoDecider.decide(failUpload(), failed), []);
  });
  test('another upload id → UPLOAD_ID_MISMATCH; a completed upload cannot be failed', () => {
    assert.throws(() => videoDecider.decide(failUpload('up-2'), stateOf()), (e) => e instanceof DomainError && e.code === 'UPLOAD_ID_MISMATCH');
    assert.throws(() => videoDecider.decide(failUpload(), stateOf([ev.uploadStarted(), ev.uploadCompleted()])),
      (e) => e instanceof DomainError && e.code === 'INVALID_TRANSITION');
  });
});
