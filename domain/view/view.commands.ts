import type { CommandMetadata } from '../shared/event.ts';

/**
 * A player heartbeat: cumulative seconds watched in the session and the playhead, both seconds.
 * `sessionStartedAt`: when the server issued the (verified) playback session, ms since the epoch
 * (issue 8); omitted/null only by callers predating signed sessions. Key: `data.videoId`.
 */
export type RecordView = {
  type: 'RecordView';
  data: { videoId: string; sessionId: string; sessionStartedAt?: number | null; viewerId?: string | null; watchedSeconds: number; positionSeconds: number };
  metadata: CommandMetadata;
};

export type ViewCommand = RecordView;
