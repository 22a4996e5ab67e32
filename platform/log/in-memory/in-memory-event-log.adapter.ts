import type {
  ConsumerHandle, EventLog, LogRecord, OffsetMap, ProduceRecord, RecordMetadata, Subscription, TopicDescription, TopicSpec,
} from '../event-log.port.ts';
import { tpKey } from '../event-log.port.ts';
import { partitionForKey } from '../partitioner.ts';

/**
 * In-memory EventLog: a test driver (like Kafka Streams' TopologyTestDriver) with the port's
 * semantics and no durability. Not for production; use the embedded log or Kafka.
 */
export function createInMemoryEventLog(): EventLog & { records(topic: string): LogRecord[] } {
  const topics = new Map<string, { spec: TopicDescription; parts: LogRecord[][] }>();
  const committed = new Map<string, OffsetMap>();
  const waiters = new Set<() => void>();
  let rr = 0;
  const wake = () => { for (const w of [...waiters]) w(); };
  const topic = (name: string) => {
    const t = topics.get(name);
    if (!t) throw new Error(`unknown topic ${name}`);
    return t;
  };
  const log: EventLog & { records(topic: string): LogRecord[] } = {
    records: (name) => topic(name).parts.flat(),
    async createTopic(spec: TopicSpec) {
      if (topics.has(spec.name)) return;
      topics.set(spec.name, {
        spec: { name: spec.name, partitions: spec.partitions, compacted: !!spec.compacted },
        parts: Array.from({ length: spec.partitions }, () => []),
      });
    },
    async listTopics() { return [...topics.values()].map((t) => t.spec); },
    async append(name: string, records: ProduceRecord[]) {
      const t = topic(name);
      const out: RecordMetadata[] = [];
      for (const r of records) {
        const partition = r.partition ?? partitionForKey(name, r.key, t.spec.partitions, rr++);
        const p = t.parts[partition];
        const rec: LogRecord = {
          topic: name, partition, offset: p.length, key: r.key, value: r.value,
          headers: r.headers ?? {}, timestamp: r.timestamp ?? Date.now(),
        };
        p.push(rec);
        out.push({ topic: name, partition, offset: rec.offset });
      }
      wake();
      return out;
    },
    async read(name, partition, fromOffset, maxRecords) {
      return topic(name).parts[partition].slice(fromOffset, fromOffset + maxRecords);
    },
    async endOffsets(name) { return topic(name).parts.map((p) => p.length); },
    async beginningOffsets(name) { return topic(name).parts.map(() => 0); },
    async offsetsForTimestamp(name, ts) {
      return topic(name).parts.map((p) => { const i = p.findIndex((r) => r.timestamp >= ts); return i < 0 ? p.length : i; });
    },
    async committedOffsets(groupId) { return new Map(committed.get(groupId) ?? []); },
    async commitOffsets(groupId, offsets) {
      const m = committed.get(groupId) ?? new Map();
      for (const [k, v] of offsets) m.set(k, v);
      committed.set(groupId, m);
    },
    async listGroups() { return [...committed.keys()].sort(); },
    async subscribe(sub: Subscription): Promise<ConsumerHandle> {
      const assigned = sub.topics.flatMap((t) => topic(t).parts.map((_, partition) => ({ topic: t, partition })));
      const seek = (await sub.onAssigned?.(assigned)) ?? new Map();
      const group = committed.get(sub.groupId) ?? new Map();
      const pos = new Map<string, number>();
      for (const tp of assigned) {
        const k = tpKey(tp.topic, tp.partition);
        pos.set(k, seek.get(k) ?? group.get(k) ?? (sub.fromBeginning === false ? topic(tp.topic).parts[tp.partition].length : 0));
      }
      let stopped = false;
      const idleWaiters: (() => void)[] = [];
      const loop = async () => {
        while (!stopped) {
          let progressed = false;
          for (const tp of assigned) {
            const k = tpKey(tp.topic, tp.partition);
            const recs = topic(tp.topic).parts[tp.partition].slice(pos.get(k)!, pos.get(k)! + (sub.maxBatchSize ?? 500));
            if (!recs.length) continue;
            try {
              await sub.eachBatch({ topic: tp.topic, partition: tp.partition, records: recs });
              const next = recs[recs.length - 1].offset + 1;
              pos.set(k, next);
              await log.commitOffsets(sub.groupId, new Map([[k, next]]));
              progressed = true;
            } catch {
              await new Promise((r) => setTimeout(r, 10));
            }
          }
          if (!progressed) {
            idleWaiters.splice(0).forEach((w) => w());
            await new Promise<void>((r) => { const w = () => { waiters.delete(w); r(); }; waiters.add(w); setTimeout(w, 50); });
          }
        }
      };
      const running = loop();
      return {
        async caughtUp() {
          for (;;) {
            const behind = assigned.some((tp) => pos.get(tpKey(tp.topic, tp.partition))! < topic(tp.topic).parts[tp.partition].length);
            if (!behind) return;
            await new Promise<void>((r) => idleWaiters.push(r));
          }
        },
        async lag() {
          return new Map(assigned.map((tp) => {
            const k = tpKey(tp.topic, tp.partition);
            return [k, topic(tp.topic).parts[tp.partition].length - pos.get(k)!];
          }));
        },
        async stop() { stopped = true; wake(); await running; },
      };
    },
    async close() {},
  };
  return log;
}
