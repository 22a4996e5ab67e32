/**
 * Appends that arrive while one to the same topic is in flight go together in the next one: the
 * producer-side batching of Kafka's own client (`linger.ms`, `batch.size`), which kafkajs does not
 * have. The Kafka adapter's idempotent producer sends one produce request at a time
 * (`maxInFlightRequests: 1`, kafka-producer.ts), so without it a gateway's heartbeats went to the
 * broker one request each, and a cluster gateway acknowledged about 100 heartbeats a second
 * whatever its CPU (issue 15, cluster freshness). With it, what waits for one round trip goes in
 * the next: one request per round trip, however many callers.
 *
 * Without `lingerMs` an append on an idle topic goes at once; batching only happens under load, so
 * it costs no latency beyond the wait for the append in flight (a caller's bound is therefore the
 * log's own delivery timeout twice: the append ahead of it, then its own; plus `lingerMs` with
 * one). With `lingerMs` (Kafka's `linger.ms`, 5 ms by default since Kafka 4.0, KIP-1030) a batch
 * also waits until its oldest record has waited that long or it is full, so appends that come a
 * few ms apart share a request even when the round trip is shorter than the gap between them.
 *
 * Each caller gets exactly the positions of its own records (in its order, its records contiguous
 * in the batch). A failed batch fails every caller in it with the log's error
 * (none of them is acknowledged; some records may be on the log, as for any failed append), so
 * use it only where one caller's records cannot make the broker refuse another's: keyed records
 * on a topic that is not compacted, encoded and checked before they get here (the heartbeats and
 * playback reports of commands/view-recorder.ts).
 */
import { performance } from 'node:perf_hooks';
import type { EventLog, ProduceRecord, RecordMetadata } from './event-log.port.ts';

/** Default most records one coalesced append carries (well under Kafka's 1 MiB request size for heartbeats of ~200 bytes). */
export const COALESCED_APPEND_MAX_RECORDS = 1_000;

/** One caller's records waiting for the next append of their topic. */
interface Waiting {
  records: ProduceRecord[];
  /** When it was queued (performance.now(), ms): the linger counts from the oldest waiting. */
  at: number;
  resolve(positions: RecordMetadata[]): void;
  reject(err: unknown): void;
}

/** Appends per topic with coalescing; see the file comment. */
export interface CoalescedAppends {
  /** As EventLog.append. @throws whatever the log's append throws, for every caller of the failed batch */
  append(topic: string, records: ProduceRecord[]): Promise<RecordMetadata[]>;
  /** Appends made on the log so far (a figure for tests and metrics: fewer than callers under load). */
  appendsMade(): number;
}

/** Options of `coalescedAppends`. */
export interface CoalescedAppendsOptions {
  /** Most records one append carries; default COALESCED_APPEND_MAX_RECORDS. */
  maxRecords?: number;
  /**
   * How long a batch's oldest record may wait for more before the batch goes, ms (Kafka's
   * `linger.ms`); a batch of `maxRecords` goes at once. Default 0: no wait beyond the append in
   * flight. At most 2^31 - 1 (a Node timer's limit).
   */
  lingerMs?: number;
  /** Called as each append succeeds on the log: its topic and how many callers' appends it carried (≥ 1). For metrics. */
  onAppend?: (topic: string, callers: number) => void;
}

/** Whether `queue` holds at least `max` records. */
function full(queue: readonly Waiting[], max: number): boolean {
  let n = 0;
  for (const w of queue) if ((n += w.records.length) >= max) return true;
  return false;
}

/**
 * Coalesced appends to `log`. `maxRecords` bounds one append (a caller with more records than
 * that still goes whole, alone).
 */
export function coalescedAppends(log: Pick<EventLog, 'append'>, opts: CoalescedAppendsOptions = {}): CoalescedAppends {
  const maxRecords = opts.maxRecords ?? COALESCED_APPEND_MAX_RECORDS;
  const lingerMs = Math.min(2 ** 31 - 1, Math.max(0, opts.lingerMs ?? 0));
  const queues = new Map<string, Waiting[]>();
  const busy = new Set<string>();
  /** Per topic lingering for more records: ends the wait. */
  const lingering = new Map<string, () => void>();
  let made = 0;

  /** Sends what waits for `topic`, batch after batch, until nothing does. */
  async function drain(topic: string): Promise<void> {
    busy.add(topic);
    try {
      const queue = queues.get(topic)!;
      while (queue.length) {
        const wait = lingerMs > 0 && !full(queue, maxRecords) ? queue[0]!.at + lingerMs - performance.now() : 0;
        if (wait > 0) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, wait);
            function done() { clearTimeout(timer); lingering.delete(topic); resolve(); }
            lingering.set(topic, done); // a caller that fills the batch ends the wait
          });
        }
        const batch: Waiting[] = [queue.shift()!];
        let n = batch[0]!.records.length;
        while (queue.length && n + queue[0]!.records.length <= maxRecords) {
          const next = queue.shift()!;
          n += next.records.length;
          batch.push(next);
        }
        made++;
        try {
          const positions = await log.append(topic, batch.flatMap((w) => w.records));
          opts.onAppend?.(topic, batch.length);
          let at = 0;
          for (const w of batch) {
            w.resolve(positions.slice(at, at + w.records.length));
            at += w.records.length;
          }
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      }
    } finally {
      busy.delete(topic);
    }
  }

  return {
    append(topic, records) {
      if (!records.length) return log.append(topic, records);
      return new Promise<RecordMetadata[]>((resolve, reject) => {
        let queue = queues.get(topic);
        if (!queue) queues.set(topic, (queue = []));
        queue.push({ records, at: performance.now(), resolve, reject });
        if (!busy.has(topic)) void drain(topic);
        else if (lingering.has(topic) && full(queue, maxRecords)) lingering.get(topic)!();
      });
    },
    appendsMade: () => made,
  };
}
