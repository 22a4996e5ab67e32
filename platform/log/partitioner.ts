import { LRUCache } from 'lru-cache';
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
  // The partition depends on the key and the count only (not the topic): remembered, since the
  // hot keys (a watched video's id) repeat on every heartbeat.
  const memoKey = `${partitions}|${key}`;
  const known = memo.get(memoKey);
  if (known !== undefined) return known;
  let partitionMetadata = metadataOf.get(partitions);
  if (!partitionMetadata) metadataOf.set(partitions, partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0 })));
  const partition = kafkaPartitioner({ topic, partitionMetadata: partitionMetadata as never, message: { key, value: null } });
  memo.set(memoKey, partition);
  return partition;
}

/** Keys whose partition is remembered, at most (the least recently used go first). */
const memo = new LRUCache<string, number>({ max: 65_536 });
const metadataOf = new Map<number, Array<{ partitionId: number; leader: number }>>();
