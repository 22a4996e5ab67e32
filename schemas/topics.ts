/**
 * Every topic StreamWave writes, and the one place they are created (`ensure…` below): the six
 * event topics, the commands and replies topics, the schema registry's `_schemas`, and the processors'
 * dead-letter topics.
 *
 * Several event types share a topic so that all events of one aggregate are ordered in one
 * partition (record key = aggregate id, `keyOf` in domain/events.ts); subjects in the schema
 * registry therefore use TopicRecordNameStrategy (`<topic>-<record full name>`).
 */
import type { DomainEventType } from '../domain/events.ts';
import type { EventLog, TopicSpec } from '../platform/log/event-log.port.ts';

/** The event topics. Retention is infinite on Kafka (`retention.ms=-1`): the log is the system of record. */
export const TOPICS = {
  users: 'streamwave.users',
  videos: 'streamwave.videos',
  comments: 'streamwave.comments',
  views: 'streamwave.views',
  likes: 'streamwave.likes',
  subscriptions: 'streamwave.subscriptions',
  /** Players' quality-of-experience events (issue 15), beside the heartbeats: only analytics reads them. */
  playback: 'streamwave.playback',
} as const;

export type EventTopic = (typeof TOPICS)[keyof typeof TOPICS];

/** Topic of each event type. */
export const TOPIC_OF: Record<DomainEventType, EventTopic> = {
  UserRegistered: TOPICS.users,
  UserErased: TOPICS.users,
  UploadStarted: TOPICS.videos,
  UploadCompleted: TOPICS.videos,
  VideoProcessingStarted: TOPICS.videos,
  VideoProcessingProgressed: TOPICS.videos,
  RenditionEncoded: TOPICS.videos,
  VideoPublished: TOPICS.videos,
  VideoProcessingFailed: TOPICS.videos,
  VideoProcessingCompleted: TOPICS.videos,
  StoryboardGenerated: TOPICS.videos,
  VideoMetadataUpdated: TOPICS.videos,
  VideoDeleted: TOPICS.videos,
  CaptionsPublished: TOPICS.videos,
  CaptionsRemoved: TOPICS.videos,
  CustomThumbnailSet: TOPICS.videos,
  CommentPosted: TOPICS.comments,
  CommentDeleted: TOPICS.comments,
  VideoViewed: TOPICS.views,
  VideoLiked: TOPICS.likes,
  VideoUnliked: TOPICS.likes,
  ChannelSubscribed: TOPICS.subscriptions,
  ChannelUnsubscribed: TOPICS.subscriptions,
  PlaybackStarted: TOPICS.playback,
  RenditionSwitched: TOPICS.playback,
  RebufferStarted: TOPICS.playback,
  RebufferEnded: TOPICS.playback,
  PlaybackFailed: TOPICS.playback,
  PlaybackEnded: TOPICS.playback,
};

/**
 * The commands topic (ADR 0006, issue 10): every command but heartbeats (`RecordView`), as an Avro
 * record (schemas/commands/), keyed by the command's concurrency key with the event topics'
 * partition count, so command partition p holds the aggregates whose events are on partition p
 * (co-partitioned). Kept COMMANDS_RETENTION_MS: it carries intent; the event topics carry history.
 */
export const COMMANDS_TOPIC = 'streamwave.commands';

/** Retention of the commands topic, ms: 7 days (issue 10: "days, not forever"). */
export const COMMANDS_RETENTION_MS = 7 * 24 * 3600 * 1000;

/**
 * The replies topic (ADR 0006): each command's outcome (schemas/commands/CommandOutcome.avsc),
 * keyed by the gateway instance waiting for it, written in the transaction that decided it.
 * Kept COMMAND_REPLIES_RETENTION_MS: a reply matters only while someone waits.
 */
export const COMMAND_REPLIES_TOPIC = 'streamwave.command-replies';

/** Retention of the replies topic, ms: 1 hour. */
export const COMMAND_REPLIES_RETENTION_MS = 3600 * 1000;

/**
 * The command processors' username-reservation store changelog (Kafka Streams' naming,
 * `<application id>-<store>-changelog`): compacted, keyed like the registrations on the commands
 * topic (`username:<HMAC>`, co-partitioned), value the holder's user id. Written only by the owner
 * of the key's commands partition, in the transaction that decided the registration.
 */
export const USERNAME_RESERVATIONS_CHANGELOG = 'streamwave.command-processor-usernames-changelog';

/**
 * The command processors' input positions (ADR 0006): compacted, partition p holds one record per
 * transaction of commands partition p (key `p`, value the next commands offset to decide, decimal
 * UTF-8), written in the transaction that decided the batch, beside the group offset commit.
 *
 * Why a topic as well as the group offsets: a transaction's offset commit becomes visible to
 * OffsetFetch asynchronously after the transaction completes, and kafkajs cannot ask for stable
 * offsets (KIP-447 `require_stable`), so a new owner could start from the offset before the last
 * committed batch and decide it twice. A record on a data partition is readable (READ_COMMITTED)
 * as soon as the fencing InitProducerId returns, so the new owner starts from the larger of the two.
 */
export const COMMAND_POSITIONS_CHANGELOG = 'streamwave.command-processor-positions-changelog';

/**
 * Creates the commands topic, the username-reservation and positions changelogs (all with the
 * event topics' partition count: co-partitioned) and the replies topic when missing. Idempotent.
 * @throws EventLogError `TOPIC_CONFLICT` when one exists with another partition count.
 */
export async function ensureCommandTopics(log: EventLog, settings: TopicSettings = {}): Promise<void> {
  const partitions = settings.partitions ?? DEFAULT_TOPIC_PARTITIONS;
  const replicationFactor = settings.replicationFactor;
  await log.createTopic({ name: COMMANDS_TOPIC, partitions, replicationFactor, retentionMs: COMMANDS_RETENTION_MS });
  await log.createTopic({ name: COMMAND_REPLIES_TOPIC, partitions, replicationFactor, retentionMs: COMMAND_REPLIES_RETENTION_MS });
  await log.createTopic({ name: USERNAME_RESERVATIONS_CHANGELOG, partitions, replicationFactor, compacted: true });
  await log.createTopic({ name: COMMAND_POSITIONS_CHANGELOG, partitions, replicationFactor, compacted: true });
}

/**
 * The transcoders' chunk topic (docs/adr/0008): one TranscodeChunkTask (schemas/tasks/) per chunk
 * of a chunked transcode, keyed `<videoId>:<chunkIndex>`, consumed by the `transcoder-chunks`
 * group of every transcoder instance. Work items, not history: kept TRANSCODE_CHUNKS_RETENTION_MS.
 */
export const TRANSCODE_CHUNKS_TOPIC = 'streamwave.transcode-chunks';

/** Retention of the chunk topic, ms: 7 days (a chunk not taken by then is redone by a redelivered job). */
export const TRANSCODE_CHUNKS_RETENTION_MS = 7 * 24 * 3600 * 1000;

/**
 * Creates the chunk topic when missing (the event topics' partition count). Idempotent.
 * @throws EventLogError `TOPIC_CONFLICT` when it exists with another partition count.
 */
export async function ensureTranscodeChunksTopic(log: EventLog, settings: TopicSettings = {}): Promise<void> {
  await log.createTopic({
    name: TRANSCODE_CHUNKS_TOPIC, partitions: settings.partitions ?? DEFAULT_TOPIC_PARTITIONS,
    replicationFactor: settings.replicationFactor, retentionMs: TRANSCODE_CHUNKS_RETENTION_MS,
  });
}

/** Partitions of each event topic unless configured (STREAMWAVE_TOPIC_PARTITIONS). */
export const DEFAULT_TOPIC_PARTITIONS = 6;

/** The schema registry's store topic (Confluent's default `kafkastore.topic`): compacted, one partition. */
export const SCHEMAS_TOPIC = '_schemas';

export interface TopicSettings {
  /** Partitions of created event topics (≥ 1). Default DEFAULT_TOPIC_PARTITIONS. */
  partitions?: number;
  /** Replication factor on Kafka; ignored by the embedded log. */
  replicationFactor?: number;
}

/** The event topics as created on a log. */
function eventTopicSpecs(settings: TopicSettings = {}): TopicSpec[] {
  const partitions = settings.partitions ?? DEFAULT_TOPIC_PARTITIONS;
  return Object.values(TOPICS).map((name) => ({ name, partitions, replicationFactor: settings.replicationFactor }));
}

/**
 * Creates the event topics when missing. Idempotent.
 * @throws EventLogError `TOPIC_CONFLICT` when one exists with another partition count.
 */
export async function ensureEventTopics(log: EventLog, settings: TopicSettings = {}): Promise<void> {
  for (const spec of eventTopicSpecs(settings)) await log.createTopic(spec);
}

/** Creates `_schemas` as the registry's store: compacted, one partition (total order of schema ids). */
export async function ensureSchemasTopic(log: EventLog): Promise<void> {
  await log.createTopic({ name: SCHEMAS_TOPIC, partitions: 1, compacted: true });
}

/**
 * Dead-letter topic of processor `processor` for records of `sourceTopic`: `<source>.<processor>.dlq`
 * (the naming of Kafka Connect's `errors.deadletterqueue.topic.name` convention).
 */
export const deadLetterTopicName = (sourceTopic: string, processor: string): string => `${sourceTopic}.${processor}.dlq`;

/**
 * Creates a dead-letter topic when missing, with the source topic's partition count so a key keeps
 * its partition number in the DLQ.
 */
export async function ensureDeadLetterTopic(log: EventLog, sourceTopic: string, dlqTopic: string): Promise<void> {
  const existing = await log.listTopics();
  if (existing.some((t) => t.name === dlqTopic)) return;
  const partitions = existing.find((t) => t.name === sourceTopic)?.partitions ?? 1;
  await log.createTopic({ name: dlqTopic, partitions });
}
