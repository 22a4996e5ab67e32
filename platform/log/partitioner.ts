import { Partitioners } from 'kafkajs';

const kafkaPartitioner = Partitioners.DefaultPartitioner();

/**
 * Kafka's default partition for a key: murmur2(key) mod partitions (kafkajs' DefaultPartitioner,
 * the same function as the Java client's), so every adapter puts a key on the partition number
 * Kafka would. Null keys go round-robin on `counter`.
 * @param partitions partition count of the topic (≥ 1)
 */
export function partitionForKey(topic: string, key: string | null, partitions: number, counter = 0): number {
  if (key === null) return counter % partitions;
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0 }));
  return kafkaPartitioner({ topic, partitionMetadata: partitionMetadata as never, message: { key, value: null } });
}
