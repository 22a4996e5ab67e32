import { pino, type Logger } from 'pino';
import { assertNever, DomainError } from '../domain/shared/event.ts';
import { keyOf, type DomainEvent } from '../domain/events.ts';
import { DEFAULT_TOPIC_PARTITIONS, ensureEventTopics, TOPIC_OF, TOPICS } from '../schemas/topics.ts';
import { AppendOnlySet } from '../domain/shared/append-only-set.ts';
import { decideUser, evolveUser, initialUserState, usernameKey, type UserState } from '../domain/user/user.decider.ts';
import { decideVideo, evolveVideo, initialVideoState, type VideoState } from '../domain/video/video.decider.ts';
import { decideComment, evolveComment, type CommentThreadState } from '../domain/comment/comment.decider.ts';
import { decideView } from '../domain/view/view.decider.ts';
import type { EventLog, RecordMetadata } from '../platform/log/event-log.port.ts';
import type { EventCodec } from '../schemas/event-codec.port.ts';
import type { Command, CommandBus, CommandResult, CommandType } from './command-bus.port.ts';


/** Raised by the bus itself (not by a decider). Codes: `NOT_STARTED`. */
export class CommandBusError extends Error {
  constructor(readonly code: 'NOT_STARTED', message: string) {
    super(message);
    this.name = 'CommandBusError';
  }
}

export interface CommandBusOptions {
  log: EventLog;
  codec: EventCodec;
  logger?: Logger;
  /** Partitions of topics the bus creates when missing. Default DEFAULT_TOPIC_PARTITIONS (6). */
  partitions?: number;
  /** Records per `log.read` while rebuilding. Default 1000. */
  readBatchSize?: number;
}

export interface LocalCommandBus extends CommandBus {
  /**
   * Creates the topics if missing, then rebuilds every aggregate's state by reading the users,
   * videos and comments topics from the beginning (views carry no aggregate state). Idempotent:
   * a second call returns the same promise. `send` waits for it.
   */
  start(): Promise<void>;
  /** The in-memory state of a video aggregate, `undefined` if the video never existed. */
  getVideoState(videoId: string): VideoState | undefined;
  /** The in-memory state of a user aggregate, `undefined` if not registered. */
  getUserState(userId: string): UserState | undefined;
  /** The userId holding a username (case-insensitive, NFKC), if any. */
  findUserIdByUsername(username: string): string | undefined;
}

const COMMAND_TYPES: ReadonlySet<CommandType> = new Set<CommandType>([
  'RegisterUser', 'StartUpload', 'CompleteUpload', 'StartProcessing', 'ReportProcessingProgress', 'RecordRenditionEncoded',
  'PublishVideo', 'FailProcessing', 'CompleteProcessing', 'UpdateVideoMetadata', 'DeleteVideo', 'PostComment', 'RecordView',
]);

/** Lock key of a registration: one for all users, because username uniqueness spans user aggregates. */
const USER_REGISTRY_LOCK = 'user-registry';

/**
 * The command side in one process: decides commands with the pure deciders in `domain/` against
 * in-memory aggregate states, appends the events to the log, then evolves the states.
 *
 * Guarantee: a single writer per aggregate **in this process**. Commands of one aggregate run one at
 * a time (a per-key promise chain: videos and their comment threads share the key `video:<videoId>`,
 * registrations share one key for username uniqueness); the state is evolved only after the log
 * acknowledged the append, so a failed append changes nothing in memory. RecordView takes no lock:
 * a heartbeat changes no state and has no invariant across heartbeats.
 * This holds only while one process writes the topics. Cluster mode will route every command by
 * aggregate id to the one command processor owning that key's partition (like Kafka Streams'
 * single-threaded task per input partition), with Kafka transactions per input partition
 * (KIP-98/KIP-447) to fence zombie writers; not implemented here.
 *
 * If an append fails (e.g. a timeout after which the record may or may not be on the log), the
 * aggregate is marked stale and re-read from its topic before its next command.
 *
 * @throws from `send`: DomainError from the deciders (plus `USERNAME_TAKEN` (conflict) for a
 *   RegisterUser with a username held by another user, `INVALID_COMMAND` (invalid) for a malformed
 *   command); CommandBusError `NOT_STARTED` before `start()`; the log's or codec's error when an append fails.
 */
export function createCommandBus(opts: CommandBusOptions): LocalCommandBus {
  const { log, codec } = opts;
  const logger = opts.logger ?? pino({ level: 'silent' });
  const partitions = opts.partitions ?? DEFAULT_TOPIC_PARTITIONS;
  const readBatchSize = opts.readBatchSize ?? 1000;

  const users = new Map<string, UserState>();
  const usernames = new Map<string, string>();
  const videos = new Map<string, VideoState>();
  const threads = new Map<string, AppendOnlySet>();
  /** Aggregates whose last append failed: `topic\0key`. */
  const stale = new Set<string>();
  const chains = new Map<string, Promise<unknown>>();
  let started: Promise<void> | undefined;

  /** Evolves the in-memory state with one event (during rebuild and after an acknowledged append). */
  function apply(event: DomainEvent): void {
    switch (event.type) {
      case 'UserRegistered': {
        const before = users.get(event.data.userId) ?? initialUserState;
        const after = evolveUser(before, event);
        if (after !== before && after.status === 'registered') {
          users.set(after.userId, after);
          const k = usernameKey(after.username);
          if (!usernames.has(k)) usernames.set(k, after.userId); // first registration of a name wins on replay
        }
        return;
      }
      case 'UploadStarted':
      case 'UploadCompleted':
      case 'VideoProcessingStarted':
      case 'VideoProcessingProgressed':
      case 'RenditionEncoded':
      case 'VideoPublished':
      case 'VideoProcessingFailed':
      case 'VideoProcessingCompleted':
      case 'VideoMetadataUpdated':
      case 'VideoDeleted': {
        const id = event.data.videoId;
        videos.set(id, evolveVideo(videos.get(id) ?? initialVideoState, event));
        return;
      }
      case 'CommentPosted': {
        const id = event.data.videoId;
        const thread: CommentThreadState = { video: videos.get(id) ?? initialVideoState, commentIds: threads.get(id) ?? AppendOnlySet.empty() };
        threads.set(id, evolveComment(thread, event).commentIds);
        return;
      }
      case 'VideoViewed':
        return;
      default:
        assertNever(event);
    }
  }

  async function decodeAndApply(records: { value: Buffer | null; topic: string; partition: number; offset: number; key: string | null }[], onlyKey?: string) {
    for (const r of records) {
      if (r.value === null) continue;
      if (onlyKey !== undefined && r.key !== onlyKey) continue;
      let event: DomainEvent;
      try {
        event = await codec.decode(r.value);
      } catch (err) {
        logger.warn({ err, topic: r.topic, partition: r.partition, offset: r.offset }, 'skipping undecodable record while rebuilding aggregates');
        continue;
      }
      apply(event);
    }
  }

  /** Reads partitions of a topic from the beginning up to the end offsets taken now. */
  async function replayTopic(topic: string, onlyKey?: string): Promise<number> {
    const [begin, end] = await Promise.all([log.beginningOffsets(topic), log.endOffsets(topic)]);
    let count = 0;
    // Aggregates never span partitions (key = aggregate id), so partitions replay independently.
    await Promise.all(end.map(async (endOffset, partition) => {
      let offset = begin[partition] ?? 0;
      while (offset < endOffset) {
        const records = await log.read(topic, partition, offset, Math.min(readBatchSize, endOffset - offset));
        if (records.length === 0) break; // nothing readable below the end offset (e.g. truncated by retention)
        await decodeAndApply(records, onlyKey);
        count += records.length;
        offset = records[records.length - 1].offset + 1;
      }
    }));
    return count;
  }

  async function doStart(): Promise<void> {
    await ensureEventTopics(log, { partitions });
    // Videos before comments is not required for correctness (their states are separate maps), but
    // replaying them one topic at a time keeps memory and log reads predictable.
    for (const topic of [TOPICS.users, TOPICS.videos, TOPICS.comments]) {
      const n = await replayTopic(topic);
      logger.info({ topic, records: n }, 'aggregates rebuilt from topic');
    }
    logger.info({ users: users.size, videos: videos.size }, 'command bus started');
  }

  /** Re-reads one aggregate after a failed append (its in-memory state may lag the log). */
  async function reloadIfStale(topic: string, key: string): Promise<void> {
    const id = `${topic}\0${key}`;
    if (!stale.has(id)) return;
    if (topic === TOPICS.users) {
      users.delete(key);
      for (const [k, v] of usernames) if (v === key) usernames.delete(k);
    } else if (topic === TOPICS.videos) {
      videos.delete(key);
    } else if (topic === TOPICS.comments) {
      threads.delete(key);
    }
    await replayTopic(topic, key);
    stale.delete(id);
    logger.info({ topic, key }, 'stale aggregate reloaded from the log');
  }

  /** Keys of the aggregates of `topic` marked stale. */
  function staleKeys(topic: string): string[] {
    const prefix = `${topic}\0`;
    return [...stale].filter((id) => id.startsWith(prefix)).map((id) => id.slice(prefix.length));
  }

  /** Runs `fn` after every earlier task of `key` settled (a per-key mutex). */
  function serialise<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = chains.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.then(() => undefined, () => undefined);
    chains.set(key, tail);
    void tail.then(() => { if (chains.get(key) === tail) chains.delete(key); });
    return run;
  }

  /** Encodes and appends events (one aggregate, so one key), in order, grouped by topic. */
  async function append(events: DomainEvent[], timestamp: number): Promise<RecordMetadata[]> {
    const positions: RecordMetadata[] = [];
    let i = 0;
    while (i < events.length) {
      const topic = TOPIC_OF[events[i].type];
      const group: DomainEvent[] = [];
      while (i < events.length && TOPIC_OF[events[i].type] === topic) group.push(events[i++]);
      const records = await Promise.all(group.map(async (e) => ({ key: keyOf(e), value: await codec.encode(topic, e), timestamp })));
      try {
        positions.push(...(await log.append(topic, records)));
      } catch (err) {
        for (const r of records) if (r.key !== null) stale.add(`${topic}\0${r.key}`);
        throw err;
      }
    }
    return positions;
  }

  async function commit(events: DomainEvent[], now: number): Promise<CommandResult> {
    if (events.length === 0) return { events: [], positions: [] };
    const positions = await append(events, now);
    for (const e of events) apply(e);
    return { events, positions };
  }

  function validate(command: Command): void {
    const c = command as unknown as { type?: unknown; data?: unknown; metadata?: { now?: unknown } };
    if (c === null || typeof c !== 'object' || typeof c.type !== 'string' || !COMMAND_TYPES.has(c.type as CommandType)) {
      throw new DomainError('INVALID_COMMAND', `unknown command type ${String(c?.type)}`, 'invalid');
    }
    if (c.data === null || typeof c.data !== 'object') throw new DomainError('INVALID_COMMAND', 'command data is required', 'invalid');
    if (typeof c.metadata?.now !== 'number' || !Number.isFinite(c.metadata.now)) {
      throw new DomainError('INVALID_COMMAND', 'metadata.now must be a time in ms since the epoch', 'invalid');
    }
    const id = command.type === 'RegisterUser' ? command.data.userId : command.data.videoId;
    if (typeof id !== 'string' || id.length === 0) throw new DomainError('INVALID_COMMAND', 'the aggregate id is required', 'invalid');
  }

  async function handle(command: Command): Promise<CommandResult> {
    const now = command.metadata.now;
    switch (command.type) {
      case 'RegisterUser':
        return serialise(USER_REGISTRY_LOCK, async () => {
          // Username uniqueness spans user aggregates: a registration of ANOTHER user whose append
          // was ambiguous may hold this name on the log, so every stale user is re-read, not only this one.
          for (const userId of staleKeys(TOPICS.users)) await reloadIfStale(TOPICS.users, userId);
          await reloadIfStale(TOPICS.users, command.data.userId);
          const events = decideUser(command, users.get(command.data.userId) ?? initialUserState);
          const holder = usernames.get(usernameKey(command.data.username));
          if (holder !== undefined && holder !== command.data.userId) {
            throw new DomainError('USERNAME_TAKEN', `username ${command.data.username} is taken`, 'conflict');
          }
          return commit(events, now);
        });
      case 'StartUpload':
      case 'CompleteUpload':
      case 'StartProcessing':
      case 'ReportProcessingProgress':
      case 'RecordRenditionEncoded':
      case 'PublishVideo':
      case 'FailProcessing':
      case 'CompleteProcessing':
      case 'UpdateVideoMetadata':
      case 'DeleteVideo': {
        const id = command.data.videoId;
        return serialise(`video:${id}`, async () => {
          await reloadIfStale(TOPICS.videos, id);
          return commit(decideVideo(command, videos.get(id) ?? initialVideoState), now);
        });
      }
      case 'PostComment': {
        const id = command.data.videoId;
        return serialise(`video:${id}`, async () => {
          await reloadIfStale(TOPICS.videos, id);
          await reloadIfStale(TOPICS.comments, id);
          const thread: CommentThreadState = { video: videos.get(id) ?? initialVideoState, commentIds: threads.get(id) ?? AppendOnlySet.empty() };
          return commit(decideComment(command, thread), now);
        });
      }
      case 'RecordView': {
        const id = command.data.videoId;
        return commit(decideView(command, videos.get(id) ?? initialVideoState), now);
      }
      default:
        return assertNever(command);
    }
  }

  return {
    start() {
      // A failed start (e.g. the log is unreachable) may be retried.
      started ??= doStart().catch((err: unknown) => { started = undefined; throw err; });
      return started;
    },
    async send(command) {
      if (!started) throw new CommandBusError('NOT_STARTED', 'call start() before sending commands');
      await started;
      validate(command);
      return handle(command);
    },
    getVideoState: (videoId) => videos.get(videoId),
    getUserState: (userId) => users.get(userId),
    findUserIdByUsername: (username) => usernames.get(usernameKey(username)),
  };
}
