/**
 * Query port of the live-events feed (issue 14; seed 000 issue 6, push instead of polling): what
 * happened to a video since a client's last position, for `GET /api/v1/videos/{id}/events`
 * (Server-Sent Events). A signal names what changed and where it is on the log; it carries no
 * content (no comment body, no user data), so the gateway builds every message from the read
 * models at send time and an erased, deleted or hidden thing is never sent from a buffer.
 */

/** What changed: the processing status or metadata, a new comment, a deleted comment, the view count, the like count. */
export type LiveSignalKind = 'status' | 'comment' | 'comment_deleted' | 'views' | 'likes';

/** One change of one video, at one log position. */
export interface LiveSignal {
  videoId: string;
  kind: LiveSignalKind;
  /** Log position of the event: topic, partition, offset. */
  topic: string;
  partition: number;
  offset: number;
  /**
   * Server-Sent Events `id` of the message this signal becomes: the video's position on each input
   * topic up to and including this event (`LastEventId` → {@link LiveEvents.since}). Opaque to clients.
   */
  id: string;
  /** For `comment`: the comment id and its `postedAt` (ms since the epoch), to read it from the comments read model; for `comment_deleted`, the comment id. */
  commentId?: string;
  postedAt?: number;
}

/** Why a stream cannot be resumed from a `Last-Event-ID`; the client re-reads the state over REST. */
export type ResumeGap = 'POSITION_UNKNOWN' | 'POSITION_NOT_RETAINED';

/** The feed's queries. Signals of one video arrive in log order per topic. */
export interface LiveEvents {
  /**
   * Calls `listener` with every new signal of `videoId` until the returned function is called.
   * The listener must not throw.
   */
  subscribe(videoId: string, listener: (signal: LiveSignal) => void): () => void;
  /**
   * The retained signals of `videoId` a client at `lastEventId` (a signal `id`) has not seen, in
   * arrival order, status, view and like signals reduced to the latest of each (their messages
   * carry the current state), comments up to the last 100 per video; or a gap when this feed
   * cannot tell (an id it cannot parse, a position from before this feed started, comments it no
   * longer retains). A client given a gap re-reads the video over REST.
   */
  since(videoId: string, lastEventId: string): LiveSignal[] | { gap: ResumeGap };
  /** The `id` of the video's current position (empty when this feed saw nothing of it). */
  positionOf(videoId: string): string;
  /** The log positions of the video's last event on each input topic (for read-your-writes before a first read). */
  lastEventsOf(videoId: string): { topic: string; partition: number; offset: number }[];
}
