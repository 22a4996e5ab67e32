/**
 * The live-events feed (issue 14; seed 000 issue 6): a projection node whose state is the last
 * few signals per video, kept in memory by each gateway for the Server-Sent Events it serves.
 *
 * Each gateway runs its own instance in a consumer group of its own (`streamwave.live.<instance>`),
 * starting at the log's end when it starts (`startAt`), so every gateway sees every video's events
 * whichever gateway a client is connected to. Nothing is stored: a restarted gateway starts
 * again from the end, and a client whose `Last-Event-ID` is older than that is told to re-read
 * (a `ResumeGap`).
 *
 * Signal ids are log positions, the same on every gateway: `<topic index>:<partition>:<next
 * offset>` for each input topic the video has events on, joined by `.` (e.g. `0:3:118.2:3:4051`),
 * so a client can resume on another gateway. The retained window per video: the latest status,
 * views and likes signal (their messages carry the current state) and the last
 * {@link COMMENTS_RETAINED} comments posted or deleted; {@link VIDEOS_RETAINED} videos, least recently changed dropped
 * first.
 */
import type { DomainEvent } from '../../domain/events.ts';
import type { OffsetMap } from '../../platform/log/event-log.port.ts';
import { parseTpKey, tpKey } from '../../platform/log/event-log.port.ts';
import type { ProjectionBatch, ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { LiveEvents, LiveSignal, LiveSignalKind, ResumeGap } from './live-events.port.ts';

export const LIVE_EVENTS = 'live-events';
/** Input topics, in the order their index appears in signal ids (append only: ids outlive releases). */
export const LIVE_EVENTS_INPUTS = [TOPICS.videos, TOPICS.comments, TOPICS.views, TOPICS.likes] as const;
/** Comments retained per video for resumption. */
export const COMMENTS_RETAINED = 100;
/**
 * How long the feed's fetches let records gather, ms (the node's `fetchMaxWaitMs`; a fetch also
 * returns once 1 MiB is there, which live traffic does not reach). Every gateway reads every
 * heartbeat on the views topic for its feed, and fetching records as they come makes many small
 * fetches: at 1,000 events/s over two gateways (`bench:freshness -- --target cluster --videos 12`,
 * 2 cores, 2026-12-05, three runs each, alternating) the two gateways used 0.41–0.42 of a core
 * with 100 ms against 0.47–0.48 without. A signal reaches the streams up to a tenth of a second
 * later (a comment, a progress update); an idle gateway's feed now asks the log ten times a second
 * (before: as often as the log adapter's own idle wait allows).
 */
export const LIVE_EVENTS_FETCH_WAIT_MS = 100;
/** Videos whose signals are retained. */
export const VIDEOS_RETAINED = 10_000;

/** Consumer group of one gateway's feed: its own, so that each gateway sees every event. */
export const liveEventsGroupId = (instance: string): string => `streamwave.live.${instance}`;

export interface LiveEventsDeps {
  /**
   * Where the feed starts, next offset per `topic:partition` (the log's end offsets when the
   * gateway starts); partitions not in it start at 0. Default: from the beginning (tests).
   */
  startAt?: () => Promise<OffsetMap>;
  /** Videos retained (default VIDEOS_RETAINED). */
  videosRetained?: number;
}

/** Kinds whose message is the current state: only the latest of each is retained. */
type StateKind = Exclude<LiveSignalKind, 'comment' | 'comment_deleted'>;

/** A video's place on one input topic: its partition there and the next offset past its last event. */
interface Place { partition: number; next: number }

interface VideoState {
  /** By topic index. */
  places: (Place | undefined)[];
  latest: Map<StateKind, LiveSignal>;
  comments: LiveSignal[];
  /** Next offset past the newest comment no longer retained (0: none dropped). */
  commentsDroppedBelow: number;
  listeners: Set<(s: LiveSignal) => void>;
}

const kindOf = (e: DomainEvent): LiveSignalKind | undefined => {
  switch (e.type) {
    case 'CommentPosted':
      return 'comment';
    case 'CommentDeleted':
      return 'comment_deleted';
    case 'VideoViewed':
      return 'views';
    case 'VideoLiked':
    case 'VideoUnliked':
      return 'likes';
    case 'UploadStarted':
    case 'UploadCompleted':
    case 'VideoProcessingStarted':
    case 'VideoProcessingProgressed':
    case 'RenditionEncoded':
    case 'VideoPublished':
    case 'VideoProcessingFailed':
    case 'VideoProcessingCompleted':
    case 'VideoMetadataUpdated':
    case 'VideoDeleted':
      return 'status';
    default:
      return undefined;
  }
};

const idOf = (places: readonly (Place | undefined)[]): string =>
  places.flatMap((p, i) => (p === undefined ? [] : [`${i}:${p.partition}:${p.next}`])).join('.');

/** Parses a signal id into places by topic index; undefined when it is not one. */
function parseId(id: string): (Place | undefined)[] | undefined {
  if (id.length === 0 || id.length > 200) return undefined;
  const places: (Place | undefined)[] = [];
  for (const part of id.split('.')) {
    const m = /^(\d{1,2}):(\d{1,6}):(\d{1,16})$/.exec(part);
    if (!m) return undefined;
    const i = Number(m[1]);
    if (i >= LIVE_EVENTS_INPUTS.length || places[i] !== undefined) return undefined;
    places[i] = { partition: Number(m[2]), next: Number(m[3]) };
  }
  return places;
}

/** The live-events node (see the file comment). Its queries are the {@link LiveEvents} port. */
export function createLiveEventsProjection(deps: LiveEventsDeps = {}): ProjectionNode<LiveEvents> {
  const topicIndex = new Map<string, number>(LIVE_EVENTS_INPUTS.map((t, i) => [t, i]));
  /** Insertion order = least recently changed first (a change re-inserts). */
  const videos = new Map<string, VideoState>();
  const startedAt: OffsetMap = new Map();
  const applied: OffsetMap = new Map();
  /** Per `topic:partition`: the highest position of a video no longer retained (what a client below it may have missed). */
  const evictedBelow: OffsetMap = new Map();
  let started: Promise<void> | undefined;

  const stateOf = (videoId: string): VideoState => {
    let s = videos.get(videoId);
    if (s === undefined) {
      s = { places: [], latest: new Map(), comments: [], commentsDroppedBelow: 0, listeners: new Set() };
    } else {
      videos.delete(videoId);
    }
    videos.set(videoId, s);
    if (videos.size > (deps.videosRetained ?? VIDEOS_RETAINED)) {
      // The least recently changed video without listeners goes (one with listeners is kept).
      for (const [id, v] of videos) {
        if (v.listeners.size > 0) continue;
        videos.delete(id);
        v.places.forEach((place, i) => {
          if (place === undefined) return;
          const k = tpKey(LIVE_EVENTS_INPUTS[i], place.partition);
          if (place.next > (evictedBelow.get(k) ?? 0)) evictedBelow.set(k, place.next);
        });
        break;
      }
    }
    return s;
  };

  const queries: LiveEvents = {
    subscribe(videoId, listener) {
      const s = videos.get(videoId) ?? stateOf(videoId);
      s.listeners.add(listener);
      return () => s.listeners.delete(listener);
    },
    since(videoId, lastEventId) {
      const client = parseId(lastEventId);
      if (client === undefined) return { gap: 'POSITION_UNKNOWN' as ResumeGap };
      // A position from before this feed started: what happened in between is not known here.
      // Or one below a video this feed no longer retains (it may have been this one).
      for (const [i, place] of client.entries()) {
        if (place === undefined) continue;
        const k = tpKey(LIVE_EVENTS_INPUTS[i], place.partition);
        if ((startedAt.get(k) ?? 0) > place.next || (evictedBelow.get(k) ?? 0) > place.next) return { gap: 'POSITION_NOT_RETAINED' as ResumeGap };
      }
      const s = videos.get(videoId);
      if (s === undefined) return [];
      const unseen = (sig: LiveSignal) => sig.offset >= (client[topicIndex.get(sig.topic)!]?.next ?? 0);
      const comments = client[topicIndex.get(TOPICS.comments)!];
      if (s.commentsDroppedBelow > (comments?.next ?? 0)) return { gap: 'POSITION_NOT_RETAINED' as ResumeGap };
      return [...s.latest.values(), ...s.comments].filter(unseen).sort((a, b) => seq(a) - seq(b));
    },
    positionOf(videoId) {
      const s = videos.get(videoId);
      return s === undefined ? '' : idOf(s.places);
    },
    lastEventsOf(videoId) {
      const s = videos.get(videoId);
      if (s === undefined) return [];
      return s.places.flatMap((p, i) => (p === undefined ? [] : [{ topic: LIVE_EVENTS_INPUTS[i], partition: p.partition, offset: p.next - 1 }]));
    },
  };
  // Arrival order of signals (ids are per-topic vectors, not totally ordered).
  const arrival = new WeakMap<LiveSignal, number>();
  let arrived = 0;
  const seq = (s: LiveSignal) => arrival.get(s) ?? 0;

  function apply(batch: ProjectionBatch): void {
    const i = topicIndex.get(batch.topic);
    if (i === undefined) return;
    for (const { record, event } of batch.records) {
      const kind = event && kindOf(event);
      if (!event || !kind) continue;
      const videoId = (event.data as { videoId: string }).videoId;
      const s = stateOf(videoId);
      s.places[i] = { partition: record.partition, next: record.offset + 1 };
      const signal: LiveSignal = { videoId, kind, topic: record.topic, partition: record.partition, offset: record.offset, id: idOf(s.places) };
      if (event.type === 'CommentPosted' || event.type === 'CommentDeleted') {
        signal.commentId = event.data.commentId;
        if (event.type === 'CommentPosted') signal.postedAt = event.data.postedAt;
        s.comments.push(signal);
        if (s.comments.length > COMMENTS_RETAINED) s.commentsDroppedBelow = s.comments.shift()!.offset + 1;
      } else {
        s.latest.set(kind as StateKind, signal);
      }
      arrival.set(signal, ++arrived);
      for (const listener of s.listeners) listener(signal);
    }
  }

  return {
    kind: 'projection',
    name: LIVE_EVENTS,
    inputs: LIVE_EVENTS_INPUTS,
    guarantee: 'effectively-once',
    output: 'memory (per gateway; not stored)',
    fetchMaxWaitMs: LIVE_EVENTS_FETCH_WAIT_MS,
    queries,
    async loadCheckpoint() {
      // The start is taken once; a later assignment (a rebalance) resumes from what was applied.
      started ??= (async () => {
        const start = (await deps.startAt?.()) ?? new Map<string, number>();
        for (const [k, v] of start) if (topicIndex.has(parseTpKey(k).topic)) startedAt.set(k, v);
      })();
      await started;
      const cp = new Map(startedAt);
      for (const [k, v] of applied) if (v > (cp.get(k) ?? 0)) cp.set(k, v);
      return cp;
    },
    async apply(batch) {
      apply(batch);
      for (const [k, v] of batch.checkpoint) applied.set(k, v);
    },
    async close() {
      for (const s of videos.values()) s.listeners.clear();
      videos.clear();
    },
  };
}
