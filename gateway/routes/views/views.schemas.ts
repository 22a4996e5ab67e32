import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';
import { BEARER, VideoIdParams } from '../shared.ts';
import { MAX_PLAYBACK_MS, MAX_PLAYBACK_REPORTS, MAX_RENDITION_HEIGHT } from '../../../domain/playback/playback.decider.ts';
import { PLAYBACK_REPORT_KINDS } from '../../../domain/playback/playback.commands.ts';

const SessionId = Type.String({ minLength: 1, maxLength: 128, description: 'Playback session from GET /videos/{id}/stream (signed, bound to this video, expires).' });

export const recordViewSchema = {
  summary: 'Player heartbeat for a playback session issued by GET /videos/{id}/stream',
  description: 'Anonymous or authenticated (the token, if any, identifies the viewer). Answered once the heartbeat is on the log; analytics catch up asynchronously.',
  tags: ['views'],
  security: [...BEARER, {}],
  params: VideoIdParams,
  body: Type.Object(
    {
      session_id: SessionId,
      watched_seconds: Type.Number({ minimum: 0, maximum: 1e7, description: 'Cumulative seconds watched in this session.' }),
      position_seconds: Type.Number({ minimum: 0, maximum: 1e7, description: 'Current playhead, seconds.' }),
    },
    { additionalProperties: false },
  ),
  response: withErrors({ 202: Type.Object({ accepted: Type.Boolean() }) }),
};

/** `POST /videos/{id}/playback-events` (issue 15): 1–MAX_PLAYBACK_REPORTS reports of one session; field ranges as the playback decider checks them. */
export const recordPlaybackEventsSchema = {
  summary: 'Quality-of-experience events of a playback session (start, rendition switches, rebuffers, errors, end)',
  description: 'Sent by the player beside its heartbeats, a few at a time, in the order they happened; rate-limited like heartbeats. '
    + 'Answered once the events are on the log (topic streamwave.playback); the creator analytics (startup time, rebuffer ratio, renditions watched, errors) catch up asynchronously. '
    + 'A report with a field out of range refuses the whole request (400 INVALID_PLAYBACK_EVENT); nothing is written.',
  tags: ['views'],
  security: [...BEARER, {}],
  params: VideoIdParams,
  body: Type.Object({
    session_id: SessionId,
    events: Type.Array(Type.Object({
      type: Type.Unsafe<(typeof PLAYBACK_REPORT_KINDS)[number]>({ type: 'string', enum: [...PLAYBACK_REPORT_KINDS] }),
      position_seconds: Type.Number({ minimum: 0, maximum: 1e7, description: 'Playhead when it happened, seconds.' }),
      startup_time_ms: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_PLAYBACK_MS, description: '`start` (required there): ms from the play request to the first frame.' })),
      rendition_height: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_RENDITION_HEIGHT, description: '`start` (optional), `rendition_switch` (required): the rendition\'s height, pixels.' })),
      rebuffer_ms: Type.Optional(Type.Number({ minimum: 0, maximum: MAX_PLAYBACK_MS, description: '`rebuffer_end` (required): how long playback stalled, ms.' })),
      error_code: Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_.:-]+$', description: '`error` (required): a short code the player chose.' })),
    }, { additionalProperties: false }), { minItems: 1, maxItems: MAX_PLAYBACK_REPORTS }),
  }, { additionalProperties: false }),
  response: withErrors({ 202: Type.Object({ accepted: Type.Integer({ description: 'Events written.' }) }) }),
};
