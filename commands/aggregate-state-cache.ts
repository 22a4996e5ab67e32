import { pino, type Logger } from 'pino';
import type { Decider } from '../domain/shared/decider.ts';
import { keyOf, type DomainEvent } from '../domain/events.ts';
import { TOPIC_OF } from '../schemas/topics.ts';
import { CodecError, type EventCodec } from '../schemas/event-codec.port.ts';
import { tpKey, type EventLog, type LogRecord } from '../platform/log/event-log.port.ts';
import { partitionForKey } from '../platform/log/partitioner.ts';
import { createTopicFollower, type TopicFollower } from './topic-follower.ts';
import {
  AGGREGATES, kindsEvolvedBy, ownTopics, STATEFUL_KINDS, type AggregateKind, type StateOf, type StreamRef,
} from './aggregates.ts';

/** A stream's cached state changed: `before` undefined when it was not cached, `after` the new state. */
export type StateChange = {
  [K in AggregateKind]: { readonly kind: K; readonly id: string; readonly before: StateOf<K> | undefined; readonly after: StateOf<K> };
}[AggregateKind];

/** What the cache reads from (`log`, decoded with `codec`) and whom it tells about changes. */
export interface AggregateStateCacheOptions {
  log: EventLog;
  codec: EventCodec;
  logger?: Logger;
  /** Records per `log.read` while rebuilding or reloading. Default 1000. */
  readBatchSize?: number;
  /** Called after every change of a cached state, in log order (e.g. to feed the username index). */
  onChange?(change: StateChange): void;
  /**
   * Called with every event read forward from the log (`rebuild`, `catchUp`) that evolved a state,
   * with its record (headers included), in log order per partition: e.g. to remember command ids.
   */
  onRecord?(event: DomainEvent, record: LogRecord): void;
  /** The stateful kinds to hold (and whose own topics to read). Default every one (STATEFUL_KINDS). */
  kinds?: readonly AggregateKind[];
}

/**
 * The write side's in-memory aggregate states, per (kind, stream id), for the kinds that keep
 * state of their own (`STATEFUL_KINDS`). A kind that borrows another's state (comment threads,
 * views borrow the video's) is composed on read, so every video's state is held once.
 *
 * The cache does no locking: the command handler evolves and reloads a stream only while holding
 * that stream's concurrency key, and evolves only with events the log acknowledged.
 */
export interface AggregateStateCache {
  /**
   * Reads the own topics of every stateful kind from the beginning, up to the end offsets taken
   * when each topic starts, and evolves the states. Undecodable records are skipped with a warning.
   * Call once, before any other method.
   * @throws the log's error when a read fails.
   */
  rebuild(): Promise<void>;
  /**
   * The state `decide` sees for a command of `kind` on stream `id`: its own state combined with
   * the borrowed one. `undefined` when neither is cached (the aggregate never existed).
   */
  state<K extends AggregateKind>(kind: K, id: string): StateOf<K> | undefined;
  /** Evolves the states with events the log acknowledged, in order. Stream id: the event's key (`keyOf`). */
  evolve(events: readonly DomainEvent[]): void;
  /** Marks streams whose cached state may lag the log; `reloadStale` re-reads them. */
  markStale(streams: Iterable<StreamRef>): void;
  /**
   * Marks stale every stream whose own topics include `topic`, at `keys`: an append of those
   * records failed ambiguously (they may or may not be on the log).
   */
  markAppendUnknown(topic: string, keys: Iterable<string>): void;
  /**
   * Re-reads the stale streams `select` picks and replaces their cached states. Reads only the
   * partitions of their keys (`partitionForKey`, the partition count from `log.listTopics()`),
   * each partition once for all selected keys on it, from its beginning offset up to the end
   * offset taken now. The new states replace the old ones only once every read succeeded; on a
   * failure the streams stay stale and the error propagates.
   * @returns the number of streams reloaded.
   */
  reloadStale(select: (stream: StreamRef) => boolean): Promise<number>;
  /**
   * Follows the log: reads every partition of every own topic from where `rebuild` or the last
   * `catchUp` stopped up to the end offset taken now, and evolves the states (reporting changes).
   * For a cache that only the log advances (the command processor's): do not mix with `evolve`
   * or `reloadStale`, which apply events the positions do not know of (they would apply twice).
   * @returns the number of records read.
   * @throws the log's error when a read fails (positions keep what was read before it).
   */
  catchUp(): Promise<number>;
  /**
   * Applies events the caller has just committed to the log, with their positions, before the
   * follower reads them back (the command processor's own writes: the next batch must see them,
   * and reading them first costs a round trip). An event the follower has applied already is
   * skipped; otherwise it is evolved now and the follower skips its record when it gets there,
   * so each event is applied once whichever comes first; `onRecord` hears of it either way. For a
   * cache advanced by `catchUp`.
   */
  applyCommitted(events: ReadonlyArray<{ event: DomainEvent; record: LogRecord }>): void;
  /**
   * A scratch view over the cached states for a transaction in progress: `evolve` applies events
   * not yet on the log to copies, `state` reads the copies first. Nothing reaches the cache or
   * `onChange`; the overlay is dropped once the transaction is committed (`catchUp` then reads
   * its events from the log) or aborted.
   */
  overlay(): AggregateOverlay;
}

/** See AggregateStateCache.overlay. */
export interface AggregateOverlay {
  state<K extends AggregateKind>(kind: K, id: string): StateOf<K> | undefined;
  evolve(events: readonly DomainEvent[]): void;
}

const refKey = (kind: AggregateKind, id: string): string => `${kind}\0${id}`;

/** `evolve` of a kind over the events of its own topics; the caller checks the topic, which TypeScript cannot. */
const evolverOf = (kind: AggregateKind) =>
  (AGGREGATES[kind].decider as unknown as Decider<unknown, never, never, DomainEvent>).evolve;

/** An empty cache over `opts.log`; call `rebuild()` before use. */
export function createAggregateStateCache(opts: AggregateStateCacheOptions): AggregateStateCache {
  const { log, codec } = opts;
  const logger = opts.logger ?? pino({ level: 'silent' });
  const readBatchSize = opts.readBatchSize ?? 1000;
  const states = new Map<AggregateKind, Map<string, unknown>>(STATEFUL_KINDS.map((k) => [k, new Map()]));
  const held = new Set(opts.kinds ?? STATEFUL_KINDS);
  /** Stale streams (`kind\0id`) → the mark's generation, so a reload clears only marks older than itself. */
  const stale = new Map<string, { ref: StreamRef; generation: number }>();
  let generation = 0;

  const initial = (kind: AggregateKind): unknown => AGGREGATES[kind].decider.initialState;
  const cached = (kind: AggregateKind, id: string): unknown => states.get(kind)?.get(id);

  /** Stores `after` for a stream (dropping it when back to the initial state) and reports the change. */
  function replace(kind: AggregateKind, id: string, before: unknown, after: unknown): void {
    if (after === (before ?? initial(kind))) return;
    const map = states.get(kind)!;
    if (after === initial(kind)) map.delete(id);
    else map.set(id, after);
    opts.onChange?.({ kind, id, before, after } as StateChange);
  }

  /** Evolves `target` (the live states or a reload's scratch copy) with one event read from `topic`. */
  function evolveInto(target: (kind: AggregateKind, id: string) => { get(): unknown; set(s: unknown): void }, topic: string, event: DomainEvent, only?: ReadonlySet<string>) {
    // An event on a topic it does not belong to was not written by the command side: never fed to a decider.
    if (TOPIC_OF[event.type] !== topic) return false;
    const id = keyOf(event);
    if (only && !only.has(id)) return true;
    for (const kind of kindsEvolvedBy(topic)) {
      if (!held.has(kind)) continue;
      const slot = target(kind, id);
      slot.set(evolverOf(kind)(slot.get() ?? initial(kind), event));
    }
    return true;
  }

  // Slots are made per event and per command: methods, not arrow functions in properties, which the
  // loader's keep-names wrapper (esbuild's `__name`) would rename one by one (~1 µs each, issue 12).
  const live = (kind: AggregateKind, id: string) => ({
    get() { return cached(kind, id); },
    set(s: unknown) { replace(kind, id, cached(kind, id), s); },
  });

  async function decode(r: LogRecord, purpose: string): Promise<DomainEvent | undefined> {
    if (r.value === null) return undefined;
    try {
      return await codec.decode(r.value);
    } catch (err) {
      // Only a CodecError is a bad record; an outage (the data-key store, issue 13) must not lose state.
      if (!(err instanceof CodecError)) throw err;
      logger.warn({ err, topic: r.topic, partition: r.partition, offset: r.offset }, `skipping undecodable record while ${purpose}`);
      return undefined;
    }
  }

  /** Reads one partition from `from` to `to` (exclusive), handing every record to `each`. */
  async function readPartition(topic: string, partition: number, from: number, to: number, each: (r: LogRecord) => Promise<void>): Promise<number> {
    let offset = from;
    let count = 0;
    while (offset < to) {
      const records = await log.read(topic, partition, offset, Math.min(readBatchSize, to - offset));
      if (records.length === 0) break; // nothing readable below the end offset (e.g. truncated by retention)
      for (const r of records) await each(r);
      count += records.length;
      offset = records[records.length - 1].offset + 1;
    }
    return count;
  }

  /** One follower per own topic: where `rebuild` / `catchUp` stopped, per partition. */
  const followers = new Map<string, TopicFollower>();
  /** Per `topic:partition`, the offset of the last record the follower has read (and applied or skipped). */
  const lastRead = new Map<string, number>();
  /** Per `topic:partition`, offsets applied by `applyCommitted` that the follower has not read yet. */
  const appliedAhead = new Map<string, Set<number>>();

  /** True (and forgotten) when `offset` of `topic:partition` key `k` was applied ahead of the follower. */
  function takeAhead(k: string, offset: number): boolean {
    const ahead = appliedAhead.get(k);
    if (!ahead?.delete(offset)) return false;
    if (ahead.size === 0) appliedAhead.delete(k);
    return true;
  }

  /** Reads `topic` forward from its follower's positions (the beginning the first time) into the live states. */
  function readForward(topic: string, purpose: string): Promise<number> {
    let follower = followers.get(topic);
    if (!follower) followers.set(topic, follower = createTopicFollower(log, topic, readBatchSize));
    return follower.catchUp(async (r) => {
      const k = tpKey(topic, r.partition);
      // Applied ahead by `applyCommitted`: skipped, without even decoding it.
      if (takeAhead(k, r.offset)) { lastRead.set(k, r.offset); return; }
      const event = await decode(r, purpose);
      // Synchronous from here to the end, so `applyCommitted` never interleaves with it.
      lastRead.set(k, r.offset);
      if (takeAhead(k, r.offset)) return; // applied ahead while it was being decoded
      if (!event) return;
      if (!evolveInto(live, topic, event)) logger.warn({ topic, partition: r.partition, offset: r.offset, type: event.type }, 'skipping an event on a foreign topic');
      else opts.onRecord?.(event, r);
    });
  }


  const ownTopicsOfCache = (): string[] => [...new Set([...held].flatMap((k) => ownTopics(k)))];

  /** The state `decide` sees, its own combined with the borrowed one, read through `get`. */
  function composed<K extends AggregateKind>(kind: K, id: string, get: (kind: AggregateKind, id: string) => unknown): StateOf<K> | undefined {
    const def = AGGREGATES[kind];
    const own = get(kind, id);
    if (!def.borrows) return own as StateOf<K> | undefined;
    const borrowed = get(def.borrows.kind, id);
    if (own === undefined && borrowed === undefined) return undefined;
    const into = def.borrows.into as (own: unknown, borrowed: unknown) => StateOf<K>;
    return into(own ?? initial(kind), borrowed ?? initial(def.borrows.kind));
  }

  function markStale(streams: Iterable<StreamRef>): void {
    generation += 1;
    for (const ref of streams) {
      if (STATEFUL_KINDS.includes(ref.kind)) stale.set(refKey(ref.kind, ref.id), { ref, generation });
    }
  }

  async function reloadStale(select: (stream: StreamRef) => boolean): Promise<number> {
    const targets = [...stale.values()].filter((s) => select(s.ref));
    if (targets.length === 0) return 0;
    const scratch = new Map<string, unknown>();
    const scratchSlot = (kind: AggregateKind, id: string) => ({
      get: () => scratch.get(refKey(kind, id)),
      set: (s: unknown) => { scratch.set(refKey(kind, id), s); },
    });
    // topic → keys of the selected streams whose own topics include it.
    const keysByTopic = new Map<string, Set<string>>();
    for (const { ref } of targets) {
      for (const topic of ownTopics(ref.kind)) {
        if (!keysByTopic.has(topic)) keysByTopic.set(topic, new Set());
        keysByTopic.get(topic)!.add(ref.id);
      }
    }
    const partitionsOf = new Map((await log.listTopics()).map((t) => [t.name, t.partitions]));
    for (const [topic, keys] of keysByTopic) {
      const partitions = partitionsOf.get(topic);
      if (partitions === undefined) throw new Error(`topic ${topic} does not exist`);
      const keysByPartition = new Map<number, Set<string>>();
      for (const key of keys) {
        const p = partitionForKey(topic, key, partitions);
        if (!keysByPartition.has(p)) keysByPartition.set(p, new Set());
        keysByPartition.get(p)!.add(key);
      }
      const [begin, end] = await Promise.all([log.beginningOffsets(topic), log.endOffsets(topic)]);
      await Promise.all([...keysByPartition].map(([p, onPartition]) => readPartition(topic, p, begin[p] ?? 0, end[p] ?? 0, async (r) => {
        if (r.key === null || !onPartition.has(r.key)) return;
        const event = await decode(r, 'reloading aggregates');
        if (event) evolveInto(scratchSlot, topic, event, onPartition);
      })));
    }
    // Every read succeeded: swap the fresh states in, all at once (a lock-free reader never sees a half-read stream).
    for (const { ref, generation: g } of targets) {
      const k = refKey(ref.kind, ref.id);
      replace(ref.kind, ref.id, cached(ref.kind, ref.id), scratch.get(k) ?? initial(ref.kind));
      if (stale.get(k)?.generation === g) stale.delete(k);
    }
    logger.info({ streams: targets.map((t) => t.ref), topics: [...keysByTopic.keys()] }, 'stale aggregates reloaded from their partitions');
    return targets.length;
  }

  return {
    async rebuild() {
      for (const topic of ownTopicsOfCache()) {
        followers.delete(topic);
        const n = await readForward(topic, 'rebuilding aggregates');
        logger.info({ topic, records: n }, 'aggregates rebuilt from topic');
      }
    },
    async catchUp() {
      // Each own topic evolves kinds of its own (a borrowed state is composed on read), so topics
      // are read in parallel.
      const counts = await Promise.all(ownTopicsOfCache().map((topic) => readForward(topic, 'following the log')));
      return counts.reduce((a, b) => a + b, 0);
    },
    applyCommitted(events) {
      for (const { event, record } of events) {
        const k = tpKey(record.topic, record.partition);
        if (record.offset <= (lastRead.get(k) ?? -1)) continue; // the follower got there first
        evolveInto(live, record.topic, event);
        opts.onRecord?.(event, record);
        if (!appliedAhead.has(k)) appliedAhead.set(k, new Set());
        appliedAhead.get(k)!.add(record.offset);
      }
    },
    overlay() {
      const scratch = new Map<string, unknown>();
      const reads = { get(kind: AggregateKind, id: string) { return scratch.has(refKey(kind, id)) ? scratch.get(refKey(kind, id)) : cached(kind, id); } };
      const slots = { slot(kind: AggregateKind, id: string) { return { get() { return reads.get(kind, id); }, set(st: unknown) { scratch.set(refKey(kind, id), st); } }; } };
      return {
        state(kind, id) { return composed(kind, id, reads.get); },
        evolve(events) {
          for (const e of events) evolveInto(slots.slot, TOPIC_OF[e.type], e);
        },
      };
    },
    state: (kind, id) => composed(kind, id, cached),
    evolve(events) {
      for (const e of events) evolveInto(live, TOPIC_OF[e.type], e);
    },
    markStale,
    markAppendUnknown(topic, keys) {
      const kinds = kindsEvolvedBy(topic);
      markStale([...keys].flatMap((id) => kinds.map((kind) => ({ kind, id }))));
    },
    reloadStale,
  };
}
