/**
 * Runs the EventLog contract suite against a real Apache Kafka broker (deploy/local/kafka.sh,
 * one broker for the whole file). Each test case gets its own namespace (topic and group
 * prefix), so the suite's fixed topic names ('t', 'video-events') do not collide across cases;
 * cleanup deletes the case's topics. Skipped when Java/Maven are missing (a failure under CI).
 */
import { test } from 'node:test';
import { randomUUID } from 'node:crypto';
import type { EventLog } from '../event-log.port.ts';
import { testEventLog } from '../event-log.contract.ts';
import { createKafkaEventLog } from './kafka-event-log.adapter.ts';
import type { KafkaEventLog } from './kafka-event-log.adapter.ts';
import { kafkaTestFile } from '../../../test/support/kafka-test-file.ts';

const kafkaFile = await kafkaTestFile();
const open = (namespace: string): Promise<KafkaEventLog> => createKafkaEventLog(kafkaFile.logOptions(namespace, 'contract'));

if (kafkaFile.skip) {
  // Registered so the summary lists the contract as skipped, with why (under CI it fails instead).
  test('EventLog contract (kafka)', { skip: kafkaFile.skip }, () => {});
} else {
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
  }, { durable: true, commitInterval: true });
}
