import { pino, type Logger } from 'pino';
import type { DomainEvent } from '../domain/events.ts';
import { DEFAULT_TOPIC_PARTITIONS, ensureEventTopics, TOPIC_OF } from '../schemas/topics.ts';
import type { EventCodec } from '../schemas/event-codec.port.ts';
import type { EventLog, ProduceRecord, RecordMetadata } from '../platform/log/event-log.port.ts';
import { AGGREGATES, lockOf, type AggregateDefinition, type AggregateKind, type CommandOf, type CrossAggregateLookups, type StateOf } from './aggregates.ts';
import { routeCommand, type RoutedCommand } from './routing.ts';
import { createAggregateStateCache } from './aggregate-state-cache.ts';
import { createStorageIndex, DEFAULT_USER_STORAGE_QUOTA_BYTES, type PendingUpload } from './storage-index.ts';
import { createUsernameIndex } from './username-index.ts';
import type { CommandBus, CommandResult } from './command-bus.port.ts';
import { COMMAND_ID_HEADER, commandIdOf, createCommandIdIndex, isIdempotentId } from './command-ids.ts';

/** Raised by the handler itself (not by a decider). Codes: `NOT_STARTED`. */
export class CommandBusError extends Error {
  constructor(readonly code: 'NOT_STARTED', message: string) {
    super(message);
    this.name = 'CommandBusError';
  }
}

/** What `createCommandBus` needs: the log it appends to and rebuilds from, the codec of its records. */
export interface CommandHandlerOptions {
  log: EventLog;
  codec: EventCodec;
  logger?: Logger;
  /** Partitions of event topics the handler creates when missing. Default DEFAULT_TOPIC_PARTITIONS (6). */
  partitions?: number;
  /**
   * Per-user storage quota, bytes (issue 8): StartUpload fails with STORAGE_QUOTA_EXCEEDED when the
   * user's live, non-failed videos plus the new declaration exceed it. Default 50 GiB.
   */
  userStorageQuotaBytes?: number;
}

/** The write side of one process: the `CommandBus` port plus its lifecycle and a read of its aggregate states. */
export interface CommandHandler extends CommandBus {
  /**
   * Creates the event topics when missing, then rebuilds every aggregate state by reading the
   * topics the registry's stateful kinds evolve from (users, videos, comments; never views) from
   * the beginning. Idempotent: a second call returns the same promise; a failed start may be
   * retried. `send` waits for it.
   * @throws the log's error (e.g. EventLogError `TOPIC_CONFLICT` for a topic with another partition count).
   */
  start(): Promise<void>;
  /**
   * The state a command of `kind` on stream `streamId` would be decided against (a comment thread
   * includes its video; a view sees the video), `undefined` if the aggregate never existed.
   */
  state<K extends AggregateKind>(kind: K, streamId: string): StateOf<K> | undefined;
  /** The userId holding a username (case-insensitive, NFKC), if any. */
  findUserIdByUsername(username: string): string | undefined;
  /** Uploads still `pending_upload` that started at or before `startedBefore` (ms since the epoch), oldest first; for the upload reaper. */
  pendingUploads(startedBefore: number): PendingUpload[];
  /** Bytes counted against a user's storage quota (storage-index.ts). */
  storageUsedBy(ownerId: string): number;
}

/**
 * `decide` of the command's kind against the state `states` holds for its stream, then the kind's
 * cross-aggregate checks (only when it produced events: an idempotent retry breaks nothing).
 * Pure of I/O; shared by the in-process handler and the command processor (ADR 0006).
 * @throws the decider's DomainError, or a cross-aggregate one (`USERNAME_TAKEN`, `STORAGE_QUOTA_EXCEEDED`).
 */
export function decideRouted(
  routed: RoutedCommand,
  states: StatesOf,
  lookups: CrossAggregateLookups,
): DomainEvent[] {
  return decideKind(routed.kind, routed.command, routed.streamId, states, lookups);
}

type StatesOf = { state<K extends AggregateKind>(kind: K, id: string): StateOf<K> | undefined };

// At module level, not a closure made per command: the loader's keep-names wrapper (esbuild's
// `__name`, an Object.defineProperty) on every closure assigned to a name costs ~1 µs per call (issue 12).
function decideKind<K extends AggregateKind>(kind: K, command: CommandOf<K>, streamId: string, states: StatesOf, lookups: CrossAggregateLookups): DomainEvent[] {
  const def: AggregateDefinition<K> = AGGREGATES[kind];
  const events: DomainEvent[] = def.decider.decide(command, states.state(kind, streamId) ?? def.decider.initialState);
  if (events.length > 0) def.checkAcross?.(command, lookups);
  return events;
}

/**
 * The generic command handler, driven by the decider registry (aggregates.ts):
 * validate and route (routing.ts) → serialise on the stream's concurrency key → reload the stale
 * streams of that key → load the state from the cache → `decide` → cross-aggregate checks
 * (`USERNAME_TAKEN`) → encode and append the events grouped by topic (key = stream id, timestamp
 * = `metadata.now`, ms) → evolve the cache → the events and their log positions.
 *
 * Guarantee: a single writer per aggregate **in this process**. Commands of one stream run one
 * at a time (a per-key promise chain: videos and their comment threads share `video:<videoId>`,
 * registrations share one key because username uniqueness spans user aggregates; views take no
 * lock: a heartbeat changes no state). The cache is evolved only after the log acknowledged the
 * append, so a failed append changes nothing in memory; an append that failed ambiguously (e.g. a
 * timeout: the records may be on the log) marks the streams stale, and they are re-read from their
 * partitions before the next command on their key. Across processes nothing is serialised: this
 * handler is standalone mode's write side (one process, one writer). Cluster mode decides in the
 * command processor (processors/commands/command-processor.ts, ADR 0006) with the same deciders
 * and `decideRouted`.
 *
 * `send` resolves once the events are acknowledged (durable); `events: []` for an idempotent retry.
 * @throws from `send`: CommandBusError `NOT_STARTED` before `start()`; DomainError `INVALID_COMMAND`
 *   (invalid) for a malformed envelope; the deciders' DomainErrors; `USERNAME_TAKEN` (conflict)
 *   for a RegisterUser whose username another user holds; the log's or codec's error when an
 *   append fails.
 */
export function createCommandBus(opts: CommandHandlerOptions): CommandHandler {
  const { log, codec } = opts;
  const logger = opts.logger ?? pino({ level: 'silent' });
  const partitions = opts.partitions ?? DEFAULT_TOPIC_PARTITIONS;
  const usernames = createUsernameIndex();
  const storage = createStorageIndex();
  const commandIds = createCommandIdIndex();
  const cache = createAggregateStateCache({
    log,
    codec,
    logger,
    onRecord: (event, r) => commandIds.remember(commandIdOf(r), event, r),
    onChange: (change) => {
      if (change.kind === 'user') usernames.userChanged(change.id, change.before, change.after);
      else if (change.kind === 'video') storage.videoChanged(change.id, change.before, change.after);
    },
  });
  const lookups: CrossAggregateLookups = {
    userIdOfUsername: (username) => usernames.holder(username),
    storageUsedBy: (ownerId) => storage.usedBy(ownerId),
    userStorageQuotaBytes: opts.userStorageQuotaBytes ?? DEFAULT_USER_STORAGE_QUOTA_BYTES,
  };
  const chains = new Map<string, Promise<unknown>>();
  let started: Promise<void> | undefined;

  /** Runs `fn` after every earlier task of `key` settled (a per-key mutex). */
  function serialise<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = chains.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(() => undefined, () => undefined);
    chains.set(key, tail);
    void tail.then(() => { if (chains.get(key) === tail) chains.delete(key); });
    return run;
  }


  /**
   * Encodes and appends events of one stream, in order, one `log.append` per run of events of one
   * topic. On a failed append every stream written may lag the log: marked stale, then rethrown.
   */
  async function append(streamId: string, events: DomainEvent[], timestamp: number, commandId: string | undefined): Promise<{ positions: RecordMetadata[]; records: ProduceRecord[] }> {
    // Plain loops, no spreads: this runs once per heartbeat (issue 12).
    const groups: { topic: string; records: ProduceRecord[] }[] = [];
    const records: ProduceRecord[] = [];
    for (const e of events) {
      const topic = TOPIC_OF[e.type];
      const record: ProduceRecord = { key: streamId, value: await codec.encode(topic, e), timestamp };
      if (commandId) record.headers = { [COMMAND_ID_HEADER]: commandId };
      records.push(record);
      const last = groups.length ? groups[groups.length - 1]! : undefined;
      if (last?.topic === topic) last.records.push(record);
      else groups.push({ topic, records: [record] });
    }
    const positions: RecordMetadata[] = [];
    try {
      for (const g of groups) for (const p of await log.append(g.topic, g.records)) positions.push(p);
    } catch (err) {
      for (const g of groups) cache.markAppendUnknown(g.topic, [streamId]);
      throw err;
    }
    return { positions, records };
  }

  async function decideAndAppend(routed: RoutedCommand): Promise<CommandResult> {
    const { commandId, now } = routed.command.metadata;
    // A repeated Idempotency-Key: the first decision's outcome, not a second decision (command-ids.ts).
    const first = commandIds.lookup(commandId, routed.streamId, now);
    if (first) return { events: first.events, positions: first.positions };
    const events = decideRouted(routed, cache, lookups);
    if (events.length === 0) return { events: [], positions: [] };
    const { positions, records } = await append(routed.streamId, events, now, commandId);
    cache.evolve(events);
    // Only an idempotent id is remembered (command-ids.ts): a heartbeat builds no records for it.
    if (isIdempotentId(commandId)) events.forEach((e, i) => commandIds.remember(commandId, e, { ...positions[i], key: routed.streamId, value: records[i].value, timestamp: now }));
    return { events, positions };
  }

  /** One attempt: under the stream's key (if any), reload the stale streams of that key, then decide and append. */
  function attempt(routed: RoutedCommand): Promise<CommandResult> {
    const key = lockOf(routed.kind, routed.streamId);
    if (key === null) return decideAndAppend(routed);
    return serialise(key, async () => {
      // Every stale stream this key protects, not only the command's own: for registrations, a user
      // whose registration was ambiguous may hold the username on the log.
      await cache.reloadStale((s) => lockOf(s.kind, s.id) === key);
      return decideAndAppend(routed);
    });
  }

  async function doStart(): Promise<void> {
    await ensureEventTopics(log, { partitions });
    await cache.rebuild();
    logger.info('command handler started');
  }

  return {
    start() {
      started ??= doStart().catch((err: unknown) => { started = undefined; throw err; });
      return started;
    },
    async send(command) {
      if (!started) throw new CommandBusError('NOT_STARTED', 'call start() before sending commands');
      await started;
      const routed = routeCommand(command);
      return attempt(routed);
    },
    state: (kind, streamId) => cache.state(kind, streamId),
    pendingUploads: (startedBefore) => storage.pendingUploads(startedBefore),
    storageUsedBy: (ownerId) => storage.usedBy(ownerId),
    findUserIdByUsername: (username) => usernames.holder(username),
  };
}
