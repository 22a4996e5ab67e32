/**
 * Topology test driver (Kafka Streams' TopologyTestDriver, emmett's in-memory habit): runs
 * projection and processor nodes over an in-memory log with no I/O of its own, no consumer loop
 * and no backoff waits (a failing processor record is retried at once, then dead-lettered). Records are delivered only when the test calls `process()`, in offset order per
 * partition, in batches of the node's size, through the same step functions the runtime uses — so
 * a node behaves here as it does on the embedded log or Kafka, deterministically.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import type { DomainEvent } from '../../../domain/events.ts';
import { keyOf } from '../../../domain/events.ts';
import type { LogRecord, ProduceRecord, RecordMetadata, TopicPartition } from '../../../platform/log/event-log.port.ts';
import { createInMemoryEventLog } from '../../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import type { EventCodec } from '../../../schemas/event-codec.port.ts';
import { ensureEventTopics, TOPIC_OF } from '../../../schemas/topics.ts';
import { createAppliedTracker, createProjectionStep } from '../projection.runtime.ts';
import { createProcessorStep, DEFAULT_RETRY, metricsOn } from '../processor.runtime.ts';
import type { ProcessorNode, ProjectionNode, TopologyNode } from '../topology.port.ts';

export interface TopologyTestDriverOptions {
  nodes: TopologyNode[];
  codec: EventCodec;
  /** Partitions of each event topic. Default 2. */
  partitions?: number;
  /** Deliver every batch twice, as after a lost offset commit (at-least-once delivery). Default false. */
  redeliver?: boolean;
  logger?: pino.Logger;
}

export interface TopologyTestDriver {
  /** The in-memory log the nodes read (and processors write through their own clients). */
  readonly log: ReturnType<typeof createInMemoryEventLog>;
  /** Appends events to their topics, keyed by aggregate id, encoded with the codec. */
  pipe(events: DomainEvent[]): Promise<RecordMetadata[]>;
  /** Appends raw records to a topic (e.g. bytes no codec can decode). */
  pipeRaw(topic: string, records: ProduceRecord[]): Promise<RecordMetadata[]>;
  /**
   * Delivers every record not yet delivered to every node, repeating until no node has anything
   * left (records appended by processors meanwhile included).
   */
  process(): Promise<void>;
  /** Adds a node; it starts from its stored checkpoint on the next `process()`. */
  add(node: TopologyNode): Promise<void>;
  /** Closes every node (their stores). */
  close(): Promise<void>;
}

interface Attached {
  node: TopologyNode;
  /** Next offset to deliver per `topic:partition`. */
  position: Map<string, number>;
  deliver(topic: string, partition: number, records: LogRecord[]): Promise<unknown>;
}

/** Creates the driver with the event topics created on its in-memory log. */
export async function createTopologyTestDriver(opts: TopologyTestDriverOptions): Promise<TopologyTestDriver> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const log = createInMemoryEventLog();
  await ensureEventTopics(log, { partitions: opts.partitions ?? 2 });
  const attached: Attached[] = [];

  const attach = (node: TopologyNode): Promise<Attached> => (node.kind === 'processor' ? attachProcessor(node) : attachProjection(node));

  /** Every partition of `topics`: a node here is assigned all of them. */
  const partitionsOf = async (topics: readonly string[]): Promise<TopicPartition[]> => {
    const partitions: TopicPartition[] = [];
    for (const topic of topics) {
      const n = (await log.endOffsets(topic)).length;
      for (let partition = 0; partition < n; partition++) partitions.push({ topic, partition });
    }
    return partitions;
  };

  /** Processors start at the beginning (or where `onAssigned` seeks) and retry without waiting. */
  const attachProcessor = async (node: ProcessorNode): Promise<Attached> => {
    const position = new Map((await node.onAssigned?.(await partitionsOf(node.inputs))) ?? []);
    const step = createProcessorStep(node, {
      log, logger, metrics: metricsOn(new Registry()), signal: new AbortController().signal,
      retry: { ...(node.retry ?? DEFAULT_RETRY), minTimeoutMs: 0, maxTimeoutMs: 0 },
    });
    return { node, position, async deliver(_topic, _partition, records) { for (const r of records) await step(r); } };
  };

  const attachProjection = async (node: ProjectionNode): Promise<Attached> => {
    await node.ready?.();
    const tracker = createAppliedTracker(node.inputs);
    await node.onAssigned?.(await partitionsOf(node.inputs)); // as the runtime does on assignment
    const checkpoint = await node.loadCheckpoint();
    tracker.advance(checkpoint);
    const step = createProjectionStep(node, opts.codec, tracker, logger);
    return { node, position: new Map(checkpoint), deliver: step };
  };

  for (const node of opts.nodes) attached.push(await attach(node));

  const pending = async (a: Attached): Promise<boolean> => {
    let delivered = false;
    for (const topic of a.node.inputs) {
      const ends = await log.endOffsets(topic);
      for (let partition = 0; partition < ends.length; partition++) {
        const k = `${topic}:${partition}`;
        let from = a.position.get(k) ?? 0;
        while (from < ends[partition]) {
          const batch = await log.read(topic, partition, from, (a.node.kind === 'projection' && a.node.maxBatchSize) || 500);
          if (!batch.length) break;
          await a.deliver(topic, partition, batch);
          if (opts.redeliver) await a.deliver(topic, partition, batch);
          from = batch[batch.length - 1].offset + 1;
          a.position.set(k, from);
          delivered = true;
        }
      }
    }
    return delivered;
  };

  return {
    log,
    async pipe(events) {
      const out: RecordMetadata[] = [];
      for (const e of events) {
        const topic = TOPIC_OF[e.type];
        out.push(...(await log.append(topic, [{ key: keyOf(e), value: await opts.codec.encode(topic, e) }])));
      }
      return out;
    },
    pipeRaw: (topic, records) => log.append(topic, records),
    async process() {
      for (let round = 0; ; round++) {
        let any = false;
        for (const a of attached) any = (await pending(a)) || any;
        if (!any) return;
        if (round > 10_000) throw new Error('topology test driver: nodes keep producing records (a loop between processors?)');
      }
    },
    async add(node) {
      attached.push(await attach(node));
    },
    async close() {
      for (const a of attached.splice(0)) await a.node.close?.();
    },
  };
}
