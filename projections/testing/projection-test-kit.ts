/**
 * Helpers shared by the projection tests: read models on in-memory stores run by the topology
 * test driver, a scripted in-memory log for the runtime and replay tests, bounded waits.
 */
import type { DomainEvent } from '../../domain/events.ts';
import { keyOf } from '../../domain/events.ts';
import type { EventLog, RecordMetadata } from '../../platform/log/event-log.port.ts';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { createTopologyTestDriver, type TopologyTestDriver } from '../../processors/runtime/testing/topology-test-driver.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { ensureEventTopics, TOPIC_OF } from '../../schemas/topics.ts';
import { testCodec, type TestCodec } from '../../test/support/test-world.ts';
import type { ReadModelName, ReadModelQueries } from '../read-model.port.ts';
import { openReadModel, type ReadModelStores } from '../read-models.ts';
import { createInMemoryKeyValueStore } from '../stores/in-memory-key-value-store.adapter.ts';

export const TEST_SEARCH_SECRET = 'test-search-cursor-secret';

/** Stores for `openReadModel` kept in memory (analytics has no in-memory store: chDB tests open their own). */
export function inMemoryStores(): ReadModelStores {
  let snapshot: string | undefined;
  return {
    keyValue: async () => createInMemoryKeyValueStore(),
    analytics: () => Promise.reject(new Error('analytics needs a chDB store in tests')),
    searchSnapshots: () => ({ load: async () => snapshot, save: async (t) => { snapshot = t; } }),
  };
}

/**
 * Read model `name` on in-memory stores, driven by a topology test driver with the Avro codec
 * (`opts.codec: 'json'` for JSON): `pipe` events, `process()`, then query `node.queries`.
 */
export async function driveReadModel<K extends ReadModelName>(name: K, opts: { redeliver?: boolean; stores?: ReadModelStores; now?: () => number; codec?: TestCodec } = {}): Promise<{
  driver: TopologyTestDriver;
  /** The codec of the driver's records. */
  codec: EventCodec;
  node: ProjectionNode<ReadModelQueries[K]>;
  queries: ReadModelQueries[K];
  /** pipe + process. */
  apply(events: DomainEvent[]): Promise<RecordMetadata[]>;
}> {
  const node = await openReadModel(name, opts.stores ?? inMemoryStores(), { searchCursorSecret: TEST_SEARCH_SECRET, now: opts.now });
  const codec = await testCodec(opts.codec);
  const driver = await createTopologyTestDriver({ nodes: [node], codec, redeliver: opts.redeliver });
  return {
    driver,
    codec,
    node,
    queries: node.queries,
    async apply(events) {
      const positions = await driver.pipe(events);
      await driver.process();
      return positions;
    },
  };
}

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
