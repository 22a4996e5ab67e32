/**
 * View counts fed into a search index in batches (issue 14: "view counts fed into the index in
 * batches"; seed 000 issue 5, indexing under load). A heartbeat only notes its video; at most once
 * per `intervalMs` the feed reads the counts of every noted video from video detail (the one
 * counter of views, ViewCountSource) in chunks of 100 and hands them to the engine's `write`, which sets
 * them (a set, not an increment: redelivered heartbeats and repeated feeds change nothing).
 *
 * Video detail consumes the views topic on its own, so it may not have counted a heartbeat yet
 * when the feed reads: each noted video is read again on the next run, and once more `lateMs`
 * later (default 30 s: video detail behind by a backlog), so a count settles at most that long
 * after video detail counted it. Counts are not part of the checkpoint: after a restart the engine
 * asks for a refresh of every video it holds (`refresh`).
 */
import type pino from 'pino';
import { debouncedTask } from '../stores/debounced-task.ts';
import type { ViewCountSource } from './search.port.ts';

/** Videos read from the source per call (the event loop is yielded between calls). */
const CHUNK = 100;

export interface ViewCountFeed {
  /** Notes that `videoId` was viewed (a VideoViewed on the views topic); the next run reads its count. */
  viewed(videoId: string): void;
  /** Reads the counts of `videoIds` on the next run (start-up: the counts of the videos an engine holds). */
  refresh(videoIds: Iterable<string>): void;
  /** Runs a pending feed now and waits for it (tests; close). */
  flush(): Promise<void>;
  /** Stops: nothing is read or written after it resolves (a closed or retired read model). */
  close(): Promise<void>;
}

/**
 * A feed from `source` into `write` (counts of the videos read; unknown videos left out), at most
 * one run per `intervalMs` (default 2,000 ms). A failed read or write is logged and its videos are
 * read again on the next run.
 */
export function createViewCountFeed(opts: {
  source: ViewCountSource;
  write: (counts: Map<string, number>) => Promise<void>;
  intervalMs?: number;
  /** When noted videos are read the last time, ms after their first read. Default 30,000. */
  lateMs?: number;
  logger: pino.Logger;
}): ViewCountFeed {
  /** Noted since the last run: read on the next one (first read). */
  let pending = new Set<string>();
  /** First read on the last run: read once more on the next (video detail may lag the views topic). */
  let again = new Set<string>();
  /** Read twice since the last late round: read a last time then (`lateDue`), and not again. */
  let late = new Set<string>();
  let lateDue = new Set<string>();
  /** Asked by `refresh`: read once. */
  let refreshing = new Set<string>();
  let closed = false;
  const lateRound = setInterval(() => {
    if (!late.size) return;
    for (const id of late) lateDue.add(id);
    late = new Set();
    task.request();
  }, opts.lateMs ?? 30_000);
  lateRound.unref();
  const task = debouncedTask(async () => {
    if (closed) return;
    const ids = [...new Set([...pending, ...again, ...lateDue, ...refreshing])];
    for (const id of again) late.add(id);
    again = pending;
    pending = new Set();
    lateDue = new Set();
    refreshing = new Set();
    for (let i = 0; i < ids.length; i += CHUNK) {
      if (closed) return;
      // Reads of an in-memory store resolve at once: without this a refresh of 100,000 videos
      // would hold the event loop (and the gateway sharing it in standalone) for seconds.
      if (i) await new Promise<void>((resolve) => setImmediate(resolve));
      const chunk = ids.slice(i, i + CHUNK);
      try {
        await opts.write(await opts.source(chunk));
      } catch (err) {
        for (const id of ids.slice(i)) refreshing.add(id);
        task.request(); // the next interval tries again
        throw err;
      }
    }
    if (pending.size || again.size || refreshing.size) task.request();
  }, opts.intervalMs ?? 2_000, opts.logger, 'search: view count feed');
  return {
    viewed(videoId) {
      if (closed) return;
      pending.add(videoId);
      task.request();
    },
    refresh(videoIds) {
      if (closed) return;
      for (const id of videoIds) refreshing.add(id);
      if (refreshing.size) task.request();
    },
    flush: () => task.flush(),
    async close() {
      closed = true;
      clearInterval(lateRound);
      await task.flush(); // a running feed finishes; a pending one returns at once
    },
  };
}
