/**
 * Consumer groups of the Kafka EventLog (`subscribe`): one kafkajs consumer per subscription.
 *
 * - At-least-once: `autoCommit: false`, `eachBatchAutoResolve: false`; after `sub.eachBatch`
 *   resolves, the batch is resolved and its offset committed synchronously (OffsetCommit carries
 *   the group generation, so a member that lost the partition in a rebalance is fenced with
 *   ILLEGAL_GENERATION / REBALANCE_IN_PROGRESS instead of committing over the new owner). A
 *   throwing batch is not resolved: the partition is `seek`ed back to the batch's first offset and
 *   redelivered after a backoff (`redeliveryDelayMs`, doubling up to 5 s). A fetch of only
 *   transaction markers reaches no batch; its commit goes through the member once the partition
 *   is idle (kafka-marker-commits.ts).
 * - `commitIntervalMs` (projections): handled offsets are committed together at most once per
 *   interval through the member (kafka-group-commits.ts), and on `stop` after the batches in
 *   flight. Such subscribers seek to their own checkpoint in `onAssigned`: an offset left
 *   uncommitted loses nothing and applies nothing twice.
 * - Rebalances: on GROUP_JOIN every assigned partition is paused synchronously (the event fires
 *   after SyncGroup and before the first fetch of the generation), then `sub.onAssigned` runs,
 *   start offsets are resolved (onAssigned override → group committed offset → earliest/latest)
 *   and every partition is `seek`ed there before it is resumed. As a second guard, a batch whose
 *   first offset is below a pending seek target, or of a partition not (or not yet) assigned, is
 *   dropped unresolved — the classic kafkajs rebalance pitfall (tulios/kafkajs #1603, #1046,
 *   #1568: batches fetched before a seek, commits after losing a partition).
 * - Isolation: READ_COMMITTED; records of aborted transactions are never delivered.
 * - Crashes: kafkajs restarts a crashed consumer only for retriable causes; this module restarts
 *   it for any cause (broker restarts, coordinator moves) until the subscription is stopped.
 *
 * The subscription's state lives in one {@link GroupSubscription} object; the functions below
 * are its event handlers (GROUP_JOIN, CRASH, END_BATCH_PROCESS, eachBatch) and its handle.
 */
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { pino } from 'pino';
import type { ConsumerHandle, Subscription, TopicPartition } from '../event-log.port.ts';
import { parseTpKey, tpKey } from '../event-log.port.ts';
import { EventLogError } from '../event-log.errors.ts';
import { ensureOpen, MAX_BACKOFF_MS, type KafkaContext } from './kafka-client.ts';
import { sleep } from '../../shared/sleep.ts';
import { fetchCommittedOffsets, partitionCount } from './kafka-admin.ts';
import { toRecord } from './kafka-fetch.ts';
import type { IntervalCommits } from '../interval-commits.ts';
import { commitPast, intervalCommitsFor } from './kafka-group-commits.ts';
import { commitMarkersPast, flushMarkerCommits, settleMarkerCommit, type MarkerCommitState } from './kafka-marker-commits.ts';

/** The fetch size a subscription with `fetchMaxWaitMs` waits for (kafkajs' `minBytes`): 1 MiB. */
const FETCH_MIN_BYTES = 1 << 20;

/**
 * A subscription as the adapter's parts hand it over: the port's, plus, for the transactional
 * subscription, the next offset its own transactions committed for a partition (port topic name),
 * so the group offset commit after a batch is skipped when a transaction already committed it.
 */
export interface AdapterSubscription extends Subscription {
  committedThrough?(topic: string, partition: number): number | undefined;
}

/** One live subscription. Keys of the maps and sets are broker-side `topic:partition`. */
interface GroupSubscription {
  readonly ctx: KafkaContext;
  readonly sub: AdapterSubscription;
  readonly fullGroup: string;
  /** Broker-side topic names. */
  readonly topics: string[];
  readonly maxBatchSize: number;
  readonly fromBeginning: boolean;
  readonly log: pino.Logger;
  readonly consumer: Consumer;
  /** Aborts backoff sleeps on stop. */
  readonly stopping: AbortController;
  /** Next offset to process per assigned partition. */
  readonly positions: Map<string, number>;
  /** Partitions of the current generation; batches of others are stale. */
  assigned: Set<string>;
  /** Partitions whose start offsets are not applied yet (paused). */
  readonly settingUp: Set<string>;
  /** Seek targets not yet observed in a delivered batch. */
  readonly pendingSeek: Map<string, number>;
  /** Consecutive failed deliveries per partition (redelivery backoff). */
  readonly failures: Map<string, number>;
  /** Incremented on every GROUP_JOIN; a setup of an older generation gives up. */
  generation: number;
  /** Positioning of the current assignment; undefined before the first GROUP_JOIN. */
  ready: Promise<void> | undefined;
  stopped: boolean;
  /** Non-retriable crashes since the last GROUP_JOIN (restart backoff). */
  crashes: number;
  /** `caughtUp` checks, re-run on every position change. */
  readonly waiters: Set<() => void>;
  readonly runConfig: Parameters<Consumer['run']>[0];
  /** `commitIntervalMs` > 0 (and commits wanted): the interval commits; else a commit per batch. */
  readonly intervalCommits: IntervalCommits | null;
  /** Commits past marker-only fetches, waiting or in flight (kafka-marker-commits.ts). */
  readonly markerCommits: MarkerCommitState['markerCommits'];
  /** `eachBatch` calls in progress (stop waits for them before its last commit). */
  readonly batches: Set<Promise<void>>;
}

const wake = (s: GroupSubscription) => { for (const w of [...s.waiters]) w(); };

/**
 * Positions a fresh assignment (generation `gen`): `onAssigned` overrides, else the committed
 * offset, else earliest/latest; seeks and resumes every partition. Retries with backoff until it
 * succeeds or the generation is superseded.
 */
async function positionAssignment(s: GroupSubscription, gen: number, parts: TopicPartition[]): Promise<void> {
  const { ctx, consumer } = s;
  const int = (topic: string) => ctx.ns.internal(topic);
  for (let attempt = 0; ; attempt++) {
    try {
      const override = (await s.sub.onAssigned?.(parts.map((p) => ({ topic: int(p.topic), partition: p.partition })))) ?? new Map<string, number>();
      // Only the assigned partitions: one OffsetFetch, no metadata of the namespace's other topics.
      const committed = await fetchCommittedOffsets(ctx, s.fullGroup, parts);
      const needDefault = parts.filter((p) => !override.has(tpKey(int(p.topic), p.partition)) && !committed.has(tpKey(int(p.topic), p.partition)));
      const defaults = new Map<string, number>();
      for (const t of new Set(needDefault.map((p) => p.topic))) {
        for (const o of await ctx.admin.fetchTopicOffsets(t)) defaults.set(tpKey(t, o.partition), Number(s.fromBeginning ? o.low : o.high));
      }
      if (gen !== s.generation || s.stopped) return;
      for (const p of parts) {
        const k = tpKey(int(p.topic), p.partition);
        const start = override.get(k) ?? committed.get(k) ?? defaults.get(tpKey(p.topic, p.partition)) ?? 0;
        const ek = tpKey(p.topic, p.partition);
        consumer.seek({ topic: p.topic, partition: p.partition, offset: String(start) });
        // A checkpoint ahead of the group offset: committed at the interval, or the group shows lag.
        if (override.has(k) && start > (committed.get(k) ?? 0)) s.intervalCommits?.pend(ek, start);
        s.positions.set(ek, start);
        s.pendingSeek.set(ek, start);
        s.settingUp.delete(ek);
      }
      const byTopic = new Map<string, number[]>();
      for (const p of parts) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p.partition]);
      consumer.resume([...byTopic].map(([topic, partitions]) => ({ topic, partitions })));
      s.log.debug({ generation: gen, partitions: parts.length }, 'partitions assigned and positioned');
      wake(s);
      return;
    } catch (e) {
      if (gen !== s.generation || s.stopped) return;
      s.log.error({ err: e, attempt }, 'onAssigned / start offset resolution failed; retrying');
      await sleep(Math.min(100 * 2 ** attempt, MAX_BACKOFF_MS), s.stopping.signal);
    }
  }
}

/**
 * GROUP_JOIN: a new generation. Synchronous: runs after SyncGroup and before the first Fetch of
 * this generation, so pausing here keeps every partition still until it is positioned.
 */
function onGroupJoin(s: GroupSubscription, memberAssignment: Record<string, number[]>): void {
  const gen = ++s.generation;
  s.crashes = 0;
  const parts: TopicPartition[] = Object.entries(memberAssignment)
    .flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
  s.assigned = new Set(parts.map((p) => tpKey(p.topic, p.partition)));
  for (const k of [...s.positions.keys()]) if (!s.assigned.has(k)) s.positions.delete(k);
  s.pendingSeek.clear();
  s.intervalCommits?.reset(); // positionAssignment pends the new start positions
  s.settingUp.clear();
  for (const k of s.assigned) s.settingUp.add(k);
  if (parts.length > 0) {
    try { s.consumer.pause(Object.entries(memberAssignment).map(([topic, partitions]) => ({ topic, partitions }))); } catch (e) {
      // Still safe: batches of partitions in `settingUp` are dropped unresolved.
      s.log.warn({ err: e }, 'pausing the new assignment failed');
    }
  }
  s.ready = positionAssignment(s, gen, parts);
}

/** CRASH: nothing is positioned until the next GROUP_JOIN; restarts what kafkajs does not. */
function onCrash(s: GroupSubscription, error: Error, restart: boolean): void {
  s.log.error({ err: error, restart }, 'kafka consumer crashed');
  // Until the next GROUP_JOIN nothing is positioned: caughtUp must wait.
  for (const k of s.assigned) s.settingUp.add(k);
  if (restart || s.stopped) return;
  // kafkajs restarts only for retriable causes; a non-retriable one (e.g. "Failed to find group
  // coordinator" while a broker restarts) leaves it stopped and disconnected. Restart it here.
  const delay = Math.min(200 * 2 ** s.crashes++, MAX_BACKOFF_MS);
  void sleep(delay, s.stopping.signal).then(async () => {
    if (s.stopped) return;
    try {
      await s.consumer.connect();
      await s.consumer.run(s.runConfig);
    } catch (e) {
      s.log.error({ err: e }, 'restarting the kafka consumer failed');
    }
  });
}

/** kafkajs `eachBatch`: drops stale batches, hands the rest to `sub.eachBatch` in chunks, commits each. */
async function handleBatch(s: GroupSubscription, payload: EachBatchPayload): Promise<void> {
  const { batch } = payload;
  const { ctx, consumer } = s;
  const ek = tpKey(batch.topic, batch.partition);
  if (!s.assigned.has(ek) || s.settingUp.has(ek)) return; // stale: not ours (yet); dropped unresolved
  const target = s.pendingSeek.get(ek);
  const first = Number(batch.messages[0]?.offset ?? batch.firstOffset());
  if (target !== undefined) {
    if (first < target || payload.isStale()) return; // fetched before the seek took effect
    s.pendingSeek.delete(ek);
  }
  await settleMarkerCommit(s, ek); // this batch's commit supersedes a waiting one, and follows one in flight
  const topic = ctx.ns.internal(batch.topic);
  const records = batch.messages.map((m) => toRecord(topic, batch.partition, m));
  for (let i = 0; i < records.length; i += s.maxBatchSize) {
    if (s.stopped || !payload.isRunning() || payload.isStale() || !s.assigned.has(ek)) return;
    const chunk = records.slice(i, i + s.maxBatchSize);
    // Heartbeat while a long handler runs, so the member is not evicted (session timeout).
    const beat = setInterval(() => { payload.heartbeat().catch(() => {}); }, ctx.settings.heartbeatIntervalMs);
    try {
      await s.sub.eachBatch({ topic, partition: batch.partition, records: chunk });
    } catch (e) {
      const n = (s.failures.get(ek) ?? 0) + 1;
      s.failures.set(ek, n);
      const delay = Math.min(ctx.settings.redeliveryDelayMs * 2 ** (n - 1), MAX_BACKOFF_MS);
      s.log.warn({ err: e, topic: batch.topic, partition: batch.partition, offset: chunk[0].offset, failures: n, delay }, 'eachBatch failed; redelivering');
      // Not resolved: rewind the fetch position to the batch's first offset and back off.
      consumer.seek({ topic: batch.topic, partition: batch.partition, offset: String(chunk[0].offset) });
      s.pendingSeek.set(ek, chunk[0].offset);
      await sleep(delay, s.stopping.signal);
      return;
    } finally {
      clearInterval(beat);
    }
    s.failures.delete(ek);
    const last = chunk[chunk.length - 1].offset;
    payload.resolveOffset(String(last));
    // Synchronous commit of the next offset to read; fenced by the generation (see the file comment).
    // Not when the subscription does not want it, or a transaction of its own committed it already.
    if ((s.sub.committedThrough?.(topic, batch.partition) ?? -1) < last + 1) await commitPast(s, payload, last + 1);
    if (s.assigned.has(ek)) s.positions.set(ek, last + 1);
    wake(s);
  }
  // A transaction's commit marker (or aborted records) fetched after the last record: the batch's
  // last offset covers them and kafkajs fetches on from there without another END_BATCH_PROCESS,
  // so move past them, or caughtUp and lag would wait forever on a topic written transactionally.
  const tail = Number(batch.lastOffset());
  if (s.stopped || !payload.isRunning() || payload.isStale() || !s.assigned.has(ek) || tail + 1 <= (s.positions.get(ek) ?? 0)) return;
  payload.resolveOffset(String(tail));
  await commitPast(s, payload, tail + 1);
  if (s.assigned.has(ek)) s.positions.set(ek, Math.max(s.positions.get(ek) ?? 0, tail + 1));
  wake(s);
}

/**
 * END_BATCH_PROCESS of a batch made only of control records / filtered messages: such batches
 * never reach eachBatch (kafkajs resolves them itself); advance the position so caughtUp does not
 * wait on them, and move the group offset past them too (commitMarkersPast): a subscriber that
 * restarts just before a transaction's commit marker (a checkpoint counts records, not markers)
 * would otherwise leave its group offset one short of the end until the next record.
 */
function onEmptyBatch(s: GroupSubscription, topic: string, partition: number, batchSize: number, lastOffset: string): void {
  const ek = tpKey(topic, partition);
  if (batchSize === 0 && s.assigned.has(ek) && !s.settingUp.has(ek)) {
    const after = Number(lastOffset) + 1;
    if (after > (s.positions.get(ek) ?? 0)) {
      s.positions.set(ek, after);
      // Not by a transactional subscription (its offsets commit in its transactions), nor once stopping.
      if (!s.sub.committedThrough && !s.stopped) commitMarkersPast(s, ek, after);
      wake(s);
    }
  }
}

/** High watermark per subscribed partition (broker-side keys). */
async function endOffsetsOf(s: GroupSubscription): Promise<Map<string, number>> {
  const ends = new Map<string, number>();
  for (const t of s.topics) for (const o of await s.ctx.admin.fetchTopicOffsets(t)) ends.set(tpKey(t, o.partition), Number(o.high));
  return ends;
}

async function caughtUp(s: GroupSubscription): Promise<void> {
  await s.ready;
  const ends = await endOffsetsOf(s);
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (s.stopped) { s.waiters.delete(check); reject(new EventLogError('CONSUMER_STOPPED', `consumer of ${s.sub.groupId} stopped`)); return; }
      if (s.settingUp.size > 0) return;
      for (const k of s.assigned) if ((s.positions.get(k) ?? 0) < (ends.get(k) ?? 0)) return;
      s.waiters.delete(check);
      resolve();
    };
    s.waiters.add(check);
    check();
  });
}

async function lag(s: GroupSubscription): Promise<Map<string, number>> {
  await s.ready;
  const ends = await endOffsetsOf(s);
  const out = new Map<string, number>();
  for (const k of [...s.assigned].sort()) {
    const { topic, partition } = parseTpKey(k);
    out.set(tpKey(s.ctx.ns.internal(topic), partition), Math.max(0, (ends.get(k) ?? 0) - (s.positions.get(k) ?? 0)));
  }
  return out;
}

/**
 * `EventLog.subscribe`: joins the group and resolves once the first assignment is positioned, so
 * `lag`, `caughtUp` and `fromBeginning: false` are exact from the caller's next line on.
 * @throws EventLogError LOG_CLOSED, INVALID_TOPIC, UNKNOWN_TOPIC (a topic does not exist)
 */
export async function subscribe(ctx: KafkaContext, sub: AdapterSubscription): Promise<ConsumerHandle> {
  ensureOpen(ctx);
  const fullGroup = ctx.ns.external(sub.groupId);
  const topics = sub.topics.map((t) => ctx.ns.topic(t));
  for (const t of sub.topics) await partitionCount(ctx, t);
  const log = ctx.logger.child({ groupId: sub.groupId });
  let s!: GroupSubscription;
  const consumer = ctx.client.consumer({
    groupId: fullGroup,
    allowAutoTopicCreation: false,
    sessionTimeout: ctx.settings.sessionTimeoutMs,
    heartbeatInterval: ctx.settings.heartbeatIntervalMs,
    rebalanceTimeout: ctx.settings.rebalanceTimeoutMs,
    // fetchMaxWaitMs: the broker holds a fetch until 1 MiB is there or the wait is over (Kafka's
    // fetch.min.bytes / fetch.max.wait.ms); otherwise it answers as soon as one byte is.
    ...(sub.fetchMaxWaitMs ? { minBytes: FETCH_MIN_BYTES, maxWaitTimeInMs: sub.fetchMaxWaitMs } : { maxWaitTimeInMs: ctx.settings.maxWaitTimeMs }),
    // READ_COMMITTED (kafkajs' default, stated so it cannot drift): records of aborted
    // transactions (kafka-transactions.ts) are never delivered.
    readUncommitted: false,
    // kafkajs only restarts a crashed consumer for retriable causes; a subscription must outlive
    // any crash (broker restarts, coordinator moves), so always restart (after kafkajs' backoff).
    retry: { restartOnFailure: async (e: Error) => { log.error({ err: e }, 'kafka consumer crashed; restarting'); return !s.stopped; } },
  });
  s = {
    ctx, sub, fullGroup, topics, log, consumer,
    maxBatchSize: Math.max(1, sub.maxBatchSize ?? 500),
    fromBeginning: sub.fromBeginning ?? true,
    stopping: new AbortController(),
    positions: new Map(),
    assigned: new Set(),
    settingUp: new Set(),
    pendingSeek: new Map(),
    failures: new Map(),
    generation: 0,
    ready: undefined,
    stopped: false,
    crashes: 0,
    waiters: new Set(),
    intervalCommits: intervalCommitsFor(sub, () => s),
    markerCommits: new Map(),
    batches: new Set(),
    runConfig: {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: Math.max(1, sub.partitionsConsumedConcurrently ?? 1),
      eachBatch: (payload) => {
        const run = handleBatch(s, payload);
        s.batches.add(run);
        const done = () => { s.batches.delete(run); };
        run.then(done, done);
        return run;
      },
    },
  };

  consumer.on(consumer.events.GROUP_JOIN, (ev) => {
    // Must not throw: kafkajs emits it inside joinAndSync, where a throw crashes the consumer.
    try { onGroupJoin(s, ev.payload.memberAssignment); } catch (e) { log.error({ err: e }, 'assignment handling failed'); }
  });
  consumer.on(consumer.events.CRASH, (ev) => onCrash(s, ev.payload.error, ev.payload.restart));
  consumer.on(consumer.events.END_BATCH_PROCESS, (ev) =>
    onEmptyBatch(s, ev.payload.topic, ev.payload.partition, ev.payload.batchSize, ev.payload.lastOffset));

  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: s.fromBeginning });
  await consumer.run(s.runConfig);
  // run() resolves after the first JoinGroup/SyncGroup; wait until the assignment is positioned.
  await s.ready;
  let group = ctx.members.get(fullGroup);
  if (!group) ctx.members.set(fullGroup, (group = new Set()));
  group.add(consumer);

  const handle: ConsumerHandle = {
    caughtUp: () => caughtUp(s),
    lag: () => lag(s),
    async stop() {
      if (s.stopped) return;
      s.stopped = true;
      s.stopping.abort();
      wake(s);
      if (s.intervalCommits) {
        // The batch in flight ends after its chunk (stopped); then the last commit, bounded: with
        // the broker gone kafkajs retries for long.
        await Promise.allSettled([...s.batches]);
        await s.intervalCommits.flush(5_000);
      }
      await flushMarkerCommits(s, 5_000); // bounded, as the flush above
      ctx.members.get(fullGroup)?.delete(consumer);
      ctx.handles.delete(handle);
      await consumer.disconnect().catch((e: unknown) => log.warn({ err: e }, 'consumer disconnect failed'));
    },
  };
  ctx.handles.add(handle);
  return handle;
}
