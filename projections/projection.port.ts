import type { ConsumerHandle, EventLog, RecordMetadata } from '../platform/log/event-log.port.ts';

/**
 * The uniform shape of every read-model projection (video-detail, analytics, search).
 *
 * A projection consumes its topics with `log.subscribe` (group `streamwave.projection.<name>`),
 * applies each batch atomically together with its checkpoint (next offset per
 * `topic:partition`) in its own store, and on (re)start seeks to that stored checkpoint through
 * `onAssigned`. The group's committed offset is therefore only a hint (for lag metrics); the
 * checkpoint in the store is the truth, so a redelivered record is a no-op and a crash at any point
 * neither skips nor double-applies an event.
 *
 * Lifecycle: `const p = await createXProjection(deps)` (opens the store) → `const h = await
 * p.start(log)` → serve `p.queries` → `await h.stop()` → `await p.close()` (flushes and closes the store;
 * also stops a running consumer).
 */
export interface Projection<Q> {
  /** Stable name, e.g. `video-detail`; consumer group `streamwave.projection.<name>`. */
  readonly name: string;
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Query port served from the read model; usable before `start` (serves the stored state). */
  readonly queries: Q;
  /** Subscribes to the log from the stored checkpoint. At most one running consumer per projection. */
  start(log: EventLog): Promise<ProjectionHandle>;
  /** Stops the consumer if running, flushes pending state and closes the store. Idempotent. */
  close(): Promise<void>;
}

/** A running projection consumer. */
export interface ProjectionHandle extends ConsumerHandle {
  /**
   * Read-your-writes: resolves true once every position has been applied to the read model (its
   * checkpoint for that topic:partition is > offset), false when `timeoutMs` elapses first or the
   * consumer stops. Never throws. Positions of topics this projection does not consume are ignored.
   */
  waitFor(positions: RecordMetadata[], timeoutMs: number): Promise<boolean>;
}

/** Consumer group id of a projection. */
export const projectionGroupId = (name: string): string => `streamwave.projection.${name}`;
