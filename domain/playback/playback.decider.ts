import { assertNever, DomainError } from '../shared/event.ts';
import type { Decider } from '../shared/decider.ts';
import { isNonBlank, isNonNegativeFinite } from '../shared/validation.ts';
import type { VideoEvent } from '../video/video.events.ts';
import { evolveVideo, initialVideoState, requireWatchableVideo, type VideoState } from '../video/video.decider.ts';
import type { PlaybackCommand, PlaybackReport } from './playback.commands.ts';
import { PLAYBACK_EVENT_TYPES, type PlaybackEvent } from './playback.events.ts';

/** Most reports one command carries (a player sends a few per request). */
export const MAX_PLAYBACK_REPORTS = 20;
/** Longest startup time or rebuffer accepted, ms (10 minutes: beyond it the number is a bug, not a stall). */
export const MAX_PLAYBACK_MS = 600_000;
/** Tallest rendition accepted, pixels (8K). */
export const MAX_RENDITION_HEIGHT = 4320;
/** An error code: 1-64 characters of letters, digits and `_.:-`. */
export const PLAYBACK_ERROR_CODE = /^[A-Za-z0-9_.:-]{1,64}$/;

const invalid = (message: string) => new DomainError('INVALID_PLAYBACK_EVENT', message, 'invalid');

const msIn = (x: unknown): x is number => isNonNegativeFinite(x) && x <= MAX_PLAYBACK_MS;
const heightIn = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0 && (x as number) <= MAX_RENDITION_HEIGHT;

/** One report as its event, validated (see decidePlayback). */
function eventOf(r: PlaybackReport, i: number, base: { videoId: string; sessionId: string; at: number }): PlaybackEvent {
  const where = `reports[${i}]`;
  if (r === null || typeof r !== 'object') throw invalid(`${where} must be an object`);
  if (!isNonNegativeFinite(r.positionSeconds)) throw invalid(`${where}.positionSeconds must be a finite number ≥ 0`);
  const fact = { ...base, positionSeconds: r.positionSeconds };
  switch (r.kind) {
    case 'start': {
      if (!msIn(r.startupTimeMs)) throw invalid(`${where}.startupTimeMs must be 0…${MAX_PLAYBACK_MS} ms`);
      const height = r.renditionHeight ?? null;
      if (height !== null && !heightIn(height)) throw invalid(`${where}.renditionHeight must be an integer 1…${MAX_RENDITION_HEIGHT}`);
      return { type: 'PlaybackStarted', data: { ...fact, startupTimeMs: r.startupTimeMs, renditionHeight: height } };
    }
    case 'rendition_switch':
      if (!heightIn(r.renditionHeight)) throw invalid(`${where}.renditionHeight must be an integer 1…${MAX_RENDITION_HEIGHT}`);
      return { type: 'RenditionSwitched', data: { ...fact, renditionHeight: r.renditionHeight } };
    case 'rebuffer_start':
      return { type: 'RebufferStarted', data: fact };
    case 'rebuffer_end':
      if (!msIn(r.rebufferMs)) throw invalid(`${where}.rebufferMs must be 0…${MAX_PLAYBACK_MS} ms`);
      return { type: 'RebufferEnded', data: { ...fact, rebufferMs: r.rebufferMs } };
    case 'error':
      if (typeof r.errorCode !== 'string' || !PLAYBACK_ERROR_CODE.test(r.errorCode)) throw invalid(`${where}.errorCode must be 1-64 characters of letters, digits and _.:-`);
      return { type: 'PlaybackFailed', data: { ...fact, errorCode: r.errorCode } };
    case 'end':
      return { type: 'PlaybackEnded', data: fact };
    default:
      throw invalid(`${where}.kind ${JSON.stringify((r as { kind?: unknown }).kind)} is not one of start, rendition_switch, rebuffer_start, rebuffer_end, error, end`);
  }
}

/**
 * Decides RecordPlaybackEvents against the video's state, as RecordView is (the video must exist,
 * be live and ready). Pure; every report is a new fact, in order, stamped with `metadata.now`.
 * @throws DomainError `VIDEO_NOT_FOUND` / `VIDEO_DELETED` (not_found); `VIDEO_NOT_PUBLISHED` (conflict);
 *   `INVALID_PLAYBACK_EVENT` (invalid): blank session, no reports or more than MAX_PLAYBACK_REPORTS,
 *   a report of an unknown kind or with a field out of range (the whole command is refused).
 */
function decidePlayback(command: PlaybackCommand, state: VideoState): PlaybackEvent[] {
  switch (command.type) {
    case 'RecordPlaybackEvents': {
      const d = command.data;
      requireWatchableVideo(state, d.videoId);
      if (!isNonBlank(d.sessionId)) throw invalid('sessionId is required');
      if (!Array.isArray(d.reports) || d.reports.length === 0 || d.reports.length > MAX_PLAYBACK_REPORTS) {
        throw invalid(`reports must hold 1…${MAX_PLAYBACK_REPORTS} reports`);
      }
      const base = { videoId: d.videoId, sessionId: d.sessionId, at: command.metadata.now };
      return d.reports.map((r, i) => eventOf(r, i, base));
    }
    default:
      return assertNever(command.type);
  }
}

const PLAYBACK_TYPES: ReadonlySet<string> = new Set(PLAYBACK_EVENT_TYPES);

/** Playback events do not change the video: only video events evolve the state. */
function evolvePlayback(state: VideoState, event: VideoEvent | PlaybackEvent): VideoState {
  return PLAYBACK_TYPES.has(event.type) ? state : evolveVideo(state, event as VideoEvent);
}

/** Playback reports of a video as a decider (key: videoId, topic `streamwave.playback`). */
export const playbackDecider: Decider<VideoState, PlaybackCommand, PlaybackEvent, VideoEvent | PlaybackEvent> = {
  initialState: initialVideoState,
  decide: decidePlayback,
  evolve: evolvePlayback,
};
