import { IdempotencyHeaders } from '../../idempotency.ts';
import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';
import { BEARER } from '../shared.ts';

const Username = Type.String({ minLength: 3, maxLength: 32, pattern: '^[a-zA-Z0-9_.-]+$' });
const Password = Type.String({ minLength: 8, maxLength: 128 });

export const registerUserSchema = {
  summary: 'Register a user account',
  tags: ['users'],
  headers: IdempotencyHeaders,
  body: Type.Object(
    {
      username: Username,
      email: Type.String({ format: 'email', maxLength: 254 }),
      password: Password,
    },
    { additionalProperties: false },
  ),
  response: withErrors({ 201: Type.Object({ id: Type.String() }) }),
};

export const watchHistorySchema = {
  summary: "The caller's watch history, most recent first",
  tags: ['users'],
  security: BEARER,
  response: withErrors({
    200: Type.Object({
      history: Type.Array(
        Type.Object({
          video_id: Type.String(),
          watched_at: Type.String({ format: 'date-time' }),
          position_seconds: Type.Number(),
        }),
      ),
    }),
  }),
};

export const eraseMeSchema = {
  summary: 'Erase my account (GDPR art. 17)',
  description: [
    'Re-authenticate with the password. On 204 the account is erased: its tokens stop working at once,',
    'the user\'s data key is deleted (every personal field written for them on the log reads as `[erased]`),',
    'their videos are deleted with their media, their comments become `[deleted]` placeholders, and their',
    'watch history is gone. A wrong password is 401 INVALID_CREDENTIALS (counted like failed logins).',
  ].join(' '),
  tags: ['users'],
  security: BEARER,
  body: Type.Object({ password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
  response: withErrors({ 204: Type.Null() }),
};

/** Version of the export document's shape (`format`); bumped only for changes a reader must know about. */
export const USER_EXPORT_FORMAT = 'streamwave.user-export/1';

/** The document of `GET /users/me/export` (GDPR art. 15 and 20). Documented for OpenAPI; streamed, not serialised by Fastify. */
export const UserExport = Type.Object({
  format: Type.Literal(USER_EXPORT_FORMAT),
  exported_at: Type.String({ format: 'date-time' }),
  account: Type.Object({ id: Type.String(), username: Type.String(), email: Type.String() }),
  videos: Type.Array(Type.Object({
    id: Type.String(), title: Type.String(), description: Type.String(), tags: Type.Array(Type.String()),
    visibility: Type.String(), status: Type.String(), filename: Type.String(), size_bytes: Type.Integer(),
    duration_seconds: Type.Union([Type.Number(), Type.Null()]), views: Type.Integer(), comment_count: Type.Integer(),
    created_at: Type.String({ format: 'date-time' }), published_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  })),
  comments: Type.Array(Type.Object({
    id: Type.String(), video_id: Type.String(), parent_id: Type.Union([Type.String(), Type.Null()]), body: Type.String(),
    posted_at: Type.String({ format: 'date-time' }),
  })),
  watch_history: Type.Array(Type.Object({ video_id: Type.String(), watched_at: Type.String({ format: 'date-time' }), position_seconds: Type.Number() })),
  likes: Type.Array(Type.Object({ video_id: Type.String(), liked_at: Type.String({ format: 'date-time' }) }), { description: 'Videos the user likes (issue 14).' }),
  subscriptions: Type.Array(Type.Object({ channel_id: Type.String(), subscribed_at: Type.String({ format: 'date-time' }) }), { description: 'Channels the user subscribes to (issue 14).' }),
  views: Type.Object({
    videos_watched: Type.Integer({ description: 'Distinct videos in the watch history.' }),
    last_watched_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  }),
});

export const exportMeSchema = {
  summary: 'Everything the platform holds about me (GDPR art. 15 and 20)',
  description: `A JSON document of shape \`${USER_EXPORT_FORMAT}\` (account, videos with metadata, comments, watch history, views), streamed as an attachment.`,
  tags: ['users'],
  security: BEARER,
  response: withErrors({ 200: UserExport }),
};
