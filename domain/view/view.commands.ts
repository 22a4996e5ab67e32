import type { CommandMetadata } from '../shared/event.ts';

/** A player heartbeat: cumulative seconds watched in the session and the playhead, both seconds. Key: `data.videoId`. */
export type RecordView = {
  type: 'RecordView';
  data: { videoId: string; sessionId: string; viewerId?: string | null; watchedSeconds: number; positionSeconds: number };
  metadata: CommandMetadata;
};

export type ViewCommand = RecordView;
