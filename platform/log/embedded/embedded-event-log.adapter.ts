/**
 * Embedded durable EventLog (standalone mode): the `EventLog` port on local disk, no broker.
 *
 * Guarantees:
 * - An acknowledged record survives `kill -9` (and, with `fsync: true`, a power loss on a
 *   journaling file system): `append` resolves only after the bytes are written and fdatasync'ed.
 *   Appends that arrive while a flush is in progress are group-committed: one write + one fsync
 *   per partition for the whole batch (partition-log.ts).
 * - Readers and consumers only see acknowledged (durable) records, the analogue of Kafka's high
 *   watermark, so no read model can apply a record that a crash could still take back.
 * - Consumers get at-least-once delivery: the group offset is committed after `eachBatch`
 *   resolves (or at the subscription's `commitIntervalMs`); a crash before the commit redelivers
 *   the batch (embedded-subscription.ts). Sinks that
 *   store their checkpoint atomically with their state (and seek to it in `onAssigned`) get
 *   effectively-once results.
 *
 * On-disk layout under `<dataDir>/log/`:
 * - `LOCK`                        pid of the process holding the log (data-dir-lock.ts).
 * - `CLEAN_SHUTDOWN`              written by a clean close, removed on open (Kafka's
 *                                 `.kafka_cleanshutdown`): when present, recovery may cut nothing.
 * - `topics.json`                 topic metadata (name, partitions, compacted), replaced atomically
 *                                 (topic-registry.ts).
 * - `topics/<topic>/<p>.log`      one append-only segment per partition, records framed with a
 *                                 CRC (record-format.ts).
 * - `groups/<groupId>.json`       committed offsets of a consumer group, replaced atomically
 *                                 (consumer-groups.ts).
 * On open every segment is scanned once to rebuild the in-memory index (segment-scan.ts). A torn
 * tail (a crash mid-write: bad bytes at the end, nothing valid after them) is truncated with a
 * warning; bad bytes followed by valid records, or any bad bytes after a clean shutdown, stop the
 * open with `LOG_CORRUPTED` naming the file and byte offset (issue 8, finding 8).
 *
 * Not implemented: log compaction. Compacted topics are stored and flagged (`compacted: true`)
 * but keep every record, which is correct for readers (the last record per key still wins) and
 * only costs disk; `beginningOffsets` is therefore always 0. Offsets are dense from 0.
 */
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import type { ConsumerHandle, EventLog, ProduceRecord, RecordMetadata, Subscription, TopicPartition } from '../event-log.port.ts';
import { partitionForKey } from '../partitioner.ts';
import { EventLogError } from '../event-log.errors.ts';
import { ConsumerGroups } from './consumer-groups.ts';
import { acquireDataDirLock } from './data-dir-lock.ts';
import { EmbeddedSubscription, startOffsets } from './embedded-subscription.ts';
import { bodyBytes, encodeRecord } from './record-format.ts';
import { fdatasync, type SyncData } from './partition-log.ts';
import { TopicRegistry } from './topic-registry.ts';

export interface EmbeddedEventLogOptions {
  /** Root data directory; the log lives in `<dataDir>/log/`. Created if missing. */
  dataDir: string;
  logger?: pino.Logger;
  /**
   * fdatasync each group commit before acknowledging (default true). `false` still survives a
   * process crash (data is in the OS page cache) but not a power loss; meant for tests and benches.
   */
  fsync?: boolean;
  /**
   * How a partition segment's written bytes are made durable before an append is acknowledged
   * (only with `fsync`; default `fdatasync(2)` of the segment file). A test seam: tests inject a
   * spy or a failing sync to prove the ordering write → sync → acknowledge. A rejection fails
   * the appends of that group commit with EventLogError `IO_FAILED`, acknowledges none of them,
   * and makes the partition refuse further appends until the log is reopened. Topic metadata and
   * group offsets (writeFileAtomic) do not go through it.
   */
  syncData?: SyncData;
  /** Largest encoded record body accepted, bytes (default 8 MiB; Kafka's default is 1 MiB). */
  maxRecordBytes?: number;
  /**
   * First redelivery delay after a throwing `eachBatch`, milliseconds (default 100); doubles per
   * consecutive failure of the same partition up to 5 000 ms.
   */
  redeliveryDelayMs?: number;
}

/** The EventLog port plus what only the embedded adapter has. */
export interface EmbeddedEventLog extends EventLog {
  /** Absolute path of the log directory (`<dataDir>/log`). */
  readonly dir: string;
  /**
   * Partitions that refuse appends after a failed fsync, with the reason (empty when all accept
   * them). Readiness reports them as LOG_WRITES_REFUSED.
   */
  refusedPartitions(): Array<{ topic: string; partition: number; reason: string }>;
}

/** Name of the clean-shutdown marker in `<dataDir>/log/`. */
export const CLEAN_SHUTDOWN_MARKER = 'CLEAN_SHUTDOWN';

/**
 * Opens (creating if needed) the embedded event log in `<dataDir>/log/`, recovering torn tails.
 * @throws EventLogError LOG_LOCKED when another live process holds the directory; LOG_CORRUPTED
 *   when a segment holds bad bytes that are not a torn tail (file and byte offset named); fs errors
 *   (EACCES, ENOSPC…) when the directory cannot be created.
 */
export async function createEmbeddedEventLog(opts: EmbeddedEventLogOptions): Promise<EmbeddedEventLog> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const fsync = opts.fsync ?? true;
  const syncData = opts.syncData ?? fdatasync;
  const maxRecordBytes = opts.maxRecordBytes ?? 8 * 1024 * 1024;
  const redeliveryDelayMs = opts.redeliveryDelayMs ?? 100;
  const dir = resolve(opts.dataDir, 'log');
  const groupsDir = join(dir, 'groups');
  await mkdir(join(dir, 'topics'), { recursive: true });
  await mkdir(groupsDir, { recursive: true });
  const lock = await acquireDataDirLock(dir, logger);

  const consumers = new Set<EmbeddedSubscription>();
  const wakeConsumers = () => { for (const c of consumers) c.notify(); };
  let topics: TopicRegistry;
  let groups: ConsumerGroups;
  try {
    const marker = join(dir, CLEAN_SHUTDOWN_MARKER);
    const cleanShutdown = await stat(marker).then(() => true, () => false);
    topics = await TopicRegistry.open({ dir, fsync, syncData, maxRecordBytes, logger, onAppended: wakeConsumers, cleanShutdown });
    // From here on a crash may tear a tail again. Kept when the open fails, so the next try is as strict.
    if (cleanShutdown) await rm(marker, { force: true });
    try {
      groups = await ConsumerGroups.load(groupsDir, fsync);
    } catch (err) {
      await topics.close();
      throw err;
    }
  } catch (err) {
    await lock.release();
    throw err;
  }
  logger.info({ dir, topics: topics.size, groups: groups.size }, 'embedded event log opened');

  let closed = false;
  let closing: Promise<void> | undefined;
  const ensureOpen = () => { if (closed) throw new EventLogError('LOG_CLOSED', `event log ${dir} is closed`); };
  const topic = (name: string) => { ensureOpen(); return topics.topic(name); };
  const part = (name: string, partition: number) => { ensureOpen(); return topics.partition(name, partition); };

  /**
   * A record's partition (validated), timestamp (`now` when it has none, ms) and encoding. Not a
   * closure made per append: the loader's keep-names wrapper costs ~1 µs per closure (issue 12).
   * @throws EventLogError RECORD_TOO_LARGE, or part()'s.
   */
  function prepare(name: string, t: ReturnType<typeof topic>, now: number, r: ProduceRecord) {
    const partition = r.partition ?? partitionForKey(name, r.key, t.spec.partitions, t.roundRobin++);
    part(name, partition); // validates
    const ts = r.timestamp ?? now;
    const encoded = encodeRecord(r, ts);
    if (bodyBytes(encoded) > maxRecordBytes) {
      throw new EventLogError('RECORD_TOO_LARGE', `record of ${encoded.length} bytes exceeds maxRecordBytes ${maxRecordBytes} (topic ${name})`);
    }
    return { partition, ts, encoded };
  }

  const log: EmbeddedEventLog = {
    dir,
    refusedPartitions: () => topics.refusedPartitions(),

    async createTopic(spec) {
      ensureOpen();
      return topics.create(spec);
    },

    async listTopics() {
      ensureOpen();
      return topics.list();
    },

    async append(name: string, records: ProduceRecord[]): Promise<RecordMetadata[]> {
      const t = topic(name);
      if (!records.length) return [];
      const now = Date.now();
      if (records.length === 1) {
        // One record (a heartbeat, most commands): no grouping by partition (issue 12).
        const { partition, ts, encoded } = prepare(name, t, now, records[0]!);
        return [{ topic: name, partition, offset: await t.parts[partition].append([encoded], [ts]) }];
      }
      // Encode and validate every record before appending any, so a rejected call appends nothing.
      const byPartition = new Map<number, { idx: number[]; encoded: Buffer[]; ts: number[] }>();
      records.forEach((r, i) => {
        const { partition, ts, encoded } = prepare(name, t, now, r);
        let g = byPartition.get(partition);
        if (!g) byPartition.set(partition, g = { idx: [], encoded: [], ts: [] });
        g.idx.push(i);
        g.encoded.push(encoded);
        g.ts.push(ts);
      });
      const out: RecordMetadata[] = new Array(records.length);
      await Promise.all([...byPartition].map(async ([partition, g]) => {
        const base = await t.parts[partition].append(g.encoded, g.ts);
        g.idx.forEach((i, n) => { out[i] = { topic: name, partition, offset: base + n }; });
      }));
      return out;
    },

    async read(name, partition, fromOffset, maxRecords) {
      const p = part(name, partition);
      if (!Number.isInteger(fromOffset) || fromOffset < 0) {
        throw new EventLogError('INVALID_PARTITION', `invalid offset ${fromOffset} for ${name}/${partition}`);
      }
      return p.read(fromOffset, maxRecords);
    },

    async endOffsets(name) { return topic(name).parts.map((p) => p.end); },
    async beginningOffsets(name) { return topic(name).parts.map(() => 0); },
    async offsetsForTimestamp(name, timestamp) { return topic(name).parts.map((p) => p.offsetForTimestamp(timestamp)); },

    async committedOffsets(groupId) {
      ensureOpen();
      return groups.committed(groupId);
    },

    async commitOffsets(groupId, offsets) {
      ensureOpen();
      await groups.commit(groupId, offsets);
    },

    async listGroups() {
      ensureOpen();
      return groups.ids();
    },

    async subscribe(sub: Subscription): Promise<ConsumerHandle> {
      const assigned: TopicPartition[] = sub.topics.flatMap((name) => topic(name).parts.map((_, partition) => ({ topic: name, partition })));
      const seek = (await sub.onAssigned?.(assigned)) ?? new Map<string, number>();
      ensureOpen();
      const partitions = assigned.map((tp) => ({ ...tp, log: part(tp.topic, tp.partition) }));
      const consumer = new EmbeddedSubscription(sub, startOffsets(sub, partitions, seek, groups.committed(sub.groupId), logger), {
        // Through the log, so a commit after close fails with LOG_CLOSED (logged, batch redelivered on restart).
        commit: (groupId, offsets) => log.commitOffsets(groupId, offsets),
        onStop: (c) => consumers.delete(c),
        redeliveryDelayMs,
        logger,
      });
      consumers.add(consumer);
      consumer.start();
      return consumer.handle();
    },

    close() {
      closing ??= (async () => {
        // Consumers first, while the log is open: their last (interval) offset commits go through.
        await Promise.all([...consumers].map((c) => c.stop()));
        closed = true;
        await finishClose();
      })();
      return closing;
    },
  };
  async function finishClose(): Promise<void> {
    await topics.idle();
    await groups.idle();
    const refused = topics.refusedPartitions();
    await topics.close();
    // Clean only when every write made it: a partition whose fsync failed may hold a torn tail.
    if (refused.length === 0) await writeFile(join(dir, CLEAN_SHUTDOWN_MARKER), `${new Date().toISOString()}\n`);
    await lock.release();
    logger.info({ dir, clean: refused.length === 0 }, 'embedded event log closed');
  }
  return log;
}

/** True when `<dataDir>/log/topics.json` exists (the CLI uses it to tell a fresh data dir). */
export async function embeddedEventLogExists(dataDir: string): Promise<boolean> {
  return stat(join(resolve(dataDir, 'log'), 'topics.json')).then(() => true, () => false);
}
