/**
 * The topics of the embedded log and their partitions. Metadata lives in `<dir>/topics.json`
 * (`{"version": 1, "topics": [{name, partitions, compacted}]}`, replaced atomically), segments in
 * `<dir>/topics/<topic>/<partition>.log`. A topic exists once it is in `topics.json`: segments of
 * a topic whose creation a crash interrupted are reset when it is created again.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { TopicDescription, TopicSpec } from '../event-log.port.ts';
import { EventLogError } from '../event-log.errors.ts';
import { fsyncDir, writeFileAtomic } from '../../files/atomic-file.ts';
import { PartitionLog, type PartitionRecovery, type SyncData } from './partition-log.ts';

/** Kafka's legal topic names (besides `.` and `..`). */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export interface TopicState {
  spec: TopicDescription;
  /** Index = partition number. */
  parts: PartitionLog[];
  /** Counter of the default partitioner for null keys. */
  roundRobin: number;
}

export interface TopicRegistryOptions {
  /** The log directory (`<dataDir>/log`); `topics/` in it must exist. */
  dir: string;
  fsync: boolean;
  /** Makes a segment's written bytes durable (used only when `fsync`). */
  syncData: SyncData;
  /** Largest record body the recovery scan accepts, bytes. */
  maxRecordBytes: number;
  logger: Logger;
  /** The last close was clean (CLEAN_SHUTDOWN marker): recovery may truncate nothing. */
  cleanShutdown?: boolean;
  /** Called whenever a partition acknowledged new records. */
  onAppended: () => void;
}

export class TopicRegistry {
  private readonly topics = new Map<string, TopicState>();
  /** Topic creations, one after the other (they rewrite `topics.json`). */
  private metaChain: Promise<void> = Promise.resolve();
  private readonly topicsDir: string;

  private constructor(private readonly opts: TopicRegistryOptions) {
    this.topicsDir = join(opts.dir, 'topics');
  }

  /**
   * Opens every topic listed in `topics.json`, recovering each segment (torn tails truncated).
   * @throws fs errors other than a missing `topics.json`; partitions opened so far are closed.
   */
  static async open(opts: TopicRegistryOptions): Promise<TopicRegistry> {
    const registry = new TopicRegistry(opts);
    try {
      await registry.recover();
    } catch (err) {
      await registry.close();
      throw err;
    }
    return registry;
  }

  get size(): number { return this.topics.size; }

  /** Partitions refusing appends (after a failed fsync), with the reason. */
  refusedPartitions(): Array<{ topic: string; partition: number; reason: string }> {
    const out: Array<{ topic: string; partition: number; reason: string }> = [];
    for (const t of this.topics.values()) {
      for (const p of t.parts) if (p.refusal) out.push({ topic: p.topic, partition: p.partition, reason: p.refusal });
    }
    return out;
  }

  list(): TopicDescription[] {
    return [...this.topics.values()].map((t) => ({ ...t.spec }));
  }

  /** @throws EventLogError UNKNOWN_TOPIC */
  topic(name: string): TopicState {
    const t = this.topics.get(name);
    if (!t) throw new EventLogError('UNKNOWN_TOPIC', `unknown topic ${name}`);
    return t;
  }

  /** @throws EventLogError UNKNOWN_TOPIC, INVALID_PARTITION */
  partition(name: string, partition: number): PartitionLog {
    const t = this.topic(name);
    if (!Number.isInteger(partition) || partition < 0 || partition >= t.parts.length) {
      throw new EventLogError('INVALID_PARTITION', `topic ${name} has no partition ${partition} (partitions: ${t.parts.length})`);
    }
    return t.parts[partition];
  }

  /**
   * Creates a topic; a no-op when it exists with the same partition count.
   * @throws EventLogError INVALID_TOPIC (name outside Kafka's `[a-zA-Z0-9._-]{1,249}`),
   *   INVALID_PARTITION (count not an integer ≥ 1), TOPIC_CONFLICT (exists with another count).
   */
  async create(spec: TopicSpec): Promise<void> {
    if (!TOPIC_NAME.test(spec.name) || spec.name === '.' || spec.name === '..') {
      throw new EventLogError('INVALID_TOPIC', `illegal topic name "${spec.name}" (Kafka allows [a-zA-Z0-9._-], 1..249 chars)`);
    }
    if (!Number.isInteger(spec.partitions) || spec.partitions < 1) {
      throw new EventLogError('INVALID_PARTITION', `topic ${spec.name}: partitions must be an integer ≥ 1, got ${spec.partitions}`);
    }
    const run = this.metaChain.then(() => this.createNow(spec));
    this.metaChain = run.catch(() => {});
    return run;
  }

  /** Resolves when no append and no topic creation is running. */
  async idle(): Promise<void> {
    for (const t of this.topics.values()) for (const p of t.parts) await p.idle();
    await this.metaChain;
  }

  /** Closes every segment file. */
  async close(): Promise<void> {
    for (const t of this.topics.values()) for (const p of t.parts) await p.close();
  }

  private async recover(): Promise<void> {
    const meta = JSON.parse(await readFile(join(this.opts.dir, 'topics.json'), 'utf8').catch((err) => {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '{"topics":[]}';
      throw err;
    })) as { topics: TopicDescription[] };
    const { maxRecordBytes, logger, cleanShutdown } = this.opts;
    for (const spec of meta.topics) {
      const parts: PartitionLog[] = [];
      await mkdir(join(this.topicsDir, spec.name), { recursive: true });
      for (let p = 0; p < spec.partitions; p++) parts.push(await this.openPartition(spec.name, p, { maxRecordBytes, logger, cleanShutdown }));
      this.topics.set(spec.name, { spec: { name: spec.name, partitions: spec.partitions, compacted: !!spec.compacted }, parts, roundRobin: 0 });
    }
  }

  private async createNow(spec: TopicSpec): Promise<void> {
    const existing = this.topics.get(spec.name);
    if (existing) {
      if (existing.spec.partitions !== spec.partitions) {
        throw new EventLogError('TOPIC_CONFLICT', `topic ${spec.name} exists with ${existing.spec.partitions} partitions, not ${spec.partitions}`);
      }
      return;
    }
    const tdir = join(this.topicsDir, spec.name);
    await mkdir(tdir, { recursive: true });
    const parts: PartitionLog[] = [];
    for (let p = 0; p < spec.partitions; p++) {
      // A leftover segment of a crashed createTopic is reset: the topic was never announced.
      await writeFile(join(tdir, `${p}.log`), '');
      parts.push(await this.openPartition(spec.name, p));
    }
    if (this.opts.fsync) { await fsyncDir(tdir); await fsyncDir(this.topicsDir); }
    this.topics.set(spec.name, { spec: { name: spec.name, partitions: spec.partitions, compacted: !!spec.compacted }, parts, roundRobin: 0 });
    try {
      await this.save();
    } catch (err) {
      this.topics.delete(spec.name);
      for (const p of parts) await p.close();
      throw err;
    }
    this.opts.logger.debug({ topic: spec.name, partitions: spec.partitions }, 'topic created');
  }

  private openPartition(topic: string, partition: number, recovery?: PartitionRecovery): Promise<PartitionLog> {
    const { fsync, syncData, onAppended } = this.opts;
    return PartitionLog.open({ topic, partition, path: join(this.topicsDir, topic, `${partition}.log`), fsync, syncData, onAppended }, recovery);
  }

  private save(): Promise<void> {
    return writeFileAtomic(
      join(this.opts.dir, 'topics.json'),
      JSON.stringify({ version: 1, topics: [...this.topics.values()].map((t) => t.spec) }, null, 2),
      this.opts.fsync,
    );
  }
}
