/**
 * The personal-data upgrade of a Kafka cluster (issue 13), run by `streamwave migrate
 * personal-data` while every role is stopped: the event topics written before crypto-shredding
 * hold personal fields in plaintext, which no erasure could shred. Kafka cannot rename a topic, so
 * each affected topic T goes through:
 *
 * 1. Shadow: T is copied, every partition, into `T.personal-data-1` with its plaintext records
 *    encrypted (processors/migrations/personal-data-migration.ts), each record at its source
 *    offset (platform/log/kafka/kafka-offset-preserving-writer.ts reproduces the gaps that
 *    transaction markers left).
 * 2. Catch-up: nothing writes meanwhile (the roles are stopped, checked: no consumer group may
 *    have members), so the copy is complete when it reaches T's end.
 * 3. Switch: T is deleted and created again with the same partitions and settings, and the shadow
 *    is copied back byte for byte at the same offsets; then the shadow is deleted.
 * Before the shadow, a topic with a transaction still open (a producer that died mid-transaction)
 * is refused: READ_COMMITTED reads stop before it. A shadow whose topic was written to after it
 * was made (roles restarted after a failed run) is made again before the switch.
 * Offsets do not change, so consumer-group offsets and every read model's checkpoint stay valid:
 * nothing is rebuilt, no transcode is redone (deleting T deletes the groups' committed offsets on
 * it: they are recorded before and committed again after). Each step is recorded in the compacted topic
 * `streamwave.migrations` (key `personal-data-1/<topic>`), so a crash at any point resumes where
 * it stopped (the shadow is only deleted once T holds its copy).
 *
 * The commands topic (commands with personal fields, kept 7 days) is migrated the same way, with
 * the command codec; the replies topic, whose outcomes embed the events they decided and which
 * gateways read from its end only, is emptied (recreated) instead.
 *
 * The broker removes a deleted topic's files after `file.delete.delay.ms` (default 60 s), and its
 * replicas' copies with them; backups of the cluster taken before still hold the plaintext.
 */
import type pino from 'pino';
import type { TopicDescription } from '../../platform/log/event-log.port.ts';
import { createKafkaEventLog, type KafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import { createRedisClient, redisReady } from '../../platform/redis/redis-client.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import type { StreamWaveConfig } from '../config/config.ts';
import { openDataKeys } from '../shared/data-keys.ts';
import { kafkaConnectionOf } from './role-support.ts';
import { openOffsetPreservingWriter, partitionsWithOpenTransactions } from '../../platform/log/kafka/kafka-offset-preserving-writer.ts';
import { copyEncrypted, copyPartitions, partitionsWithPlaintext, plaintextProbe, topicsWithPersonalData, type MigrationCodec, type MigrationDeps, type MigrationProgress, type PartitionRef } from '../../processors/migrations/personal-data-migration.ts';
import type { AvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createAvroCommandCodec } from '../../schemas/codec/avro-command-codec.ts';
import type { CommandRecord } from '../../schemas/command-codec.port.ts';
import { COMMAND_REPLIES_RETENTION_MS, COMMAND_REPLIES_TOPIC, COMMANDS_RETENTION_MS, COMMANDS_TOPIC } from '../../schemas/topics.ts';

/** The compacted topic recording migration steps. */
export const MIGRATIONS_TOPIC = 'streamwave.migrations';
const MIGRATION = 'personal-data-1';
const shadowOf = (topic: string) => `${topic}.${MIGRATION}`;

type Step = 'shadowed' | 'switching' | 'switched' | 'done';

/** What the upgrade did per topic. */
export interface ClusterUpgradeResult {
  /** Topics rewritten by this run (resumed ones included). */
  migrated: string[];
  /** Records copied into shadows, and those of them rewritten encrypted. */
  copied: number;
  rewritten: number;
}

export interface ClusterUpgradeOptions {
  log: KafkaEventLog;
  /** The probe's codec (plaintextProbe over the cluster's data keys). */
  codec: AvroEventCodec;
  /**
   * The command codec over the same probe, as a MigrationCodec: the commands topic holds commands
   * with personal fields (RegisterUser, PostComment, …) for its retention. Absent: not migrated.
   */
  commandCodec?: MigrationCodec;
  probe: MigrationDeps['probe'];
  /** Replication factor of the topics it creates. */
  replicationFactor: number;
  logger: pino.Logger;
  onProgress?: (step: string, p: MigrationProgress) => void;
}

/** Refused: roles are running (consumer groups with members). */
export class ClusterBusyError extends Error {
  constructor(readonly groups: string[]) {
    super(`stop every role first: consumer groups with members: ${groups.join(', ')}`);
    this.name = 'ClusterBusyError';
  }
}

/**
 * Runs the upgrade (see the file comment). Idempotent: a cluster without plaintext is left alone.
 * @throws ClusterBusyError while any consumer group has members; the migration's errors.
 */
export async function upgradeClusterPersonalData(o: ClusterUpgradeOptions): Promise<ClusterUpgradeResult> {
  const { log, logger } = o;
  await refuseWhileBusy(log);
  await log.createTopic({ name: MIGRATIONS_TOPIC, partitions: 1, compacted: true, replicationFactor: o.replicationFactor });
  const steps = await readRecorded(log);
  const described = await log.listTopics();
  const texts = new Map([...o.codec.schemas].map(([type, s]) => [type, s.schemaText]));
  const names = described.map((t) => t.name);
  const candidates = [...topicsWithPersonalData(texts, names), ...(o.commandCodec && names.includes(COMMANDS_TOPIC) ? [COMMANDS_TOPIC] : [])];
  const depsOf = (topic: string): MigrationDeps => ({ codec: topic === COMMANDS_TOPIC && o.commandCodec ? o.commandCodec : o.codec, probe: o.probe });
  // A topic deleted mid-switch is not listed: its recorded step brings it back.
  const resumed = [...steps].filter(([, s]) => s.step !== 'done').map(([t]) => t);
  const result: ClusterUpgradeResult = { migrated: [], copied: 0, rewritten: 0 };
  // Refused before anything changes while a transaction is open on any of them.
  for (const topic of candidates) {
    const open = await partitionsWithOpenTransactions(log, topic);
    if (open.length) throw new Error(`${topic} partitions ${open.join(', ')} have a transaction still open (a producer died mid-transaction): run again once the broker aborted it (transaction.timeout.ms)`);
  }
  for (const topic of [...new Set([...candidates, ...resumed])].sort()) {
    let step = steps.get(topic)?.step;
    const savedOf = () => steps.get(topic)!.saved;
    // Written to since its shadow was made (roles restarted after a failed run)? Shadow it again.
    if (step === 'shadowed' && JSON.stringify(await log.endOffsets(topic).catch(() => null)) !== JSON.stringify(savedOf().ends)) step = undefined;
    if (step === undefined || step === 'done') {
      if ((await partitionsWithPlaintext(log, depsOf(topic), [topic])).length === 0) continue;
      const spec = described.find((t) => t.name === topic)!;
      const ends = await log.endOffsets(topic);
      const starts = await log.beginningOffsets(topic);
      logger.info({ topic, partitions: spec.partitions }, 'personal-data upgrade: copying the topic into an encrypted shadow');
      await recreate(log, { ...spec, name: shadowOf(topic) }, o.replicationFactor);
      const r = await copyEncrypted({ ...depsOf(topic), source: log, partitions: all(topic, spec.partitions), sinkFor: (t, p) => openOffsetPreservingWriter(log, shadowOf(t), p, starts[p]), onProgress: (p) => o.onProgress?.('shadow', p) });
      result.copied += r.copied;
      result.rewritten += r.rewritten;
      // Deleting T deletes the groups' committed offsets on it: recorded here, restored after the switch.
      await record(log, steps, topic, step = 'shadowed', { spec, ends, groups: await groupOffsetsOn(log, topic) });
    }
    if (step === 'shadowed' || step === 'switching') {
      const saved = savedOf();
      // From here T is deleted: a resumed run copies the shadow back whatever T then holds.
      if (step === 'shadowed') await record(log, steps, topic, step = 'switching', saved);
      logger.info({ topic }, 'personal-data upgrade: switching the topic to its encrypted copy');
      await recreate(log, saved.spec, o.replicationFactor);
      const starts = await log.beginningOffsets(shadowOf(topic));
      await copyPartitions({ source: log, partitions: all(shadowOf(topic), saved.spec.partitions), sinkFor: (_t, p) => openOffsetPreservingWriter(log, topic, p, starts[p]), onProgress: (p) => o.onProgress?.('switch', p) });
      for (const [group, offsets] of Object.entries(saved.groups)) await log.commitOffsets(group, new Map(Object.entries(offsets)));
      await record(log, steps, topic, step = 'switched', saved);
    }
    if (step === 'switched') {
      await log.deleteTopics([shadowOf(topic)]).catch(() => {});
      await record(log, steps, topic, 'done', savedOf());
      result.migrated.push(topic);
    }
  }
  // Outcomes on the replies topic embed the events they decided (plaintext ones too). Gateways
  // read it from its end only, so it is emptied rather than rewritten.
  if (result.migrated.includes(COMMANDS_TOPIC) && (await log.listTopics()).some((t) => t.name === COMMAND_REPLIES_TOPIC)) {
    const replies = (await log.listTopics()).find((t) => t.name === COMMAND_REPLIES_TOPIC)!;
    await recreate(log, replies, o.replicationFactor);
  }
  if (result.migrated.length) logger.info(result, 'personal-data upgrade: plaintext personal fields rewritten encrypted');
  return result;
}

const all = (topic: string, partitions: number): PartitionRef[] => Array.from({ length: partitions }, (_, partition) => ({ topic, partition }));

async function refuseWhileBusy(log: KafkaEventLog): Promise<void> {
  const admin = log.kafka.client.admin();
  await admin.connect();
  try {
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
    if (groups.length === 0) return;
    const { groups: described } = await admin.describeGroups(groups);
    const busy = described.filter((g) => g.members.length > 0).map((g) => g.groupId);
    if (busy.length) throw new ClusterBusyError(busy);
  } finally {
    await admin.disconnect();
  }
}

/** What the shadow step recorded of `topic`: its spec and the groups' committed offsets on it. */
interface Recorded {
  spec: TopicDescription;
  /** The topic's end offsets when its shadow was made. */
  ends: number[];
  /** group → `topic:partition` → offset. */
  groups: Record<string, Record<string, number>>;
}

/** The last recorded step of each topic, with what its shadow step recorded. */
type Steps = Map<string, { step: Step; saved: Recorded }>;

/** Reads `streamwave.migrations` once: the last record per topic of this migration wins (a compacted topic). */
async function readRecorded(log: KafkaEventLog): Promise<Steps> {
  const out: Steps = new Map();
  const [end] = await log.endOffsets(MIGRATIONS_TOPIC);
  for (let offset = 0; offset < end;) {
    const recs = await log.read(MIGRATIONS_TOPIC, 0, offset, 500);
    if (recs.length === 0) break;
    for (const r of recs) {
      if (!r.key?.startsWith(`${MIGRATION}/`) || !r.value) continue;
      const { step, spec, ends, groups } = JSON.parse(r.value.toString()) as { step: Step } & Partial<Recorded>;
      if (spec) out.set(r.key.slice(MIGRATION.length + 1), { step, saved: { spec, ends: ends ?? [], groups: groups ?? {} } });
    }
    offset = recs[recs.length - 1].offset + 1;
  }
  return out;
}

/** The committed offsets of every consumer group on `topic`'s partitions. */
async function groupOffsetsOn(log: KafkaEventLog, topic: string): Promise<Recorded['groups']> {
  const out: Recorded['groups'] = {};
  for (const group of await log.listGroups()) {
    const on = [...(await log.committedOffsets(group))].filter(([tp]) => tp.startsWith(`${topic}:`) && !tp.slice(topic.length + 1).includes(':'));
    if (on.length) out[group] = Object.fromEntries(on);
  }
  return out;
}

/** Records `topic`'s step durably, then in `steps`. */
async function record(log: KafkaEventLog, steps: Steps, topic: string, step: Step, saved: Recorded): Promise<void> {
  await log.append(MIGRATIONS_TOPIC, [{ key: `${MIGRATION}/${topic}`, value: Buffer.from(JSON.stringify({ step, ...saved, at: new Date().toISOString() })), partition: 0 }]);
  steps.set(topic, { step, saved });
}

/** Retention of a recreated topic, ms: the commands and replies topics keep theirs (schemas/topics.ts), the rest forever. */
function retentionOf(name: string): number | undefined {
  const base = name.endsWith(`.${MIGRATION}`) ? name.slice(0, -MIGRATION.length - 1) : name;
  if (base === COMMANDS_TOPIC) return COMMANDS_RETENTION_MS;
  if (base === COMMAND_REPLIES_TOPIC) return COMMAND_REPLIES_RETENTION_MS;
  return undefined;
}

/** Deletes `spec.name` if it exists, waits until it is gone, and creates it empty with `spec`. */
async function recreate(log: KafkaEventLog, spec: TopicDescription, replicationFactor: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  if ((await log.listTopics()).some((t) => t.name === spec.name)) await log.deleteTopics([spec.name]);
  for (;;) {
    try {
      await log.createTopic({ name: spec.name, partitions: spec.partitions, compacted: spec.compacted, replicationFactor, retentionMs: retentionOf(spec.name) });
      const ends = await log.endOffsets(spec.name);
      if (ends.every((e) => e === 0)) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`${spec.name} could not be created empty within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * `streamwave migrate personal-data`: the upgrade with the cluster's own configuration (Kafka and
 * its `_schemas` topic, read by an in-process registry; the data keys: Redis or `<dataDir>/keys`,
 * as the roles open them).
 * @throws ClusterBusyError while roles run; connection errors of Kafka, Redis or the registry.
 */
export async function runClusterPersonalDataUpgrade(config: StreamWaveConfig, logger: pino.Logger, onProgress?: ClusterUpgradeOptions['onProgress']): Promise<ClusterUpgradeResult> {
  if (config.kafkaBrokers.length === 0) throw new Error('the upgrade of a cluster needs STREAMWAVE_KAFKA_BROKERS; a standalone data dir is upgraded by `npm start` itself');
  const log = await createKafkaEventLog({
    ...kafkaConnectionOf(config), clientId: 'streamwave-migrate', logger: logger.child({ component: 'kafka' }),
  });
  const redis = config.servers.redisUrl ? createRedisClient(config.servers.redisUrl, { connectionName: 'streamwave-migrate', logger }) : undefined;
  try {
    if (redis) await redisReady(redis, 30_000);
    const keys = await openDataKeys({ redis, dataDir: config.dataDir, logger });
    try {
      // The registry's own store (`_schemas` on Kafka), read in this process: the roles are stopped.
      const registry = createSchemaRegistry({ log, logger: logger.child({ component: 'schema-registry' }) });
      await registry.start();
      try {
        const probe = plaintextProbe(keys.personalData);
        const api = createInProcessSchemaRegistryApi(registry);
        const codec = createAvroEventCodec({ registry: api, personalData: probe.cipher });
        const commands = createAvroCommandCodec({ registry: api, personalData: probe.cipher });
        const commandCodec: MigrationCodec = { decode: (v) => commands.decode(v), encode: (_topic, r: CommandRecord) => commands.encode(r) };
        return await upgradeClusterPersonalData({ log, codec, commandCodec, probe, replicationFactor: config.kafkaReplicationFactor, logger, onProgress });
      } finally {
        await registry.stop();
      }
    } finally {
      await keys.keys.close();
    }
  } finally {
    await redis?.quit().catch(() => redis.disconnect());
    await log.close();
  }
}
