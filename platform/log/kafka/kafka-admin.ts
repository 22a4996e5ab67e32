/**
 * Topics, offsets and consumer groups of the Kafka EventLog: the port's admin side, through the
 * kafkajs `Admin` client, plus OffsetFetch / consumer-less OffsetCommit through kafkajs' internal
 * cluster (kafka-client.ts).
 *
 * - Topics are created with `retention.ms=-1` (the log is the system of record: events never
 *   expire) unless the spec gives `retentionMs` (the commands topic: intent, not history), or
 *   `cleanup.policy=compact` when `compacted`; creating an existing topic of the same
 *   shape is a no-op, of another shape EventLogError TOPIC_CONFLICT.
 * - Consumer-less commits (`commitOffsets` while no member of this process is in the group) are
 *   OffsetCommit with generation -1 and an empty member id, which the coordinator accepts only for
 *   a group without active members (what Java's `assign()` + `commitSync()` does); while a member
 *   of this process is in the group the commit goes through it, with its generation.
 */
import type { OffsetMap, TopicDescription, TopicPartition, TopicSpec } from '../event-log.port.ts';
import { parseTpKey, tpKey } from '../event-log.port.ts';
import { EventLogError } from '../event-log.errors.ts';
import pRetry from 'p-retry';
import { ensureOpen, type KafkaContext, type KafkaJsError } from './kafka-client.ts';

/** Partition count of a topic (port name), from cache or cluster metadata. @throws EventLogError UNKNOWN_TOPIC, INVALID_TOPIC */
export async function partitionCount(ctx: KafkaContext, topic: string): Promise<number> {
  const full = ctx.ns.topic(topic);
  const cached = ctx.partitionCounts.get(full);
  if (cached !== undefined) return cached;
  // listTopics is one Metadata request that does not retry on an unknown topic (fetchTopicMetadata would).
  if (!(await ctx.admin.listTopics()).includes(full)) throw new EventLogError('UNKNOWN_TOPIC', `unknown topic: ${topic}`);
  const { topics } = await ctx.admin.fetchTopicMetadata({ topics: [full] });
  const n = topics[0]?.partitions.length ?? 0;
  if (n === 0) throw new EventLogError('UNKNOWN_TOPIC', `unknown topic: ${topic}`);
  ctx.partitionCounts.set(full, n);
  return n;
}

/**
 * partitionCount of a topic that CreateTopics just reported as existing: another client (a second
 * role starting at the same moment) may have created it a moment ago, and the broker's metadata
 * can lag its CreateTopics answer, so UNKNOWN_TOPIC is retried for up to ~10 s.
 * @throws EventLogError UNKNOWN_TOPIC when it still is unknown after that.
 */
async function partitionCountOfNewTopic(ctx: KafkaContext, topic: string): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await partitionCount(ctx, topic);
    } catch (e) {
      if (!(e instanceof EventLogError) || e.code !== 'UNKNOWN_TOPIC' || attempt >= 40) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** `cleanup.policy` contains `compact`, per broker-side topic name. */
async function describeCompaction(ctx: KafkaContext, fullNames: string[]): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  if (fullNames.length === 0) return out;
  const res = await ctx.admin.describeConfigs({
    includeSynonyms: false,
    resources: fullNames.map((name) => ({ type: 2 /* TOPIC */, name, configNames: ['cleanup.policy'] })),
  });
  for (const r of res.resources) {
    const policy = r.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue ?? 'delete';
    out.set(r.resourceName, policy.split(',').includes('compact'));
  }
  return out;
}

/** `EventLog.createTopic`. @throws EventLogError INVALID_TOPIC, INVALID_PARTITION, TOPIC_CONFLICT */
export async function createTopic(ctx: KafkaContext, spec: TopicSpec): Promise<void> {
  ensureOpen(ctx);
  const full = ctx.ns.topic(spec.name);
  const partitions = spec.partitions ?? ctx.settings.defaultPartitions ?? 1;
  if (!Number.isInteger(partitions) || partitions < 1) throw new EventLogError('INVALID_PARTITION', `partition count must be ≥ 1: ${partitions}`);
  const compacted = spec.compacted ?? false;
  const created = await ctx.admin.createTopics({
    // kafkajs' own wait retries only LEADER_NOT_AVAILABLE and throws on the UNKNOWN_TOPIC_OR_PARTITION
    // a loaded broker answers for a moment after the create (kafkajs#1222): see waitForLeaders.
    waitForLeaders: false,
    topics: [{
      topic: full,
      numPartitions: partitions,
      replicationFactor: spec.replicationFactor ?? ctx.settings.replicationFactor,
      configEntries: compacted
        ? [{ name: 'cleanup.policy', value: 'compact' }]
        : [{ name: 'cleanup.policy', value: 'delete' }, { name: 'retention.ms', value: String(spec.retentionMs ?? -1) }],
    }],
  });
  if (!created) {
    // Already exists: idempotent only for the same shape (port contract).
    ctx.partitionCounts.delete(full);
    const existing = await partitionCountOfNewTopic(ctx, spec.name);
    const existingCompacted = (await describeCompaction(ctx, [full])).get(full) ?? false;
    if (existing !== partitions || existingCompacted !== compacted) {
      throw new EventLogError('TOPIC_CONFLICT', `topic ${spec.name} exists with ${existing} partitions, compacted=${existingCompacted}`);
    }
    return;
  }
  await waitForLeaders(ctx, full, partitions);
  ctx.partitionCounts.set(full, partitions);
}

/** How long a new topic's partitions may take to get leaders before createTopic gives up, ms. */
const LEADER_WAIT_MS = 60_000;

/**
 * Polls the metadata of a just-created topic until it has `partitions` partitions, each with a
 * leader, tolerating the transient UNKNOWN_TOPIC_OR_PARTITION / LEADER_NOT_AVAILABLE answers of a
 * broker still settling leadership (what Kafka's own tests and sarama/rdkafka do after a create).
 * @throws EventLogError IO_FAILED when leaders are still missing after LEADER_WAIT_MS (60 s)
 */
async function waitForLeaders(ctx: KafkaContext, full: string, partitions: number): Promise<void> {
  const deadline = Date.now() + LEADER_WAIT_MS;
  let last = '';
  for (;;) {
    try {
      const md = await ctx.admin.fetchTopicMetadata({ topics: [full] });
      const ps = md.topics.find((t) => t.name === full)?.partitions ?? [];
      if (ps.length === partitions && ps.every((p) => p.leader >= 0)) return;
      last = `${ps.filter((p) => p.leader >= 0).length}/${partitions} partitions with a leader`;
    } catch (e) {
      const err = e as KafkaJsError;
      if (!(err.retriable || err.type === 'UNKNOWN_TOPIC_OR_PARTITION' || err.type === 'LEADER_NOT_AVAILABLE')) throw e;
      last = err.type ?? String(e);
    }
    if (Date.now() > deadline) throw new EventLogError('IO_FAILED', `topic ${full} created, but its partitions have no leader after ${LEADER_WAIT_MS / 1000} s (${last})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `EventLog.listTopics`: the namespace's topics only, port names. */
export async function listTopics(ctx: KafkaContext): Promise<TopicDescription[]> {
  ensureOpen(ctx);
  // `__consumer_offsets` / `__transaction_state` are the broker's own, not the application's.
  const names = (await ctx.admin.listTopics()).filter((t) => !t.startsWith('__') && t.startsWith(ctx.ns.prefix));
  if (names.length === 0) return [];
  const { topics } = await ctx.admin.fetchTopicMetadata({ topics: names });
  const compaction = await describeCompaction(ctx, names);
  return topics.map((t) => {
    ctx.partitionCounts.set(t.name, t.partitions.length);
    return { name: ctx.ns.internal(t.name), partitions: t.partitions.length, compacted: compaction.get(t.name) ?? false };
  });
}

/** Deletes topics (port names); tools and tests only. */
export async function deleteTopics(ctx: KafkaContext, names: string[]): Promise<void> {
  ensureOpen(ctx);
  const full = names.map((n) => ctx.ns.topic(n));
  for (const n of full) ctx.partitionCounts.delete(n);
  if (full.length > 0) await ctx.admin.deleteTopics({ topics: full });
  // Reads and end offsets (`partitionEnds`) must not ask for a deleted topic's metadata any more:
  // the broker would fail every refresh.
  for (const n of full) ctx.cluster.targetTopics.delete(n);
}

/** Log start (`low`) and high watermark (`high`) per partition, in partition order. @throws EventLogError UNKNOWN_TOPIC */
export async function topicOffsets(ctx: KafkaContext, topic: string): Promise<Array<{ partition: number; low: number; high: number }>> {
  ensureOpen(ctx);
  await partitionCount(ctx, topic);
  const res = await listOffsetsRetrying(ctx, topic, () => ctx.admin.fetchTopicOffsets(ctx.ns.external(topic)));
  return res.map((r) => ({ partition: r.partition, low: Number(r.low), high: Number(r.high) })).sort((a, b) => a.partition - b.partition);
}

/** An ask of `partitionEnds` waiting for the next flush. */
interface EndAsk { topic: string; end: 'earliest' | 'latest'; resolve: (offsets: number[]) => void; reject: (e: unknown) => void }
/** Asks waiting for the next flush, per log. */
const waitingEnds = new WeakMap<KafkaContext, EndAsk[]>();

/**
 * `EventLog.endOffsets` (`'latest'`: the high watermark, or under READ_COMMITTED, kafkajs'
 * default, the last stable offset) and `beginningOffsets` (`'earliest'`: the log start), in
 * partition order. The asks made in one turn of the event loop go out together, one ListOffsets
 * per partition leader and end: the command processors' background follow asks for every own
 * topic every 100 ms, and kafkajs' `admin.fetchTopicOffsets` sends two requests per topic (both
 * ends), which made ListOffsets 28 % of the broker's requests in the cluster freshness benchmark.
 * An unknown topic fails its own asks alone; when the batch fails (a leader moved, a broker is
 * down) or answers short, its asks are answered topic by topic through `topicOffsets` (its
 * retries) and the metadata is refreshed for the next batch.
 * @throws EventLogError UNKNOWN_TOPIC, INVALID_TOPIC, LOG_CLOSED, or the broker's error after `topicOffsets`' retries.
 */
export async function partitionEnds(ctx: KafkaContext, topic: string, end: 'earliest' | 'latest'): Promise<number[]> {
  ensureOpen(ctx);
  return new Promise((resolve, reject) => {
    let asks = waitingEnds.get(ctx);
    if (!asks) {
      const batch: EndAsk[] = asks = [];
      waitingEnds.set(ctx, batch);
      // After the promise hops of concurrent callers (setImmediate, not a microtask): they join.
      setImmediate(() => { waitingEnds.delete(ctx); void flushEnds(ctx, batch); });
    }
    asks.push({ topic, end, resolve, reject });
  });
}

async function flushEnds(ctx: KafkaContext, asks: EndAsk[]): Promise<void> {
  const known: Array<EndAsk & { full: string; partitions: number }> = [];
  for (const a of asks) {
    try {
      known.push({ ...a, partitions: await partitionCount(ctx, a.topic), full: ctx.ns.topic(a.topic) });
    } catch (e) {
      a.reject(e);
    }
  }
  await Promise.all((['latest', 'earliest'] as const).map(async (end) => {
    const mine = known.filter((a) => a.end === end);
    if (mine.length === 0) return;
    try {
      ensureOpen(ctx);
      const counts = new Map(mine.map((a) => [a.full, a.partitions]));
      // One metadata refresh for the topics new to this cluster, not one per topic.
      await ctx.cluster.addMultipleTargetTopics([...counts.keys()]);
      const answered = new Map<string, number[]>();
      const list = [...counts].map(([topic, n]) => ({ topic, fromBeginning: end === 'earliest', partitions: Array.from({ length: n }, (_, partition) => ({ partition })) }));
      for (const t of await ctx.cluster.fetchTopicsOffset(list)) {
        answered.set(t.topic, [...t.partitions].sort((a, b) => a.partition - b.partition).map((p) => Number(p.offset)));
      }
      // kafkajs leaves out partitions its metadata lacks: a short answer goes the slow way.
      for (const [full, n] of counts) if (answered.get(full)?.length !== n) throw new Error(`ListOffsets answered ${full} short`);
      for (const a of mine) a.resolve([...answered.get(a.full)!]);
    } catch {
      if (!ctx.closed) void ctx.cluster.refreshMetadata().catch(() => undefined);
      for (const a of mine) topicOffsets(ctx, a.topic).then((o) => a.resolve(o.map((x) => (end === 'latest' ? x.high : x.low))), a.reject);
    }
  }));
}

/** `EventLog.offsetsForTimestamp` (ListOffsets by timestamp). */
export async function offsetsForTimestamp(ctx: KafkaContext, topic: string, timestamp: number): Promise<number[]> {
  ensureOpen(ctx);
  await partitionCount(ctx, topic);
  const res = await listOffsetsRetrying(ctx, topic, () => ctx.admin.fetchTopicOffsetsByTimestamp(ctx.ns.external(topic), timestamp));
  return res.sort((a, b) => a.partition - b.partition).map((o) => Number(o.offset));
}

/**
 * A ListOffsets through the admin client, retried (5 times, with a metadata refresh) on a
 * retriable broker error: right after a topic is created, or while leadership moves, a broker
 * answers NOT_LEADER_FOR_PARTITION / LEADER_NOT_AVAILABLE for a moment and kafkajs' admin passes
 * it up instead of refreshing its metadata.
 */
function listOffsetsRetrying<T>(ctx: KafkaContext, topic: string, list: () => Promise<T>): Promise<T> {
  return pRetry(list, {
    retries: 5, minTimeout: 50, maxTimeout: 1000,
    shouldRetry: ({ error }) => (error as KafkaJsError).retriable === true,
    onFailedAttempt: async () => { await ctx.admin.fetchTopicMetadata({ topics: [ctx.ns.external(topic)] }).catch(() => undefined); },
  });
}

/**
 * Committed offsets (next offset to read) of broker-side group `fullGroup` for exactly the given
 * partitions (broker-side topic names), keyed by port `topic:partition`; partitions without a
 * committed offset are absent. One OffsetFetch to the group coordinator.
 */
export async function fetchCommittedOffsets(ctx: KafkaContext, fullGroup: string, partitions: TopicPartition[]): Promise<OffsetMap> {
  const out: OffsetMap = new Map();
  if (partitions.length === 0) return out;
  const byTopic = new Map<string, Array<{ partition: number }>>();
  for (const p of partitions) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), { partition: p.partition }]);
  const coordinator = await ctx.cluster.findGroupCoordinator({ groupId: fullGroup });
  const { responses } = await coordinator.offsetFetch({
    groupId: fullGroup,
    topics: [...byTopic].map(([topic, ps]) => ({ topic, partitions: ps })),
  });
  for (const t of responses) {
    if (!t.topic.startsWith(ctx.ns.prefix)) continue;
    for (const p of t.partitions) {
      const o = Number(p.offset);
      if (o >= 0) out.set(tpKey(ctx.ns.internal(t.topic), p.partition), o);
    }
  }
  return out;
}

/** `EventLog.committedOffsets`: the group's committed offsets on every topic of the namespace. */
export async function committedOffsets(ctx: KafkaContext, groupId: string): Promise<OffsetMap> {
  ensureOpen(ctx);
  // kafkajs 2.2.4's OffsetFetch v3 encoder cannot send `topics: null` ("all topics": it calls
  // topics.map), so name every partition of every topic of the namespace explicitly.
  const names = (await ctx.admin.listTopics()).filter((t) => t.startsWith(ctx.ns.prefix) && !t.startsWith('__'));
  const md = names.length > 0 ? (await ctx.admin.fetchTopicMetadata({ topics: names })).topics : [];
  return fetchCommittedOffsets(ctx, ctx.ns.external(groupId), md.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, partition: p.partitionId }))));
}

const isRebalanceError = (e: unknown): boolean => {
  const t = (e as KafkaJsError)?.type;
  return t === 'REBALANCE_IN_PROGRESS' || t === 'ILLEGAL_GENERATION' || t === 'UNKNOWN_MEMBER_ID' || t === 'NOT_COORDINATOR_FOR_GROUP'
    || (e as Error)?.name === 'KafkaJSNotLeaderForPartition';
};

/**
 * `EventLog.commitOffsets`: through a member of this process when there is one, else consumer-less
 * (see the file comment).
 * @throws EventLogError INVALID_PARTITION (bad offset), INVALID_TOPIC, GROUP_ACTIVE (members elsewhere)
 */
export async function commitOffsets(ctx: KafkaContext, groupId: string, offsets: OffsetMap): Promise<void> {
  ensureOpen(ctx);
  const fullGroup = ctx.ns.external(groupId);
  const byTopic = new Map<string, Array<{ partition: number; offset: string }>>();
  for (const [key, offset] of offsets) {
    const { topic, partition } = parseTpKey(key);
    if (!Number.isInteger(offset) || offset < 0) throw new EventLogError('INVALID_PARTITION', `invalid offset ${offset} for ${key}`);
    const full = ctx.ns.topic(topic);
    byTopic.set(full, [...(byTopic.get(full) ?? []), { partition, offset: String(offset) }]);
  }
  if (byTopic.size === 0) return;
  const topics = [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
  const local = ctx.members.get(fullGroup);
  if (local && local.size > 0) {
    // A member of this process is in the group: commit with its generation (the broker rejects
    // generation -1 commits while the group has members).
    await [...local][0].commitOffsets(topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, ...p }))));
    return;
  }
  const coordinator = await ctx.cluster.findGroupCoordinator({ groupId: fullGroup });
  try {
    await coordinator.offsetCommit({ groupId: fullGroup, groupGenerationId: -1, memberId: '', topics });
  } catch (e) {
    if (isRebalanceError(e)) {
      throw new EventLogError('GROUP_ACTIVE', `group ${groupId} has active members elsewhere; commit through one of them`, { cause: e });
    }
    throw e;
  }
}

/** `EventLog.listGroups`: the namespace's consumer groups, port names, sorted. */
export async function listGroups(ctx: KafkaContext): Promise<string[]> {
  ensureOpen(ctx);
  const { groups } = await ctx.admin.listGroups();
  return groups.map((g) => g.groupId).filter((g) => g.startsWith(ctx.ns.prefix)).map((g) => ctx.ns.internal(g)).sort();
}
