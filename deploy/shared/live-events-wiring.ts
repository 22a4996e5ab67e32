/**
 * Starts a gateway's live-events feed (projections/live-events, issue 14): the node run on the log
 * by the projection runtime, in a consumer group of this process's own
 * (`streamwave.live.<host>-<pid>-<random>`) so that every gateway sees every event, starting at the log's
 * end. Used by standalone mode and by cluster mode's `gateway` and `all` roles.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type pino from 'pino';
import type { Registry } from 'prom-client';
import type { EventLog, OffsetMap } from '../../platform/log/event-log.port.ts';
import { tpKey } from '../../platform/log/event-log.port.ts';
import { runProjection } from '../../processors/runtime/projection.runtime.ts';
import type { LiveEvents } from '../../projections/live-events/live-events.port.ts';
import { createLiveEventsProjection, LIVE_EVENTS_INPUTS, liveEventsGroupId } from '../../projections/live-events/live-events.projection.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';

/** The log's end offsets of `topics`, as `topic:partition` → next offset. */
async function endOffsetsOf(log: EventLog, topics: readonly string[]): Promise<OffsetMap> {
  const out: OffsetMap = new Map();
  for (const topic of topics) (await log.endOffsets(topic)).forEach((offset, partition) => out.set(tpKey(topic, partition), offset));
  return out;
}

/**
 * Runs the feed until the returned `stop` is called.
 * @throws whatever `log.subscribe` throws (EventLogError UNKNOWN_TOPIC when the topics are missing).
 */
export async function startLiveEvents(o: { log: EventLog; codec: EventCodec; logger: pino.Logger; registry: Registry }): Promise<{ live: LiveEvents; stop(): Promise<void> }> {
  const node = createLiveEventsProjection({ startAt: () => endOffsetsOf(o.log, LIVE_EVENTS_INPUTS) });
  const handle = await runProjection(node, {
    // The random part: two containers may share a hostname and both be pid 1.
    log: o.log, codec: o.codec, groupId: liveEventsGroupId(`${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`),
    logger: o.logger.child({ component: 'live-events' }), registry: o.registry,
  });
  return {
    live: node.queries,
    async stop() {
      await handle.stop();
      await node.close();
    },
  };
}
