/**
 * Child process for transform.runtime.test.ts (crash proof): runs the exactly-once processor
 * `in` → `out` (value n → 2n, same key) on the Kafka log until SIGTERM; the test SIGKILLs it mid-load.
 *
 *   node --import tsx transactional-doubler.child.ts <bootstrap> <namespace> <maxBatchSize>
 *
 * Prints `READY` once its group assignment is positioned. Exits 0 after SIGTERM.
 */
import { createKafkaEventLog } from '../../../platform/log/kafka/kafka-event-log.adapter.ts';
import { runTransactionalProcessor } from '../transform.runtime.ts';

const [bootstrap, namespace, batch] = process.argv.slice(2);
if (!bootstrap || !namespace) {
  process.stderr.write('usage: transactional-doubler.child.ts <bootstrap> <namespace> [maxBatchSize]\n');
  process.exit(2);
}

const log = await createKafkaEventLog({
  brokers: [bootstrap],
  clientId: 'eos-crash-child',
  namespace,
  sessionTimeoutMs: 3_000,
  heartbeatIntervalMs: 300,
  rebalanceTimeoutMs: 5_000,
  maxWaitTimeMs: 100,
  transactionTimeoutMs: 15_000,
  redeliveryDelayMs: 20,
});
const proc = await runTransactionalProcessor(log, {
  groupId: 'doubler',
  topics: ['in'],
  maxBatchSize: Number(batch ?? 10),
  async handle(record) {
    const n = Number(record.value!.toString('utf8'));
    return [{ topic: 'out', key: record.key, value: Buffer.from(String(n * 2)), headers: { src: String(n) } }];
  },
});
process.stdout.write('READY\n');
process.on('SIGTERM', () => {
  void proc.stop().then(() => log.close()).then(() => process.exit(0), () => process.exit(1));
});
