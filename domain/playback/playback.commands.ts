import type { CommandMetadata } from '../shared/event.ts';

/**
 * What a player reports beside its heartbeats (issue 15, quality of experience; the event model of
 * Mux Data and of the CTA-5004 Common Media Client Data keys): a playback start with its startup
 * time, a rendition switch, a rebuffer's start and end (with its length), an error, the end.
 */
export type PlaybackReportKind = 'start' | 'rendition_switch' | 'rebuffer_start' | 'rebuffer_end' | 'error' | 'end';

/** Every PlaybackReportKind, for validation. */
export const PLAYBACK_REPORT_KINDS: readonly PlaybackReportKind[] = ['start', 'rendition_switch', 'rebuffer_start', 'rebuffer_end', 'error', 'end'];

/**
 * One report. `positionSeconds`: the playhead, seconds. `startupTimeMs` (start only): ms from the
 * play request to the first frame. `renditionHeight` (start, rendition_switch): the rendition's
 * height in pixels. `rebufferMs` (rebuffer_end only): how long playback stalled, ms. `errorCode`
 * (error only): a short code the player chose (e.g. `MEDIA_ERR_DECODE`, hls.js `fragLoadError`).
 */
export interface PlaybackReport {
  kind: PlaybackReportKind;
  positionSeconds: number;
  startupTimeMs?: number | null;
  renditionHeight?: number | null;
  rebufferMs?: number | null;
  errorCode?: string | null;
}

/**
 * Reports of one playback session, in the order they happened (a player batches a few per
 * request, as Mux's beacons do). `sessionId`: a playback session the gateway verified for
 * `videoId`. Key: `data.videoId`.
 */
export type RecordPlaybackEvents = {
  type: 'RecordPlaybackEvents';
  data: { videoId: string; sessionId: string; reports: PlaybackReport[] };
  metadata: CommandMetadata;
};

export type PlaybackCommand = RecordPlaybackEvents;
