/**
 * Child process for kafka-transactional-processor.test.ts (crash proof): runs the exactly-once
 * processor `in` → `out` (value n → 2n, same key) until SIGTERM; the test SIGKILLs it mid-load.
 *
 *   node --import tsx transactional-doubler.child.ts <bootstrap> <namespace> <maxBatchSize>
 *
 * Prints `READY` once its group assignment is positioned. Exits 0 after SIGTERM.
 */
import { runTransactionalProcessor } from '../kafka-transactions.ts';

const [bootstrap, namespace, batch] = process.argv.slice(2);
if (!bootstrap || !namespace) {
  process.stderr.write('usage: transactional-doubler.child.ts <bootstrap> <namespace> [maxBatchSize]\n');
  process.exit(2);
}

const proc = await runTransactionalProcessor({
  brokers: [bootstrap],
  clientId: 'eos-crash-child',
  namespace,
  groupId: 'doubler',
  topics: ['in'],
  maxBatchSize: Number(batch ?? 10),
  sessionTimeoutMs: 3_000,
  heartbeatIntervalMs: 300,
  rebalanceTimeoutMs: 5_000,
  maxWaitTimeMs: 100,
  transactionTimeoutMs: 15_000,
  kafka: { redeliveryDelayMs: 20 },
  async handle(record) {
    const n = Number(record.value!.toString('utf8'));
    return [{ topic: 'out', key: record.key, value: Buffer.from(String(n * 2)), headers: { src: String(n) } }];
  },
});
process.stdout.write('READY\n');
process.on('SIGTERM', () => {
  void proc.stop().then(() => process.exit(0), () => process.exit(1));
});
