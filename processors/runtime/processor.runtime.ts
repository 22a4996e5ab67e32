/**
 * Processor runtime: runs a processor node (topology.port.ts) on the EventLog port, in Kafka
 * Streams style (consumer group `streamwave.<name>`, per-partition order, commit after each batch).
 *
 * Guarantees:
 * - At-least-once: a record's offset is committed only after `handle` resolved (or the record was
 *   dead-lettered); a crash or `stop()` mid-batch redelivers the batch. Handlers must be
 *   idempotent (or store a checkpoint with their state and seek to it in `onAssigned`) to make
 *   the effect exactly-once.
 * - No stuck partition: a record whose handler keeps throwing is retried with exponential
 *   backoff (p-retry; default 5 retries, 200 ms → 5 s), then appended to the dead-letter topic
 *   (default `<source-topic>.<name>.dlq`, the naming of Kafka Connect's `errors.deadletterqueue`)
 *   with `x-dlq-*` headers, `onDeadLetter` is called, and the partition keeps flowing.
 *   If the dead-letter append itself fails, the batch is redelivered (nothing is dropped).
 * - Dead-letter + offset commit: on a log without the transactional capability (embedded /
 *   in-memory log) the DLQ append and the source offset commit are two steps — a crash between
 *   them redelivers the record and dead-letters it AGAIN (at-least-once DLQ: a duplicate DLQ
 *   record is possible). On a log with it (`supportsTransactions(log)`, the Kafka log; see
 *   `TransactionalEventLog` in platform/log/event-log.port.ts) the processor subscribes through
 *   `subscribeTransactional`, and the DLQ record and the source partition's next offset are
 *   committed in ONE transaction by that input partition's transactional producer: exactly-once
 *   DLQ for READ_COMMITTED readers — a crash before the commit leaves neither (the record is
 *   redelivered and dead-lettered once), after it both; a zombie instance is fenced by the
 *   per-input-partition transactional.id (KIP-98; kafkajs has no KIP-447). Handled records keep
 *   the at-least-once guarantee above.
 *
 * Metrics (prom-client, on the registry passed in; shared safely by several processors):
 * `streamwave_processor_records_processed_total{processor}`, `streamwave_processor_failures_total{processor}`
 * (failed handler attempts), `streamwave_processor_dead_lettered_total{processor}`,
 * `streamwave_processor_lag{processor,topic,partition}` (records, collected on scrape).
 */
import pRetry from 'p-retry';
import { pino } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import {
  parseTpKey, supportsTransactions, type ConsumerHandle, type EventLog, type LogRecord, type PartitionTransaction, type RecordBatch,
} from '../../platform/log/event-log.port.ts';
import { deadLetterTopicName, ensureDeadLetterTopic } from '../../schemas/topics.ts';
import type { ProcessorNode, RetryPolicy } from './topology.port.ts';

export interface RunProcessorOptions {
  logger?: pino.Logger;
  /** Prometheus registry for the processor metrics; a private one when omitted. */
  registry?: Registry;
}

export interface ProcessorHandle {
  /** Consumer group id used (`streamwave.<name>`). */
  readonly groupId: string;
  /**
   * Stops consuming: aborts pending retry waits and the in-flight handler's signal (the transcoder
   * kills its FFmpeg), waits for the handler, leaves the batch uncommitted.
   */
  stop(): Promise<void>;
  /** Resolves once every source partition is processed up to the end offsets at call time. */
  caughtUp(): Promise<void>;
  /** Per `topic:partition`: end offset minus the processor's position (records). */
  lag(): Promise<Map<string, number>>;
}

/** Default retry policy: 5 retries, 200 ms → 5 s exponential backoff. */
export const DEFAULT_RETRY: RetryPolicy = { retries: 5, minTimeoutMs: 200, maxTimeoutMs: 5_000 };

/** Consumer group id of a processor; stable because offsets and checkpoints are keyed by it. */
export const processorGroupId = (name: string): string => `streamwave.${name}`;

/** Dead-letter topic for records of `sourceTopic` that processor `name` gave up on. */
export const deadLetterTopicFor = (def: Pick<ProcessorNode, 'name' | 'deadLetterTopic'>, sourceTopic: string): string =>
  def.deadLetterTopic ?? deadLetterTopicName(sourceTopic, def.name);

/** Header names put on dead-lettered records. */
export const DLQ_HEADERS = {
  error: 'x-dlq-error',
  errorCode: 'x-dlq-error-code',
  topic: 'x-dlq-topic',
  partition: 'x-dlq-partition',
  offset: 'x-dlq-offset',
  processor: 'x-dlq-processor',
} as const;

/**
 * p-retry does not retry a TypeError (it assumes a programming error); a handler's TypeError on
 * odd data should get the same retries as any failure, so it travels wrapped and is unwrapped after.
 */
class AttemptFailure extends Error {
  constructor(readonly original: Error) { super(original.message); }
}

const toError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/** Stable error code for the `x-dlq-error-code` header: the error's `code` if it has one, else its class name. */
function errorCode(err: Error): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : err.name || 'Error';
}

type LagSource = { processor: string; lag(): Promise<Map<string, number>> };
const lagSources = new WeakMap<Gauge, Set<LagSource>>();

/** The processor metrics on `registry` (created once per registry, shared by its processors). */
export function metricsOn(registry: Registry) {
  const counter = (name: string, help: string) =>
    (registry.getSingleMetric(name) as Counter<'processor'> | undefined)
    ?? new Counter({ name, help, labelNames: ['processor'] as const, registers: [registry] });
  const lagName = 'streamwave_processor_lag';
  let lag = registry.getSingleMetric(lagName) as Gauge<'processor' | 'topic' | 'partition'> | undefined;
  if (!lag) {
    const sources = new Set<LagSource>();
    lag = new Gauge({
      name: lagName,
      help: 'Records between the end of each source partition and the processor position',
      labelNames: ['processor', 'topic', 'partition'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        for (const s of sources) {
          for (const [tp, n] of await s.lag()) {
            const { topic, partition } = parseTpKey(tp);
            this.set({ processor: s.processor, topic, partition: String(partition) }, n);
          }
        }
      },
    });
    lagSources.set(lag, sources);
  }
  return {
    processed: counter('streamwave_processor_records_processed_total', 'Records handled successfully'),
    failures: counter('streamwave_processor_failures_total', 'Failed handler attempts (each retry counts)'),
    deadLettered: counter('streamwave_processor_dead_lettered_total', 'Records sent to a dead-letter topic'),
    lagSources: lagSources.get(lag)!,
  };
}

export interface ProcessorStepOptions {
  log: EventLog;
  logger: pino.Logger;
  metrics: ReturnType<typeof metricsOn>;
  /** Aborts pending retry waits; an aborted step throws so the batch stays uncommitted. */
  signal: AbortSignal;
  /** The node's retry policy unless given (the test driver retries without waiting). */
  retry?: RetryPolicy;
}

/**
 * One record through a processor node, shared by the runtime and the topology test driver: the
 * handler with retries and backoff, then — when it keeps failing — the dead-letter topic with
 * `x-dlq-*` headers (in the input partition's transaction `tx` when the log has transactions)
 * and `onDeadLetter`. Throws only when stopping or when the dead-letter append itself fails, so
 * the record is redelivered.
 */
export function createProcessorStep(def: ProcessorNode, opts: ProcessorStepOptions) {
  const { log, logger, metrics } = opts;
  const retry = opts.retry ?? def.retry ?? DEFAULT_RETRY;
  const dlqReady = new Map<string, Promise<void>>();

  const ensureDeadLetterTopicOnce = (sourceTopic: string, dlqTopic: string): Promise<void> => {
    let ready = dlqReady.get(dlqTopic);
    if (!ready) {
      ready = ensureDeadLetterTopic(log, sourceTopic, dlqTopic);
      dlqReady.set(dlqTopic, ready);
      ready.catch(() => dlqReady.delete(dlqTopic));
    }
    return ready;
  };

  /** `tx`: the input partition's transaction scope when the log supports transactions (Kafka). */
  const deadLetter = async (record: LogRecord, error: Error, tx?: PartitionTransaction): Promise<void> => {
    const dlqTopic = deadLetterTopicFor(def, record.topic);
    await ensureDeadLetterTopicOnce(record.topic, dlqTopic);
    const dlqRecord = {
      key: record.key,
      value: record.value,
      headers: {
        ...record.headers,
        [DLQ_HEADERS.error]: error.message,
        [DLQ_HEADERS.errorCode]: errorCode(error),
        [DLQ_HEADERS.topic]: record.topic,
        [DLQ_HEADERS.partition]: String(record.partition),
        [DLQ_HEADERS.offset]: String(record.offset),
        [DLQ_HEADERS.processor]: def.name,
      },
    };
    // Transactional log: DLQ record + source offset (next = this record's offset + 1) atomically.
    if (tx) await tx.commit([{ topic: dlqTopic, ...dlqRecord }], record.offset + 1);
    else await log.append(dlqTopic, [dlqRecord]);
    metrics.deadLettered.inc({ processor: def.name });
    logger.error({ err: error, topic: record.topic, partition: record.partition, offset: record.offset, dlqTopic }, 'record dead-lettered');
    if (def.onDeadLetter) {
      try {
        await def.onDeadLetter(record, error);
      } catch (err) {
        logger.error({ err, offset: record.offset }, 'onDeadLetter failed (not retried)');
      }
    }
  };

  const processRecord = async (record: LogRecord, tx?: PartitionTransaction): Promise<void> => {
    try {
      await pRetry(async () => {
        try {
          await def.handle(record, { signal: opts.signal });
        } catch (e) {
          throw new AttemptFailure(toError(e));
        }
      }, {
        retries: retry.retries,
        minTimeout: retry.minTimeoutMs,
        maxTimeout: retry.maxTimeoutMs,
        factor: 2,
        signal: opts.signal,
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          metrics.failures.inc({ processor: def.name });
          const err = error instanceof AttemptFailure ? error.original : error;
          logger.warn({ err, topic: record.topic, partition: record.partition, offset: record.offset, attemptNumber, retriesLeft }, 'handler failed');
        },
      });
      metrics.processed.inc({ processor: def.name });
    } catch (e) {
      // Stopping: leave the batch uncommitted so it is redelivered on the next start.
      if (opts.signal.aborted) throw e;
      await deadLetter(record, e instanceof AttemptFailure ? e.original : toError(e), tx);
    }
  };

  return processRecord;
}

/**
 * Starts a processor: joins consumer group `streamwave.<def.name>` on `def.inputs` and calls
 * `def.handle` for each record, in offset order per partition, up to `def.concurrency`
 * partitions at once.
 * @throws whatever `log.subscribe` throws (e.g. EventLogError UNKNOWN_TOPIC when a source topic is missing).
 */
export async function runProcessor(log: EventLog, def: ProcessorNode, opts: RunProcessorOptions = {}): Promise<ProcessorHandle> {
  const logger = (opts.logger ?? pino({ level: 'silent' })).child({ processor: def.name });
  const metrics = metricsOn(opts.registry ?? new Registry());
  const groupId = processorGroupId(def.name);
  const abort = new AbortController();
  const processRecord = createProcessorStep(def, { log, logger, metrics, signal: abort.signal });

  const subscription = {
    groupId,
    topics: [...def.inputs],
    onAssigned: def.onAssigned ? (partitions: Parameters<NonNullable<ProcessorNode['onAssigned']>>[0]) => def.onAssigned!(partitions) : undefined,
    partitionsConsumedConcurrently: def.concurrency ?? 1,
  };
  const eachBatch = async (batch: RecordBatch, tx?: PartitionTransaction) => {
    for (const record of batch.records) await processRecord(record, tx);
  };
  // The DLQ topic is created through `log` either way (ensureDeadLetterTopicOnce).
  const consumer: ConsumerHandle = supportsTransactions(log)
    ? await log.subscribeTransactional({ ...subscription, eachBatch })
    : await log.subscribe({ ...subscription, eachBatch: (batch) => eachBatch(batch) });
  const lagSource: LagSource = { processor: def.name, lag: () => consumer.lag() };
  metrics.lagSources.add(lagSource);
  logger.info({ groupId, topics: def.inputs, guarantee: def.guarantee }, 'processor started');

  let stopping: Promise<void> | null = null;
  return {
    groupId,
    stop() {
      stopping ??= (async () => {
        abort.abort(new Error(`processor ${def.name} stopping`));
        await consumer.stop();
        metrics.lagSources.delete(lagSource);
        logger.info('processor stopped');
      })();
      return stopping;
    },
    caughtUp: () => consumer.caughtUp(),
    lag: () => consumer.lag(),
  };
}
