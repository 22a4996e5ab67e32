import { describe, test } from 'node:test';
import { DeciderSpecification } from '../shared/decider.spec.ts';
import { playbackDecider, MAX_PLAYBACK_REPORTS } from './playback.decider.ts';
import type { PlaybackCommand, PlaybackReport } from './playback.commands.ts';
import { historyUpTo, T0 } from '../video/video.fixtures.ts';

const V = 'vid-p';
const NOW = T0 + 90;
const spec = DeciderSpecification.for(playbackDecider);
const report = (...reports: PlaybackReport[]): PlaybackCommand => ({
  type: 'RecordPlaybackEvents', data: { videoId: V, sessionId: 's-1', reports }, metadata: { now: NOW },
});
const fact = (positionSeconds: number) => ({ videoId: V, sessionId: 's-1', positionSeconds, at: NOW });
const given = (status: Parameters<typeof historyUpTo>[1]) => spec.given(historyUpTo(V, status));

describe('playback decider (issue 15: quality of experience)', () => {
  describe('given a video that is not watchable', () => {
    test('then reports are refused as heartbeats are: not found, deleted, not published', () => {
      spec.given([]).when(report({ kind: 'end', positionSeconds: 1 })).thenThrows('VIDEO_NOT_FOUND', 'not_found');
      given('deleted').when(report({ kind: 'end', positionSeconds: 1 })).thenThrows('VIDEO_DELETED', 'not_found');
      for (const s of ['pending_upload', 'uploaded', 'processing', 'failed'] as const) {
        given(s).when(report({ kind: 'end', positionSeconds: 1 })).thenThrows('VIDEO_NOT_PUBLISHED', 'conflict');
      }
    });
  });

  describe('given a ready video', () => {
    test('when a player reports a whole session, then each report becomes its event, in order, stamped with the command time', () => {
      given('ready').when(report(
        { kind: 'start', positionSeconds: 0, startupTimeMs: 412.5, renditionHeight: 360 },
        { kind: 'rendition_switch', positionSeconds: 4, renditionHeight: 240 },
        { kind: 'rebuffer_start', positionSeconds: 6 },
        { kind: 'rebuffer_end', positionSeconds: 6, rebufferMs: 1500 },
        { kind: 'error', positionSeconds: 7, errorCode: 'fragLoadError' },
        { kind: 'end', positionSeconds: 12.5 },
      )).then([
        { type: 'PlaybackStarted', data: { ...fact(0), startupTimeMs: 412.5, renditionHeight: 360 } },
        { type: 'RenditionSwitched', data: { ...fact(4), renditionHeight: 240 } },
        { type: 'RebufferStarted', data: fact(6) },
        { type: 'RebufferEnded', data: { ...fact(6), rebufferMs: 1500 } },
        { type: 'PlaybackFailed', data: { ...fact(7), errorCode: 'fragLoadError' } },
        { type: 'PlaybackEnded', data: fact(12.5) },
      ]);
    });

    test('when a start does not name its rendition, then it is recorded without one', () => {
      given('ready').when(report({ kind: 'start', positionSeconds: 0, startupTimeMs: 0 }))
        .then([{ type: 'PlaybackStarted', data: { ...fact(0), startupTimeMs: 0, renditionHeight: null } }]);
    });

    test('when any report is malformed, then the whole command is refused with INVALID_PLAYBACK_EVENT and nothing is recorded', () => {
      const bad: PlaybackReport[] = [
        { kind: 'start', positionSeconds: 0 },
        { kind: 'start', positionSeconds: 0, startupTimeMs: -1 },
        { kind: 'start', positionSeconds: 0, startupTimeMs: 600_001 },
        { kind: 'start', positionSeconds: 0, startupTimeMs: 10, renditionHeight: 720.5 },
        { kind: 'rendition_switch', positionSeconds: 1 },
        { kind: 'rendition_switch', positionSeconds: 1, renditionHeight: 0 },
        { kind: 'rebuffer_end', positionSeconds: 1, rebufferMs: Number.NaN },
        { kind: 'error', positionSeconds: 1, errorCode: '' },
        { kind: 'error', positionSeconds: 1, errorCode: 'x'.repeat(65) },
        { kind: 'error', positionSeconds: 1, errorCode: 'has space' },
        { kind: 'end', positionSeconds: -1 },
        { kind: 'end', positionSeconds: Number.POSITIVE_INFINITY },
        { kind: 'seek' as PlaybackReport['kind'], positionSeconds: 1 },
      ];
      for (const b of bad) given('ready').when(report({ kind: 'end', positionSeconds: 1 }, b)).thenThrows('INVALID_PLAYBACK_EVENT', 'invalid');
      given('ready').when(report()).thenThrows('INVALID_PLAYBACK_EVENT', 'invalid');
      const many = Array.from({ length: MAX_PLAYBACK_REPORTS + 1 }, (): PlaybackReport => ({ kind: 'rebuffer_start', positionSeconds: 1 }));
      given('ready').when(report(...many)).thenThrows('INVALID_PLAYBACK_EVENT', 'invalid');
      given('ready').when({ ...report({ kind: 'end', positionSeconds: 1 }), data: { videoId: V, sessionId: ' ', reports: [{ kind: 'end', positionSeconds: 1 }] } })
        .thenThrows('INVALID_PLAYBACK_EVENT', 'invalid');
    });
  });
});
