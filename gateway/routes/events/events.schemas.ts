import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';
import { BEARER, VideoIdParams } from '../shared.ts';

export const eventsSchema = {
  summary: 'Live events of a video (Server-Sent Events): processing status, new comments, view and like counts',
  description:
    'Answers `text/event-stream`. Events: `status` (the body of GET /videos/{id}/status), `views` `{views}` (at most once a second), ' +
    '`likes` `{like_count}`, `comment` (an item of GET /videos/{id}/comments), `comment_deleted` `{id}`, `reset` `{reason}` (Last-Event-ID could not be resumed: ' +
    're-read the comments), `gone` (deleted or no longer visible; the stream ends). A new stream starts with `status`, `views` and `likes`. ' +
    'Each event id is a log position: reconnect with `Last-Event-ID` to resume, on any gateway. Same visibility as GET /videos/{id}. ' +
    'At most 10 open streams per client address (429 TOO_MANY_STREAMS); a keep-alive comment every 15 s.',
  tags: ['videos'],
  security: [...BEARER, {}],
  params: VideoIdParams,
  headers: Type.Object({
    'last-event-id': Type.Optional(Type.String({ maxLength: 200, description: 'The id of the last event received (resume after it).' })),
  }),
  response: withErrors({ 200: Type.String({ description: 'text/event-stream' }) }),
};
