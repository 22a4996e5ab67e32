import { Type } from '@fastify/type-provider-typebox';
import { withErrors } from '../../errors.ts';
import { BEARER, NullableString, VideoDetailJson, VideoIdParams, VideoStatusJson, VisibilityJson } from '../shared.ts';
import { Description, Tags, Title } from '../uploads/uploads.schemas.ts';

export const getVideoSchema = {
  summary: 'Video detail',
  tags: ['videos'],
  params: VideoIdParams,
  response: withErrors({ 200: VideoDetailJson }),
};

export const patchVideoSchema = {
  summary: "Edit a video's title, description, tags or visibility (owner only)",
  tags: ['videos'],
  security: BEARER,
  params: VideoIdParams,
  body: Type.Object(
    { title: Type.Optional(Title), description: Type.Optional(Description), tags: Type.Optional(Tags), visibility: Type.Optional(VisibilityJson) },
    { additionalProperties: false, minProperties: 1 },
  ),
  response: withErrors({ 200: VideoDetailJson }),
};

export const deleteVideoSchema = {
  summary: 'Delete a video (owner only)',
  tags: ['videos'],
  security: BEARER,
  params: VideoIdParams,
  response: withErrors({ 204: Type.Null() }),
};

export const videoStatusSchema = {
  summary: 'Processing status of a video',
  tags: ['videos'],
  params: VideoIdParams,
  response: withErrors({
    200: Type.Object({
      status: VideoStatusJson,
      progress: Type.Number({ description: '0–100' }),
      renditions: Type.Array(
        Type.Object({
          name: Type.String(),
          width: Type.Integer(),
          height: Type.Integer(),
          bandwidth: Type.Integer({ description: 'Peak bandwidth, bits/s.' }),
        }),
      ),
      error: NullableString,
      error_code: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Stable failure code (e.g. RESOLUTION_TOO_HIGH) when failed; `error` is its fixed sentence.' })),
    }),
  }),
};

export const streamSchema = {
  summary: 'HLS master playlist URL of a playable video',
  tags: ['videos'],
  params: VideoIdParams,
  response: withErrors({ 200: Type.Object({ manifest_url: Type.String() }) }),
};
