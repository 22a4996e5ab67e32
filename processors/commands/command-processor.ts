/**
 * The command processor (ADR 0006, issue 10): the single writer of every aggregate in cluster mode.
 *
 * A consumer group on `streamwave.commands`. The instance assigned commands partition p decides
 * every command of p: the videos and comment threads whose events are on partition p of the event
 * topics (co-partitioned: same key, same partition count, same partitioner) and the username
 * reservations keyed to p. Per batch of one partition, in ONE Kafka transaction
 * (`subscribeTransactional`, one transactional producer per commands partition, so a zombie
 * owner is fenced when the partition moves):
 *
 * 1. the states are current for the partition without reading the log: this processor's own
 *    commits are applied to the cache as they return (`applyCommitted`; the follower skips their
 *    records later), and what previous owners of the partition committed was read when it was
 *    assigned (after the fencing InitProducerId completed their last transaction). The rest of the
 *    log (other partitions: the users topic's usernames, the storage quota) is followed in the
 *    background every BACKGROUND_FOLLOW_MS;
 * 2. decide each command in order against the cache under a scratch overlay (a command sees the
 *    events of the commands before it in the batch), with the same decider registry and
 *    `decideRouted` as the in-process handler;
 * 3. commit: the events (to their topics, key = stream id, timestamp = the command's time), the
 *    new reservations (to the changelog), the consumed offset, the next offset again in the
 *    positions changelog (a new owner starts from it: the group offset of a just-completed
 *    transaction may not be visible yet, schemas/topics.ts) and, built from the events'
 *    positions, each command's outcome (to `streamwave.command-replies`, key = its `replyTo`).
 *
 * Partitions are worked in parallel (their batches overlap on I/O; decisions are synchronous).
 *
 * So a command is decided exactly once, across crashes, restarts and rebalances: its decision,
 * its outcome and its offset are visible together or not at all (READ_COMMITTED). A refused
 * command is an outcome too (no events). A record that cannot be decoded has no reply address: it
 * is logged and skipped (its waiter times out). Uniqueness of usernames: a registration is decided
 * on its reservation key's partition, against the reservations of the changelog (complete for the
 * partition: only its owner writes it), the usernames of the users topic (registrations made
 * before the processor existed) and the batch's own.
 *
 * Per-user storage quota is read from the cache's storage index over every videos partition:
 * eventually consistent across partitions (parallel uploads of one owner on different partitions
 * may overshoot by what is in flight).
 */
import { DataKeyError } from '../../platform/keys/data-key-store.port.ts';
import { pino, type Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { DomainError } from '../../domain/shared/event.ts';
import type { DomainEvent } from '../../domain/events.ts';
import {
  COMMAND_REPLIES_TOPIC, COMMANDS_TOPIC, DEFAULT_TOPIC_PARTITIONS, ensureCommandTopics, ensureEventTopics, TOPIC_OF, TOPICS,
  USERNAME_RESERVATIONS_CHANGELOG,
  COMMAND_POSITIONS_CHANGELOG,
} from '../../schemas/topics.ts';
import { CodecError, type EventCodec } from '../../schemas/event-codec.port.ts';
import type { CommandCodec, CommandOutcome, CommandRecord } from '../../schemas/command-codec.port.ts';
import { supportsTransactions, tpKey, type ConsumerHandle, type EventLog, type LogRecord, type OutputRecord, type RecordMetadata } from '../../platform/log/event-log.port.ts';
import { createAggregateStateCache } from '../../commands/aggregate-state-cache.ts';
import type { CrossAggregateLookups } from '../../commands/aggregates.ts';
import { decideRouted } from '../../commands/command-handler.ts';
import { commandTopicKey, type UsernameDigest } from '../../commands/command-keys.ts';
import { routeCommand } from '../../commands/routing.ts';
import { createStorageIndex, DEFAULT_USER_STORAGE_QUOTA_BYTES, type PendingUpload } from '../../commands/storage-index.ts';
import { COMMAND_ID_HEADER, commandIdOf, createCommandIdIndex, idempotencyKeyReused, isIdempotentId, type RememberedCommand } from '../../commands/command-ids.ts';
import { createTopicFollower } from '../../commands/topic-follower.ts';
import { createUsernameIndex } from '../../commands/username-index.ts';

/** Pause between two background reads of the log (other partitions' aggregates, usernames, quota), ms. */
const BACKGROUND_FOLLOW_MS = 100;

/** Consumer group (and transactional.id prefix) of the command processors. */
export const COMMAND_PROCESSOR_GROUP = 'streamwave.command-processor';

/** Stable codes of {@link CommandProcessorError}. */
export type CommandProcessorErrorCode =
  /** The log has no transactions (the embedded log): standalone decides in-process instead (ADR 0006). */
  | 'TRANSACTIONS_UNSUPPORTED'
  /** The commands topic and the event topics have different partition counts: aggregates would have two owners. */
  | 'NOT_COPARTITIONED';

export class CommandProcessorError extends Error {
  constructor(readonly code: CommandProcessorErrorCode, message: string) {
    super(message);
    this.name = 'CommandProcessorError';
  }
}

/** What `runCommandProcessor` needs. */
export interface CommandProcessorOptions {
  /** A log with transactions (Kafka). */
  log: EventLog;
  /** The events' codec. */
  codec: EventCodec;
  /** The commands' and outcomes' codec. */
  commands: CommandCodec;
  /** The reservation key of a username (command-keys.ts); the same secret as the gateways'. */
  usernameDigest: UsernameDigest;
  logger?: Logger;
  /** Consumer group; default COMMAND_PROCESSOR_GROUP. */
  groupId?: string;
  /** Partitions of the topics created when missing. Default DEFAULT_TOPIC_PARTITIONS (6). */
  partitions?: number;
  /** Per-user storage quota, bytes (issue 8). Default 50 GiB. */
  userStorageQuotaBytes?: number;
  /** Commands per transaction. Default 200. */
  maxBatchSize?: number;
  /** The processor's clock for `decidedAt`, ms. Default Date.now. */
  now?: () => number;
  /**
   * Prometheus registry for `streamwave_commands_total{outcome}` (accepted | refused | skipped)
   * and `streamwave_command_batch_duration_seconds` (decide + commit of one batch).
   */
  registry?: Registry;
}

/** A running command processor. */
export interface CommandProcessorHandle {
  /** Resolves once every assigned commands partition is processed up to its end offset at call time. */
  caughtUp(): Promise<void>;
  /** Per commands `topic:partition`: end offset minus the processor's position (records). */
  lag(): Promise<Map<string, number>>;
  /** Uploads still `pending_upload` that started at or before `startedBefore` (ms), oldest first: for the upload reaper. */
  pendingUploads(startedBefore: number): PendingUpload[];
  /** Commands decided (accepted + refused) and skipped (undecodable) since start. */
  counts(): { accepted: number; refused: number; skipped: number };
  /** Leaves the group and closes the producers; the log stays open (it is the caller's). */
  stop(): Promise<void>;
}

/** One decided command of a batch: its record, where its events are among the outputs, or its refusal. */
interface Decided {
  record: CommandRecord;
  /** Indexes [from, to) of its events in the batch's outputs. */
  from: number;
  to: number;
  refusal: CommandOutcome['refusal'];
  /** A repeated command id decided in an earlier batch: that decision's events and positions (command-ids.ts). */
  first?: RememberedCommand;
  /** The events it decided (outputs [from, to)). */
  events: DomainEvent[];
}

/**
 * Starts a command processor on `opts.log` (see the file comment): creates the topics when
 * missing, checks co-partitioning, rebuilds the aggregate states, then joins the group.
 * @throws CommandProcessorError TRANSACTIONS_UNSUPPORTED, NOT_COPARTITIONED; the log's errors.
 */
export async function runCommandProcessor(opts: CommandProcessorOptions): Promise<CommandProcessorHandle> {
  const { log, codec, commands, usernameDigest } = opts;
  if (!supportsTransactions(log)) {
    throw new CommandProcessorError('TRANSACTIONS_UNSUPPORTED', 'the command processor needs a log with transactions (Kafka); standalone mode decides commands in-process');
  }
  const logger = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'command-processor' });
  const now = opts.now ?? Date.now;
  const partitions = opts.partitions ?? DEFAULT_TOPIC_PARTITIONS;
  await ensureEventTopics(log, { partitions });
  await ensureCommandTopics(log, { partitions });
  const counts = new Map((await log.listTopics()).map((t) => [t.name, t.partitions]));
  const coPartitioned = [TOPICS.videos, TOPICS.comments, USERNAME_RESERVATIONS_CHANGELOG, COMMAND_POSITIONS_CHANGELOG].filter((t) => counts.get(t) !== counts.get(COMMANDS_TOPIC));
  if (coPartitioned.length > 0) {
    throw new CommandProcessorError('NOT_COPARTITIONED',
      `${COMMANDS_TOPIC} has ${counts.get(COMMANDS_TOPIC)} partitions but ${coPartitioned.map((t) => `${t} has ${counts.get(t)}`).join(', ')}: every aggregate must have one owner`);
  }

  const usernames = createUsernameIndex();
  const storage = createStorageIndex();
  const commandIds = createCommandIdIndex();
  const cache = createAggregateStateCache({
    log, codec, logger,
    onRecord: (event, r) => commandIds.remember(commandIdOf(r), event, r),
    onChange: (change) => {
      if (change.kind === 'user') usernames.userChanged(change.id, change.before, change.after);
      else if (change.kind === 'video') storage.videoChanged(change.id, change.before, change.after);
    },
  });
  /** Reservation key → user id, from the changelog. */
  const reservations = new Map<string, string>();
  const changelog = createTopicFollower(log, USERNAME_RESERVATIONS_CHANGELOG);
  const followReservations = () => changelog.catchUp((r) => {
    if (r.key === null) return;
    if (r.value === null) reservations.delete(r.key);
    else reservations.set(r.key, r.value.toString('utf8'));
  });
  await cache.rebuild();
  await followReservations();
  const quota = opts.userStorageQuotaBytes ?? DEFAULT_USER_STORAGE_QUOTA_BYTES;
  /** Reads every own topic and the reservation changelog forward, up to their end offsets now. */
  const followAll = async (): Promise<void> => { await Promise.all([cache.catchUp(), followReservations()]); };
  /**
   * Keeps the states of aggregates this processor does not decide (other partitions: usernames on
   * the users topic, the storage quota) fresh. What a batch must see is there without it: this
   * processor's own commits are applied at once (`applyCommitted`), and what the previous owners of
   * a partition committed is read when the partition is assigned (`onAssigned`).
   */
  const background = { stopped: false, wake: () => {} };
  const backgroundFollow = (async () => {
    while (!background.stopped) {
      try {
        await followAll();
      } catch (err) {
        logger.warn({ err }, 'following the log in the background failed; retrying');
      }
      await new Promise<void>((resolve) => { const t = setTimeout(resolve, BACKGROUND_FOLLOW_MS); background.wake = () => { clearTimeout(t); resolve(); }; });
    }
  })();
  const tally = { accepted: 0, refused: 0, skipped: 0 };
  const decidedTotal = opts.registry && new Counter({ name: 'streamwave_commands_total', help: 'Commands taken off streamwave.commands by this command processor, by outcome (accepted, refused by a decider, skipped as undecodable).', labelNames: ['outcome'], registers: [opts.registry] });
  const batchSeconds = opts.registry && new Histogram({ name: 'streamwave_command_batch_duration_seconds', help: 'Decide + commit of one batch of commands, seconds.', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [opts.registry] });
  const phaseSeconds = opts.registry && new Histogram({
    name: 'streamwave_command_batch_phase_seconds', help: 'One phase of a batch of commands, seconds: decide (decode, decide, encode), commit (the Kafka transaction with the outcomes).',
    labelNames: ['phase'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [opts.registry],
  });

  async function decodeCommand(r: LogRecord): Promise<CommandRecord | undefined> {
    try {
      if (r.value === null) throw new CodecError('EMPTY_RECORD', 'empty record');
      return await commands.decode(r.value);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err; // not a bad record but an outage (the data-key store): redelivered
      tally.skipped++;
      decidedTotal?.inc({ outcome: 'skipped' });
      logger.warn({ err, partition: r.partition, offset: r.offset }, 'skipping a command record that cannot be decoded (no reply address: its sender times out)');
      return undefined;
    }
  }

  async function processBatch(records: readonly LogRecord[], commit: (outputs: OutputRecord[], then: (positions: RecordMetadata[]) => Promise<OutputRecord[]>) => Promise<RecordMetadata[]>): Promise<void> {
    let phase = phaseSeconds?.startTimer({ phase: 'decide' });
    const overlay = cache.overlay();
    /** Reservation key → holder decided in this batch; null: freed by an erasure. */
    const batchReservations = new Map<string, string | null>();
    const lookups: CrossAggregateLookups = {
      userIdOfUsername: (username) => {
        const key = usernameDigest(username);
        if (batchReservations.has(key)) return batchReservations.get(key) ?? undefined;
        return reservations.get(key) ?? usernames.holder(username);
      },
      storageUsedBy: (ownerId) => storage.usedBy(ownerId),
      userStorageQuotaBytes: quota,
    };
    const outputs: OutputRecord[] = [];
    const decided: Decided[] = [];
    /** Idempotent command ids accepted in this batch → their decision (a repeat in the same batch replies with it). */
    const firstInBatch = new Map<string, { streamId: string; decided: Decided }>();
    for (const r of records) {
      const record = await decodeCommand(r);
      if (!record) continue;
      const from = outputs.length;
      let events: DomainEvent[];
      let routedStreamId: string | undefined;
      try {
        const routed = routeCommand(record.command);
        routedStreamId = routed.streamId;
        if (commandTopicKey(routed, usernameDigest) !== r.key) {
          throw new DomainError('MISROUTED_COMMAND', `a ${routed.command.type} must be keyed by its aggregate (${COMMANDS_TOPIC} key ${String(r.key)} is not)`, 'invalid');
        }
        // A repeated Idempotency-Key: the first decision's outcome, not a second decision.
        const again = firstInBatch.get(record.commandId);
        if (again) {
          if (again.streamId !== routed.streamId) throw idempotencyKeyReused();
          decided.push({ ...again.decided, record, events: [] }); // the same outcome; its events are applied once, with the first
          continue;
        }
        const first = commandIds.lookup(record.commandId, routed.streamId, routed.command.metadata.now);
        if (first) {
          decided.push({ record, from, to: from, refusal: null, first, events: [] });
          continue;
        }
        events = decideRouted(routed, overlay, lookups);
        const headers = { [COMMAND_ID_HEADER]: record.commandId };
        for (const e of events) {
          const topic = TOPIC_OF[e.type];
          outputs.push({ topic, key: routed.streamId, value: await codec.encode(topic, e), timestamp: routed.command.metadata.now, headers });
        }
        if (routed.kind === 'user' && events.length > 0) {
          const key = usernameDigest(routed.command.data.username);
          const holder = routed.command.type === 'RegisterUser' ? routed.command.data.userId : null; // an erasure frees the name (issue 13)
          batchReservations.set(key, holder);
          outputs.push({ topic: USERNAME_RESERVATIONS_CHANGELOG, key, value: holder === null ? null : Buffer.from(holder, 'utf8') });
        }
      } catch (caught) {
        // Issue 13: a command of a user erased while in flight cannot be written: refused, not redelivered.
        const err = caught instanceof DataKeyError && caught.code === 'KEY_ERASED' ? new DomainError('USER_ERASED', 'the user was erased', 'forbidden') : caught;
        if (!(err instanceof DomainError)) throw err; // codec or log trouble: the batch is redelivered
        outputs.length = from;
        decided.push({ record, from, to: from, refusal: { code: err.code, message: err.message, kind: err.kind }, events: [] });
        continue;
      }
      overlay.evolve(events);
      const d: Decided = { record, from, to: from + events.length, refusal: null, events };
      decided.push(d);
      if (isIdempotentId(record.commandId) && events.length > 0) firstInBatch.set(record.commandId, { streamId: routedStreamId!, decided: d });
    }
    phase?.();
    phase = phaseSeconds?.startTimer({ phase: 'commit' });
    const decidedAt = now();
    const written = await commit(outputs, async (positions) => {
      const replies: OutputRecord[] = [];
      for (const d of decided) {
        if (d.record.replyTo === null) continue;
        const outcome: CommandOutcome = {
          commandId: d.record.commandId, accepted: d.refusal === null, refusal: d.refusal, decidedAt,
          events: d.first ? d.first.values : outputs.slice(d.from, d.to).map((o) => o.value!),
          positions: d.first ? d.first.positions : positions.slice(d.from, d.to),
        };
        replies.push({ topic: COMMAND_REPLIES_TOPIC, key: d.record.replyTo, value: await commands.encodeOutcome(outcome) });
      }
      return replies;
    });
    phase?.();
    // Committed: the next batch decides on these at once, without reading them back (the cache
    // reports them to `onRecord`, which remembers their command ids, as it does for records it reads).
    cache.applyCommitted(decided.flatMap((d) => d.events.map((event, i) => {
      const o = outputs[d.from + i];
      return { event, record: { ...written[d.from + i], key: o.key, value: o.value, headers: o.headers ?? {}, timestamp: o.timestamp ?? decidedAt } };
    })));
    for (const [key, userId] of batchReservations) {
      if (userId === null) reservations.delete(key);
      else reservations.set(key, userId);
    }
    for (const d of decided) {
      const outcome = d.refusal === null ? 'accepted' : 'refused';
      tally[outcome]++;
      decidedTotal?.inc({ outcome });
    }
  }

  const groupId = opts.groupId ?? COMMAND_PROCESSOR_GROUP;
  /**
   * The next commands offset to decide on `partition` as the last committed transaction recorded
   * it in the positions changelog (schemas/topics.ts COMMAND_POSITIONS_CHANGELOG), or undefined.
   * Reads the partition's tail backwards in steps (one record per transaction, each followed by
   * its commit marker).
   */
  async function savedPosition(partition: number, begin: number[], end: number[]): Promise<number | undefined> {
    for (let to = end[partition] ?? 0, step = 256; to > (begin[partition] ?? 0); to -= step, step *= 4) {
      const from = Math.max(begin[partition] ?? 0, to - step);
      let last: number | undefined;
      for (let o = from; o < to;) {
        const records = await log.read(COMMAND_POSITIONS_CHANGELOG, partition, o, to - o);
        if (records.length === 0) break;
        for (const r of records) if (r.value !== null) last = Number(r.value.toString('utf8'));
        o = records[records.length - 1].offset + 1;
      }
      if (last !== undefined && Number.isSafeInteger(last)) return last;
    }
    return undefined;
  }
  const positionRecord = (partition: number, next: number): OutputRecord =>
    ({ topic: COMMAND_POSITIONS_CHANGELOG, partition, key: String(partition), value: Buffer.from(String(next), 'utf8') });

  const stopBackground = async () => { background.stopped = true; background.wake(); await backgroundFollow; };
  const consumer: ConsumerHandle = await log.subscribeTransactional({
    groupId,
    topics: [COMMANDS_TOPIC],
    fromBeginning: true,
    maxBatchSize: opts.maxBatchSize ?? 200,
    // Partitions in parallel: their aggregates and reservation keys are disjoint, each batch
    // decides under its own overlay, and the followers hand every record over once however many
    // batches follow the log at the same time (topic-follower.ts).
    partitionsConsumedConcurrently: partitions,
    // After the producers' InitProducerId fenced the previous owners (their last transaction is
    // complete, its records readable): read what they committed, and start from the larger of the
    // group offset and the position their last transaction recorded (OffsetFetch may not show it yet).
    async onAssigned(parts) {
      // What the previous owners committed is complete now: read it before deciding on it.
      await followAll();
      const [committed, begin, end] = await Promise.all([
        log.committedOffsets(groupId), log.beginningOffsets(COMMAND_POSITIONS_CHANGELOG), log.endOffsets(COMMAND_POSITIONS_CHANGELOG),
      ]);
      const start = new Map<string, number>();
      for (const p of parts) {
        const k = tpKey(p.topic, p.partition);
        const best = Math.max(committed.get(k) ?? -1, (await savedPosition(p.partition, begin, end)) ?? -1);
        if (best >= 0) start.set(k, best);
        if (best > (committed.get(k) ?? -1)) logger.info({ partition: p.partition, committed: committed.get(k) ?? null, saved: best }, 'starting after a transaction whose offsets are not visible yet');
      }
      return start;
    },
    async eachBatch(batch, tx) {
      const end = batchSeconds?.startTimer();
      const next = batch.records[batch.records.length - 1].offset + 1;
      try {
        await processBatch(batch.records, (outputs, then) => tx.commit(outputs, next, async (positions) => [...(await then(positions)), positionRecord(batch.partition, next)]));
      } finally {
        end?.();
      }
    },
  }).catch(async (err: unknown) => { await stopBackground(); throw err; });
  logger.info({ groupId }, 'command processor started');
  let stopping: Promise<void> | undefined;
  return {
    caughtUp: () => consumer.caughtUp(),
    lag: () => consumer.lag(),
    pendingUploads: (startedBefore) => storage.pendingUploads(startedBefore),
    counts: () => ({ ...tally }),
    stop() {
      stopping ??= consumer.stop().then(async () => {
        await stopBackground();
        logger.info('command processor stopped');
      });
      return stopping;
    },
  };
}
