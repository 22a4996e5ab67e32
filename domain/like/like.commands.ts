import type { CommandMetadata } from '../shared/event.ts';

/** Like a published video as `userId`. Decided against the video's likes (key: `data.videoId`). */
export type LikeVideo = { type: 'LikeVideo'; data: { videoId: string; userId: string }; metadata: CommandMetadata };

/** Take back `userId`'s like of a video. Decided against the video's likes (key: `data.videoId`). */
export type UnlikeVideo = { type: 'UnlikeVideo'; data: { videoId: string; userId: string }; metadata: CommandMetadata };

export type LikeCommand = LikeVideo | UnlikeVideo;
