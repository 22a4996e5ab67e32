/**
 * Runs the EventLog contract suite against a real Apache Kafka broker (deploy/local/kafka.sh,
 * one broker for the whole file). Each test case gets its own namespace (topic and group
 * prefix), so the suite's fixed topic names ('t', 'video-events') do not collide across cases;
 * cleanup deletes the case's topics. Skipped when Java/Maven are missing.
 */
import { after, before } from 'node:test';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { EventLog } from '../event-log.port.ts';
import { testEventLog } from '../event-log.contract.ts';
import { createKafkaEventLog } from './kafka-event-log.adapter.ts';
import type { KafkaEventLog } from './kafka-event-log.adapter.ts';
import { kafkaAvailable, startKafkaBroker } from '../../../test/support/kafka-broker.ts';
import type { KafkaBroker } from '../../../test/support/kafka-broker.ts';

const available = await kafkaAvailable();
let broker: KafkaBroker | undefined;

before(async () => { if (available) broker = await startKafkaBroker(); }, { timeout: 600_000 });
after(async () => { await broker?.stop(); }, { timeout: 120_000 });

const open = (namespace: string): Promise<KafkaEventLog> => createKafkaEventLog({
  brokers: [broker!.bootstrap],
  clientId: 'contract',
  namespace,
  replicationFactor: 1,
  // Short group timings: the broker allows sessions down to 1 s (kafka.sh sets group.min.session.timeout.ms).
  sessionTimeoutMs: 6_000,
  heartbeatIntervalMs: 500,
  rebalanceTimeoutMs: 6_000,
  maxWaitTimeMs: 100,
  redeliveryDelayMs: 10,
  logger: process.env.KAFKA_TEST_LOG ? pino({ level: process.env.KAFKA_TEST_LOG }, pino.destination(2)) : undefined,
});

if (available) {
  testEventLog('kafka', async () => {
    const namespace = `c-${randomUUID().slice(0, 8)}`;
    let current: KafkaEventLog = await open(namespace);
    return {
      log: current as EventLog,
      async reopen() {
        await current.close();
        current = await open(namespace);
        return current;
      },
      async cleanup() {
        const names = (await current.listTopics()).map((t) => t.name);
        await current.deleteTopics(names).catch(() => {});
        await current.close();
      },
    };
  });
}
