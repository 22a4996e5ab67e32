import type { Event } from '../shared/event.ts';

/**
 * The quality-of-experience events of one playback session (issue 15), on topic
 * `streamwave.playback` (key: videoId), beside the heartbeats of `streamwave.views`. Every one
 * carries the session, the playhead (`positionSeconds`, seconds) and when the gateway accepted it
 * (`at`, ms since the Unix epoch). They change no aggregate state: the analytics read model turns
 * them into startup time, rebuffer ratio, renditions watched and errors.
 */
interface PlaybackFact {
  videoId: string;
  sessionId: string;
  positionSeconds: number;
  at: number;
}

/** Playback began: `startupTimeMs` from the play request to the first frame, ms; `renditionHeight` in pixels. */
export type PlaybackStarted = Event<'PlaybackStarted', PlaybackFact & { startupTimeMs: number; renditionHeight: number | null }>;
/** The player moved to another rendition of the ladder (`renditionHeight`, pixels). */
export type RenditionSwitched = Event<'RenditionSwitched', PlaybackFact & { renditionHeight: number }>;
/** Playback stalled waiting for data. */
export type RebufferStarted = Event<'RebufferStarted', PlaybackFact>;
/** Playback resumed after a stall of `rebufferMs` milliseconds. */
export type RebufferEnded = Event<'RebufferEnded', PlaybackFact & { rebufferMs: number }>;
/** The player hit an error (`errorCode`, chosen by the player, at most 64 characters). */
export type PlaybackFailed = Event<'PlaybackFailed', PlaybackFact & { errorCode: string }>;
/** Playback ended (the end of the video, or the viewer left). */
export type PlaybackEnded = Event<'PlaybackEnded', PlaybackFact>;

export type PlaybackEvent = PlaybackStarted | RenditionSwitched | RebufferStarted | RebufferEnded | PlaybackFailed | PlaybackEnded;
export type PlaybackEventType = PlaybackEvent['type'];

/** Every PlaybackEventType. */
export const PLAYBACK_EVENT_TYPES: readonly PlaybackEventType[] = ['PlaybackStarted', 'RenditionSwitched', 'RebufferStarted', 'RebufferEnded', 'PlaybackFailed', 'PlaybackEnded'];
