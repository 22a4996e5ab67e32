/**
 * Appends that arrive while one to the same topic is in flight go together in the next one (a
 * group commit, platform/shared/group-commit.ts): the
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
import type { EventLog, ProduceRecord, RecordMetadata } from './event-log.port.ts';
import { groupCommit } from '../shared/group-commit.ts';

/** Default most records one coalesced append carries (well under Kafka's 1 MiB request size for heartbeats of ~200 bytes). */
export const COALESCED_APPEND_MAX_RECORDS = 1_000;

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

/**
 * Coalesced appends to `log`. `maxRecords` bounds one append (a caller with more records than
 * that still goes whole, alone).
 */
export function coalescedAppends(log: Pick<EventLog, 'append'>, opts: CoalescedAppendsOptions = {}): CoalescedAppends {
  const group = groupCommit<ProduceRecord, RecordMetadata>((topic, records) => log.append(topic, records), {
    maxItems: opts.maxRecords ?? COALESCED_APPEND_MAX_RECORDS,
    ...(opts.lingerMs !== undefined && { lingerMs: opts.lingerMs }),
    ...(opts.onAppend && { onSend: opts.onAppend }),
  });
  return {
    append: (topic, records) => (records.length ? group.submit(topic, records) : log.append(topic, records)),
    appendsMade: group.sends,
  };
}
