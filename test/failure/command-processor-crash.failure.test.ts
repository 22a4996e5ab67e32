/**
 * Failure proof — COMMAND PROCESSOR CRASH (issue 10, ADR 0006): a backlog of ≥ 20,000 commands on
 * `streamwave.commands` (registrations, half of them of a name already asked for in another case;
 * uploads started, completed twice, edited, some deleted and edited after) is decided by the
 * `commands` role process, which is `kill -9`ed three times mid-load and restarted. Afterwards:
 * - every command has exactly one outcome on the replies topic (`lost: 0`, `decided twice: 0`);
 * - the events on the users, videos and comments topics and the reservation changelog equal, key by
 *   key and in order, those of a CLEAN run of the same commands by a processor never killed
 *   (sha-256 digest printed for both).
 * Real Kafka broker (deploy/local/kafka.sh); skipped without Java/Maven.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaRequirement, startKafkaBroker, freePort, type KafkaBroker } from '../support/kafka-broker.ts';
import { createKafkaEventLog, type KafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { createConfluentSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createAvroCommandCodec } from '../../schemas/codec/avro-command-codec.ts';
import { createPersonalDataCipher } from '../../schemas/codec/personal-data.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import type { TopicCommand } from '../../schemas/command-codec.port.ts';
import { loadConfig } from '../../deploy/config/config.ts';
import { startRole, type RunningRole } from '../../deploy/cluster/roles.ts';
import { COMMAND_REPLIES_TOPIC, COMMANDS_TOPIC, ensureCommandTopics, ensureEventTopics, TOPICS, USERNAME_RESERVATIONS_CHANGELOG } from '../../schemas/topics.ts';
import { commandTopicKey, createUsernameDigest } from '../../commands/command-keys.ts';
import { routeCommand } from '../../commands/routing.ts';
import { COMMAND_PROCESSOR_GROUP, runCommandProcessor } from '../../processors/commands/command-processor.ts';
import { clusterSecretsEnv } from '../support/cluster-secrets.ts';
import { prng, sleep, spawnRole, waitHealthy, waitUntil, type RoleProcess } from './support/cluster-harness.ts';

const NAMES = 2_000;
const VIDEOS = 2_000;
const PARTITIONS = 6;
const T0 = Date.UTC(2026, 10, 29, 9, 0, 0);
const seed = Number(process.env.STREAMWAVE_PROOF_SEED ?? Date.now() % 1_000_000);
const rnd = prng(seed);

const skip = await kafkaRequirement();
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const f of cleanups.reverse()) await f().catch(() => {}); }, { timeout: 120_000 });

/** The backlog, in append order: ≥ 20,000 commands, deterministic (ids and times on the commands). */
function backlog(): TopicCommand[] {
  const out: TopicCommand[] = [];
  let t = T0;
  for (let i = 0; i < NAMES; i++) {
    for (const [suffix, name] of [['a', `user${i}`], ['b', `USER${i}`]] as const) {
      out.push({ type: 'RegisterUser', data: { userId: `usr_${i}_${suffix}`, username: name, email: `${i}${suffix}@example.org`, passwordHash: '$scrypt$proof' }, metadata: { now: t++ } });
    }
  }
  for (let v = 0; v < VIDEOS; v++) {
    const videoId = `vid_${v}`;
    const ownerId = `usr_${v % NAMES}_a`;
    const meta = (actor?: string) => (actor ? { now: t++, actorId: actor } : { now: t++ });
    out.push({ type: 'StartUpload', data: { videoId, ownerId, uploadId: `upl_${v}`, objectKey: `uploads/${videoId}/source`, filename: 'c.mp4', sizeBytes: 1_000 + v, contentType: 'video/mp4', title: `video ${v}`, description: '', tags: ['proof'], partSizeBytes: 5_242_880 }, metadata: meta(ownerId) });
    out.push({ type: 'CompleteUpload', data: { videoId, uploadId: `upl_${v}`, sizeBytes: 1_000 + v }, metadata: meta() });
    out.push({ type: 'CompleteUpload', data: { videoId, uploadId: `upl_${v}`, sizeBytes: 1_000 + v }, metadata: meta() });
    out.push({ type: 'UpdateVideoMetadata', data: { videoId, title: `video ${v}, edited` }, metadata: meta(ownerId) });
    out.push({ type: 'UpdateVideoMetadata', data: { videoId, tags: ['proof', 'edited'] }, metadata: meta('usr_stranger') });
    if (v % 4 === 0) out.push({ type: 'DeleteVideo', data: { videoId }, metadata: meta(ownerId) });
    else out.push({ type: 'UpdateVideoMetadata', data: { videoId, description: 'kept' }, metadata: meta(ownerId) });
    out.push({ type: 'UpdateVideoMetadata', data: { videoId, title: 'after' }, metadata: meta(ownerId) });
    out.push({ type: 'StartUpload', data: { videoId, ownerId, uploadId: `upl_${v}_again`, objectKey: `uploads/${videoId}/again`, filename: 'c.mp4', sizeBytes: 1, contentType: 'video/mp4', title: 'again', description: '', tags: [], partSizeBytes: 5_242_880 }, metadata: meta(ownerId) });
  }
  return out;
}

/** Every record of `topic` (READ_COMMITTED), per partition in order. */
async function readAll(log: EventLog, topic: string) {
  const out: { partition: number; key: string | null; value: Buffer | null }[] = [];
  for (const [p, end] of (await log.endOffsets(topic)).entries()) {
    for (let from = 0; from < end;) {
      const records = await log.read(topic, p, from, 2_000);
      if (records.length === 0) break;
      out.push(...records.map((r) => ({ partition: p, key: r.key, value: r.value })));
      from = records.at(-1)!.offset + 1;
    }
  }
  return out;
}

/** sha-256 of the decoded events of the aggregates' topics and of the changelog, key by key in log order. */
async function digestOf(log: EventLog, decode: (b: Buffer) => Promise<unknown>) {
  const perKey = new Map<string, string[]>();
  let events = 0;
  for (const topic of [TOPICS.users, TOPICS.videos, TOPICS.comments, USERNAME_RESERVATIONS_CHANGELOG]) {
    for (const r of await readAll(log, topic)) {
      const value = topic === USERNAME_RESERVATIONS_CHANGELOG ? r.value?.toString('utf8') : await decode(r.value!);
      const k = `${topic}|${r.key}`;
      perKey.set(k, [...(perKey.get(k) ?? []), JSON.stringify(value)]);
      events++;
    }
  }
  const h = createHash('sha256');
  for (const k of [...perKey.keys()].sort()) h.update(`${k}\n${perKey.get(k)!.join('\n')}\n`);
  return { digest: h.digest('hex'), events };
}

test('command processor crash proof: kill -9 of the commands role mid-load loses and repeats no decision', { skip, timeout: 900_000 }, async (t) => {
  t.diagnostic(`seed ${seed} (STREAMWAVE_PROOF_SEED)`);
  const broker: KafkaBroker = await startKafkaBroker();
  cleanups.push(() => broker.stop());
  const dataDir = await mkdtemp(join(tmpdir(), 'streamwave-command-crash-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const secrets = clusterSecretsEnv();
  const registryPassword = secrets.STREAMWAVE_SCHEMA_REGISTRY_PASSWORD!;
  const registry: RunningRole = await startRole('registry', loadConfig({
    STREAMWAVE_DATA_DIR: join(dataDir, 'registry'), STREAMWAVE_PORT: String(await freePort()), STREAMWAVE_KAFKA_BROKERS: broker.bootstrap,
    STREAMWAVE_LOG_LEVEL: 'silent', STREAMWAVE_SCHEMA_REGISTRY_PASSWORD: registryPassword,
  }));
  cleanups.push(() => registry.stop());
  const api = createConfluentSchemaRegistryApi({ host: registry.url, auth: { username: 'streamwave', password: registryPassword } });
  // The roles' data keys (issue 13): the embedded store of their shared data dir, so the clean run
  // encrypts and the digests decrypt with the keys the commands role used.
  const keys = await createEmbeddedDataKeyStore({ dir: join(dataDir, 'roles', 'keys') });
  cleanups.push(() => keys.close());
  const codec = createAvroEventCodec({ registry: api, personalData: createPersonalDataCipher(keys) });
  const commands = createAvroCommandCodec({ registry: api });
  await codec.registerAll();
  await commands.registerAll();
  const digest = createUsernameDigest(secrets.STREAMWAVE_USERNAME_KEY_SECRET!);

  const open = async (clientId: string, namespace?: string): Promise<KafkaEventLog> => {
    const log = await createKafkaEventLog({ brokers: [broker.bootstrap], clientId, replicationFactor: 1, ...(namespace && { namespace }), maxWaitTimeMs: 100, sessionTimeoutMs: 6_000, heartbeatIntervalMs: 500 });
    cleanups.push(() => log.close());
    return log;
  };
  const crashLog = await open('command-crash-loader');
  const cleanLog = await open('command-clean-loader', 'clean');
  const load = backlog();
  assert.ok(load.length >= 20_000, `${load.length} commands`);
  const records = await Promise.all(load.map(async (command, i) => ({
    key: commandTopicKey(routeCommand(command), digest),
    value: await commands.encode({ command, commandId: `cmd_${i}`, replyTo: 'proof' }),
    timestamp: command.metadata.now,
  })));
  for (const log of [crashLog, cleanLog]) {
    await ensureEventTopics(log, { partitions: PARTITIONS, replicationFactor: 1 });
    await ensureCommandTopics(log, { partitions: PARTITIONS, replicationFactor: 1 });
    for (let i = 0; i < records.length; i += 2_000) await log.append(COMMANDS_TOPIC, records.slice(i, i + 2_000));
  }

  // --- the crash run: the commands role process, killed three times at varying points ------------
  const roleEnv = {
    STREAMWAVE_DATA_DIR: join(dataDir, 'roles'), STREAMWAVE_KAFKA_BROKERS: broker.bootstrap, STREAMWAVE_SCHEMA_REGISTRY_URL: registry.url,
    STREAMWAVE_TOPIC_PARTITIONS: String(PARTITIONS), ...secrets,
  };
  const decided = async () => [...(await crashLog.committedOffsets(COMMAND_PROCESSOR_GROUP)).values()].reduce((a, b) => a + b, 0);
  let live: RoleProcess | undefined;
  cleanups.push(async () => { await live?.kill9(); });
  const killedAt: number[] = [];
  for (let round = 0; round < 3; round++) {
    live = await spawnRole('commands', roleEnv);
    await waitHealthy(live);
    const before = await decided();
    await waitUntil(`run ${round} deciding`, 120_000, async () => (await decided()) > before, 20);
    await sleep(Math.floor(rnd() * 300));
    await live.kill9();
    killedAt.push(await decided());
  }
  live = await spawnRole('commands', roleEnv);
  await waitHealthy(live);
  await waitUntil('every command decided', 300_000, async () => (await decided()) >= load.length, 250);
  await live.terminate();

  // --- the clean run: an in-process processor on its own copy of the topics, never killed ---------
  const clean = await runCommandProcessor({ log: cleanLog, codec, commands, usernameDigest: digest, partitions: PARTITIONS });
  cleanups.push(() => clean.stop());
  await waitUntil('clean run decided every command', 300_000, async () => {
    const c = clean.counts();
    return c.accepted + c.refused >= load.length;
  }, 250);
  await clean.stop();

  // --- figures ----------------------------------------------------------------------------------
  const outcomes = await readAll(crashLog, COMMAND_REPLIES_TOPIC);
  const perCommand = new Map<string, number>();
  let refused = 0;
  for (const r of outcomes) {
    const o = await commands.decodeOutcome(r.value!);
    perCommand.set(o.commandId, (perCommand.get(o.commandId) ?? 0) + 1);
    if (!o.accepted) refused++;
  }
  const lost = load.length - perCommand.size;
  const decidedTwice = [...perCommand.values()].filter((n) => n > 1).length;
  const crash = await digestOf(crashLog, (b) => codec.decode(b));
  const reference = await digestOf(cleanLog, (b) => codec.decode(b));
  t.diagnostic(`${load.length} commands, commands role killed at ${killedAt.join(', ')} decided; outcomes ${outcomes.length} (refused ${refused}); lost: ${lost}, decided twice: ${decidedTwice}; events ${crash.events} digest ${crash.digest.slice(0, 16)} vs clean run ${reference.events} ${reference.digest.slice(0, 16)}`);
  assert.ok(killedAt.every((n) => n < load.length), `every kill landed mid-load (${killedAt.join(', ')})`);
  assert.equal(lost, 0);
  assert.equal(decidedTwice, 0);
  assert.equal(crash.digest, reference.digest, 'the crash run wrote exactly the clean run\'s events');
});
