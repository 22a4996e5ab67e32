import type { EventLog, LogRecord } from '../platform/log/event-log.port.ts';

/**
 * Reads one topic forward, every partition from where the last call stopped, each record once:
 * how a state store follows its changelog (Kafka Streams' restore, then keeping up).
 */
export interface TopicFollower {
  /**
   * Hands every record after the positions, up to the end offsets taken now, to `each` (one
   * partition's records in order; partitions concurrently). Positions move record by record: a
   * failed `each` or read leaves every handled record behind them, and an end offset covering an
   * open transaction (READ_COMMITTED) is never skipped to, so its records are read once committed.
   * The first call starts at the beginning offsets. Concurrent calls run one after the other (each
   * takes its end offsets when its turn comes), so no record is handed over twice.
   * @returns the number of records handed over.
   * @throws the log's error, or `each`'s.
   */
  catchUp(each: (record: LogRecord) => Promise<void> | void): Promise<number>;
}

/** A follower of `topic` on `log`, reading `readBatchSize` records per `log.read` (default 1000). */
export function createTopicFollower(log: EventLog, topic: string, readBatchSize = 1000): TopicFollower {
  let next: number[] | undefined;
  let turn: Promise<unknown> = Promise.resolve();
  async function catchUp(each: (record: LogRecord) => Promise<void> | void): Promise<number> {
    const [end, from] = await Promise.all([log.endOffsets(topic), next ? Promise.resolve(next) : log.beginningOffsets(topic)]);
    const positions = end.map((_, p) => from[p] ?? 0);
    next = positions;
    const counts = await Promise.all(end.map(async (to, p) => {
      let count = 0;
      while (positions[p] < to) {
        const records = await log.read(topic, p, positions[p], Math.min(readBatchSize, to - positions[p]));
        if (records.length === 0) break; // nothing readable below the end offset (an open transaction, or retention)
        for (const r of records) {
          await each(r);
          positions[p] = r.offset + 1;
          count++;
        }
      }
      return count;
    }));
    return counts.reduce((a, b) => a + b, 0);
  }
  return {
    catchUp(each) {
      const run = turn.then(() => catchUp(each));
      turn = run.catch(() => {});
      return run;
    },
  };
}
