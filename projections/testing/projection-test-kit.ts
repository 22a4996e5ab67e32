/**
 * Helpers shared by the projection tests (not used in production code): a scripted in-memory
 * log, and a log wrapper that delivers every batch twice (at-least-once redelivery).
 */
import type { DomainEvent } from '../../domain/events.ts';
import { keyOf } from '../../domain/events.ts';
import { ensureEventTopics, TOPIC_OF } from '../../schemas/topics.ts';
import type { EventLog, RecordMetadata } from '../../platform/log/event-log.port.ts';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';

export async function createScriptedLog(partitions = 2) {
  const log = createInMemoryEventLog();
  await ensureEventTopics(log, { partitions });
  return log;
}

/** Appends events (each to its topic, keyed by aggregate id) in order; returns their positions. */
export async function appendEvents(log: EventLog, codec: EventCodec, events: DomainEvent[]): Promise<RecordMetadata[]> {
  const out: RecordMetadata[] = [];
  for (const e of events) {
    const topic = TOPIC_OF[e.type];
    out.push(...(await log.append(topic, [{ key: keyOf(e), value: await codec.encode(topic, e) }])));
  }
  return out;
}

/** Wraps a log so that every batch is delivered twice to `eachBatch` (a redelivery after a lost commit). */
export function duplicatingLog(log: EventLog): EventLog {
  return {
    ...log,
    subscribe: (sub) => log.subscribe({ ...sub, eachBatch: async (b) => { await sub.eachBatch(b); await sub.eachBatch(b); } }),
  };
}

/** Bounded wait for a promise (tests must not hang). */
export async function within<T>(p: Promise<T>, ms = 5_000, what = 'operation'): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error(`${what} did not finish within ${ms} ms`)), ms); })]);
  } finally {
    clearTimeout(t);
  }
}
