/**
 * Where a replay starts and how far it got: start offsets per partition (beginning of the log or
 * Kafka's ListOffsets by timestamp) and the progress sampler behind ReplayStatus (consumed, total,
 * records/s over the last ~5 s, ETA).
 */
import type { EventLog, OffsetMap, TopicPartition } from '../../platform/log/event-log.port.ts';
import { tpKey } from '../../platform/log/event-log.port.ts';
import type { ProjectionHandle } from '../../processors/runtime/projection.runtime.ts';
import type { ReplayStatus } from './replay.port.ts';

/** `offsetsForTimestamp(T)` for every assigned partition (Kafka ListOffsets by timestamp). */
export const timestampSeek = (log: EventLog, timestamp: number) => async (partitions: TopicPartition[]): Promise<OffsetMap> => {
  const out: OffsetMap = new Map();
  for (const topic of new Set(partitions.map((p) => p.topic))) {
    const offsets = await log.offsetsForTimestamp(topic, timestamp);
    offsets.forEach((o, partition) => out.set(tpKey(topic, partition), o));
  }
  return out;
};

/** Start offsets of a shadow per topic:partition (what "consumed" counts from). */
export async function replayStartOffsets(log: EventLog, topics: readonly string[], fromTimestamp: number | undefined): Promise<OffsetMap> {
  const out: OffsetMap = new Map();
  for (const topic of topics) {
    const offs = fromTimestamp === undefined ? await log.beginningOffsets(topic) : await log.offsetsForTimestamp(topic, fromTimestamp);
    offs.forEach((o, p) => out.set(tpKey(topic, p), o));
  }
  return out;
}

/**
 * A sampler updating `status` in place (consumed, total, eventsPerSecond, etaSeconds) from the
 * shadow's lag and the topics' end offsets; rate over the samples of the last 5 s.
 */
export function replayProgressSampler(log: EventLog, topics: readonly string[], starts: OffsetMap, shadow: Pick<ProjectionHandle, 'lag'>, status: ReplayStatus, now: () => number): () => Promise<void> {
  const samples: { t: number; consumed: number }[] = [];
  return async () => {
    const lag = await shadow.lag();
    let consumed = 0;
    let total = 0;
    for (const topic of topics) {
      const ends = await log.endOffsets(topic);
      ends.forEach((end, p) => {
        const k = tpKey(topic, p);
        const start = Math.min(starts.get(k) ?? 0, end);
        const position = lag.has(k) ? end - lag.get(k)! : start;
        total += end - start;
        consumed += Math.max(0, Math.min(end, position) - start);
      });
    }
    const t = now();
    samples.push({ t, consumed });
    while (samples.length > 2 && t - samples[0].t > 5_000) samples.shift();
    const first = samples[0];
    const rate = t > first.t ? ((consumed - first.consumed) * 1000) / (t - first.t) : 0;
    status.consumed = consumed;
    status.total = total;
    status.eventsPerSecond = Math.round(rate * 10) / 10;
    status.etaSeconds = total <= consumed ? 0 : rate > 0 ? Math.ceil((total - consumed) / rate) : null;
  };
}
