import { describe, test } from 'node:test';
import { DeciderSpecification } from '../shared/decider.spec.ts';
import { viewDecider } from './view.decider.ts';
import type { ViewCommand } from './view.commands.ts';
import type { ViewEvent } from './view.events.ts';
import { historyUpTo, T0 } from '../video/video.fixtures.ts';

const V = 'vid-v';
const spec = DeciderSpecification.for(viewDecider);
const STARTED = T0 + 10;
const view = (watchedSeconds: number, positionSeconds: number, viewerId?: string | null, sessionStartedAt: number | null = STARTED): ViewCommand => ({
  type: 'RecordView', data: { videoId: V, sessionId: 's-1', viewerId, watchedSeconds, positionSeconds, ...(sessionStartedAt !== null && { sessionStartedAt }) }, metadata: { now: T0 + 50 },
});
const viewed = (watchedSeconds: number, positionSeconds: number, viewerId: string | null = null, sessionStartedAt: number | null = STARTED): ViewEvent => ({
  type: 'VideoViewed',
  data: { videoId: V, sessionId: 's-1', viewerId, watchedSeconds, positionSeconds, videoDurationSeconds: 12.5, viewedAt: T0 + 50, sessionStartedAt },
});
const given = (status: Parameters<typeof historyUpTo>[1]) => spec.given(historyUpTo(V, status));

describe('view decider', () => {
  describe('when the video does not exist', () => {
    test('RecordView is rejected with VIDEO_NOT_FOUND', () => {
      spec.given([]).when(view(1, 1)).thenThrows('VIDEO_NOT_FOUND', 'not_found');
    });
  });
  describe('when the video is not ready', () => {
    test('views are rejected while pending, uploaded, processing or failed', () => {
      for (const s of ['pending_upload', 'uploaded', 'processing', 'failed'] as const) {
        given(s).when(view(1, 1)).thenThrows('VIDEO_NOT_PUBLISHED', 'conflict');
      }
    });
  });
  describe('when the video is deleted', () => {
    test('views are rejected with VIDEO_DELETED', () => {
      given('deleted').when(view(1, 1)).thenThrows('VIDEO_DELETED', 'not_found');
    });
  });
  describe('when the video is ready', () => {
    test('a heartbeat carries the duration from the video state', () => {
      given('ready').when(view(3, 4.5, 'u-9')).then([viewed(3, 4.5, 'u-9')]);
    });
    test('an anonymous heartbeat has viewerId null', () => {
      given('ready').when(view(0, 0)).then([viewed(0, 0)]);
    });
    test('the session start is copied from the command; a command without one records null (issue 8)', () => {
      given('ready').when(view(2, 2, null, T0 + 7)).then([viewed(2, 2, null, T0 + 7)]);
      given('ready').when(view(2, 2, null, null)).then([viewed(2, 2, null, null)]);
    });
    test('watchedSeconds and positionSeconds must be finite and ≥ 0', () => {
      for (const [w, p] of [[-1, 0], [0, -0.5], [Number.NaN, 0], [0, Number.POSITIVE_INFINITY]]) {
        given('ready').when(view(w, p)).thenThrows('INVALID_VIEW', 'invalid');
      }
    });
  });
});
