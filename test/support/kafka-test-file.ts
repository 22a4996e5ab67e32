/**
 * One real Kafka broker for a whole test file, and event logs on it with the short group timings
 * the tests use. `kafkaTestFile()` registers node:test `before`/`after` hooks: `before` starts the
 * broker when Java and Maven are there; `after` closes every log opened through `openLog`, runs the
 * file's cleanups (last registered first, errors ignored) and stops the broker, even when tests
 * failed.
 *
 *   const kafkaFile = await kafkaTestFile();
 *   describe('…', { skip: kafkaFile.skip }, () => {
 *     test('…', async () => { const log = await kafkaFile.openLog('ns-1', 'my-test'); … });
 *   });
 */
import { after, before } from 'node:test';
import pino from 'pino';
import { createKafkaEventLog, type KafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import type { KafkaEventLogOptions } from '../../platform/log/kafka/kafka-client.ts';
import { kafkaRequirement, startKafkaBroker, type KafkaBroker } from './kafka-broker.ts';

/** What a test file gets: see the module comment. */
export interface KafkaTestFile {
  /** False when Java or Maven is missing: the file's suites skip (see `skip`). */
  available: boolean;
  /** The `skip` option for the file's suites: false, or the reason (under CI a failing test is registered too; test/support/requirements.ts). */
  skip: string | false;
  /** The file's broker; throws when called before the `before` hook ran or when unavailable. */
  broker(): KafkaBroker;
  /** Options for a log on the file's broker: `namespace` prefixes topics and groups; sessions of 6 s, 100 ms fetch waits. */
  logOptions(namespace: string, clientId: string): KafkaEventLogOptions;
  /** Opens a log with `logOptions`; the `after` hook closes it. */
  openLog(namespace: string, clientId: string): Promise<KafkaEventLog>;
  /** Registers a cleanup the `after` hook runs before stopping the broker. */
  onCleanup(f: () => Promise<unknown> | unknown): void;
}

/** A pino logger to stderr at the level KAFKA_TEST_LOG names (e.g. `debug`), else none: Kafka tests are quiet unless asked. */
export const kafkaTestLogger = () => (process.env.KAFKA_TEST_LOG ? pino({ level: process.env.KAFKA_TEST_LOG }, pino.destination(2)) : undefined);

/** Registers the file's hooks and returns its handle (see the module comment). Call once, at module level. */
export async function kafkaTestFile(): Promise<KafkaTestFile> {
  const skip = await kafkaRequirement();
  const available = skip === false;
  let broker: KafkaBroker | undefined;
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  before(async () => { if (available) broker = await startKafkaBroker(); }, { timeout: 600_000 });
  after(async () => {
    for (const f of cleanups.reverse()) await Promise.resolve().then(f).catch(() => {});
    await broker?.stop();
  }, { timeout: 120_000 });
  const file: KafkaTestFile = {
    available,
    skip,
    broker() {
      if (!broker) throw new Error('no Kafka broker: the before hook has not run, or Java/Maven are missing');
      return broker;
    },
    logOptions: (namespace, clientId) => ({
      brokers: [file.broker().bootstrap], clientId, namespace, replicationFactor: 1,
      // Short group timings: the broker allows sessions down to 1 s (kafka.sh sets group.min.session.timeout.ms).
      sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500, rebalanceTimeoutMs: 6_000, maxWaitTimeMs: 100, redeliveryDelayMs: 10,
      logger: kafkaTestLogger(),
    }),
    async openLog(namespace, clientId) {
      const log = await createKafkaEventLog(file.logOptions(namespace, clientId));
      cleanups.push(() => log.close());
      return log;
    },
    onCleanup: (f) => { cleanups.push(f); },
  };
  return file;
}
