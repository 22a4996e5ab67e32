/**
 * The decider registry: every aggregate kind the write side knows, described once. The command
 * handler, the routing table and the aggregate-state cache are driven by it; none of them names
 * a command or event type.
 *
 * Why a kind may borrow another kind's state: a comment thread and a view are decided against the
 * video's state. Keeping a thread's own copy of the video (and a third one for views) would triple
 * the memory of every video and let the copies drift after a partial reload. So the `comment`
 * entry keeps only what its own topic evolves (the comment ids) and borrows the `video` entry's
 * state at decision time; the `view` entry keeps nothing (a heartbeat changes no state) and
 * decides against the video's state as is.
 */
import { DomainError } from '../domain/shared/event.ts';
import type { Decider } from '../domain/shared/decider.ts';
import type { DomainCommand } from '../domain/commands.ts';
import type { UserCommand } from '../domain/user/user.commands.ts';
import type { VideoCommand } from '../domain/video/video.commands.ts';
import type { CommentCommand } from '../domain/comment/comment.commands.ts';
import type { ViewCommand } from '../domain/view/view.commands.ts';
import type { LikeCommand } from '../domain/like/like.commands.ts';
import type { SubscriptionCommand } from '../domain/subscription/subscription.commands.ts';
import type { PlaybackCommand } from '../domain/playback/playback.commands.ts';
import type { UserEvent } from '../domain/user/user.events.ts';
import type { VideoEvent } from '../domain/video/video.events.ts';
import type { CommentEvent } from '../domain/comment/comment.events.ts';
import type { ViewEvent } from '../domain/view/view.events.ts';
import type { LikeEvent } from '../domain/like/like.events.ts';
import type { SubscriptionEvent } from '../domain/subscription/subscription.events.ts';
import type { PlaybackEvent } from '../domain/playback/playback.events.ts';
import { userDecider, type UserState } from '../domain/user/user.decider.ts';
import { videoDecider, type VideoState } from '../domain/video/video.decider.ts';
import { commentDecider, type CommentThreadState } from '../domain/comment/comment.decider.ts';
import { viewDecider } from '../domain/view/view.decider.ts';
import { likeDecider, type VideoLikesState } from '../domain/like/like.decider.ts';
import { subscriptionDecider, type ChannelSubscribersState } from '../domain/subscription/subscription.decider.ts';
import { playbackDecider } from '../domain/playback/playback.decider.ts';
import { TOPIC_OF, TOPICS, type EventTopic } from '../schemas/topics.ts';

/**
 * The types of each aggregate kind: its state, the commands it decides, the events it decides
 * (`event`) and the events its `evolve` accepts (`evolvedBy`).
 */
export interface AggregateTypes {
  user: { state: UserState; command: UserCommand; event: UserEvent; evolvedBy: UserEvent };
  video: { state: VideoState; command: VideoCommand; event: VideoEvent; evolvedBy: VideoEvent };
  comment: { state: CommentThreadState; command: CommentCommand; event: CommentEvent; evolvedBy: VideoEvent | CommentEvent };
  view: { state: VideoState; command: ViewCommand; event: ViewEvent; evolvedBy: VideoEvent | ViewEvent };
  like: { state: VideoLikesState; command: LikeCommand; event: LikeEvent; evolvedBy: VideoEvent | LikeEvent };
  subscription: { state: ChannelSubscribersState; command: SubscriptionCommand; event: SubscriptionEvent; evolvedBy: SubscriptionEvent };
  playback: { state: VideoState; command: PlaybackCommand; event: PlaybackEvent; evolvedBy: VideoEvent | PlaybackEvent };
}

/** `user | video | comment | view | like | subscription | playback`. */
export type AggregateKind = keyof AggregateTypes;
/** The state a command of kind `K` is decided against (`UserState`, `VideoState`, `CommentThreadState`). */
export type StateOf<K extends AggregateKind> = AggregateTypes[K]['state'];
/** The commands kind `K` decides. */
export type CommandOf<K extends AggregateKind> = AggregateTypes[K]['command'];

/**
 * Lookups across aggregates for invariants no single decider can check (a decider sees one
 * aggregate). Provided by the command handler from its aggregate-state cache.
 */
export interface CrossAggregateLookups {
  /** The userId holding `username` (compared NFKC-lowercased, `usernameKey`), if any. */
  userIdOfUsername(username: string): string | undefined;
  /** Bytes of storage `ownerId` holds (declared sizes of live, non-failed videos; storage-index.ts). */
  storageUsedBy(ownerId: string): number;
  /** The per-user storage quota, bytes (STREAMWAVE_USER_STORAGE_QUOTA_BYTES). */
  readonly userStorageQuotaBytes: number;
}

/** A kind decides against another kind's state instead of keeping a copy of it (see the file comment). */
export type Borrowed<K extends AggregateKind> = {
  [B in AggregateKind]: {
    readonly kind: B;
    /** The state `decide` sees: this kind's own state (initial if none) combined with the borrowed one. */
    into(own: StateOf<K>, borrowed: StateOf<B>): StateOf<K>;
  };
}[AggregateKind];

/** One aggregate kind: how a command finds its stream, its state, its lock and its topic. */
export interface AggregateDefinition<K extends AggregateKind> {
  readonly kind: K;
  /** The pure decider from `domain/`: `decide(command, state) → events`, `evolve(state, event) → state`. */
  readonly decider: Decider<StateOf<K>, CommandOf<K>, AggregateTypes[K]['event'], AggregateTypes[K]['evolvedBy']>;
  /**
   * The command types this kind decides. A record over the kind's command union, so a command
   * added to the domain without being listed here fails to compile.
   */
  readonly commandTypes: { readonly [T in CommandOf<K>['type']]: true };
  /**
   * The aggregate id: the stream the command acts on, also the record key of its events.
   * Commands arrive from outside, so the handler checks the result is a non-empty string.
   */
  streamId(command: CommandOf<K>): string;
  /**
   * Topics whose events evolve this kind's state (the domain's view). Topics also evolved by the
   * borrowed kind are that kind's to keep: the cache reads only the remaining, own topics.
   */
  readonly evolvesFrom: readonly EventTopic[];
  /** The kind whose state this one decides against instead of keeping a copy. */
  readonly borrows?: Borrowed<K>;
  /** The topic this kind's events are appended to (`TOPIC_OF` of every event it decides). */
  readonly topic: EventTopic;
  /**
   * The key commands of this stream are serialised on (a per-process mutex), or null for no lock.
   * A kind that borrows must use the borrowed kind's key or none: the borrowed state is reloaded
   * under that key.
   */
  concurrencyKey: ((streamId: string) => string) | null;
  /**
   * Invariants spanning aggregates, checked after `decide` on the same lock, only when `decide`
   * produced events (an idempotent retry changes nothing, so it breaks nothing).
   * @throws DomainError when one is broken.
   */
  checkAcross?(command: CommandOf<K>, lookups: CrossAggregateLookups): void;
}

/** Lock of every registration: username uniqueness spans all user aggregates. */
const USER_REGISTRY_LOCK = 'user-registry';
/** Videos and their comment threads serialise on one key: a comment is decided against the video. */
const videoLock = (videoId: string): string => `video:${videoId}`;

/**
 * The decider registry: one entry per aggregate kind. The routing table (routing.ts), the
 * aggregate-state cache and the command handler read it; adding a command type to the domain
 * without listing it here fails to compile.
 */
export const AGGREGATES: { readonly [K in AggregateKind]: AggregateDefinition<K> } = {
  user: {
    kind: 'user',
    decider: userDecider,
    commandTypes: { RegisterUser: true, EraseUser: true },
    streamId: (c) => c.data.userId,
    evolvesFrom: [TOPICS.users],
    topic: TOPIC_OF.UserRegistered,
    concurrencyKey: () => USER_REGISTRY_LOCK,
    checkAcross(command, lookups) {
      if (command.type !== 'RegisterUser') return;
      const holder = lookups.userIdOfUsername(command.data.username);
      if (holder !== undefined && holder !== command.data.userId) {
        // The message names no one: refusals travel on the replies topic (issue 13).
        throw new DomainError('USERNAME_TAKEN', 'the username is taken', 'conflict');
      }
    },
  },
  video: {
    kind: 'video',
    decider: videoDecider,
    commandTypes: {
      StartUpload: true, CompleteUpload: true, FailUpload: true, StartProcessing: true, ReportProcessingProgress: true, RecordRenditionEncoded: true,
      PublishVideo: true, FailProcessing: true, CompleteProcessing: true, RecordStoryboard: true, UpdateVideoMetadata: true, DeleteVideo: true,
      PublishCaptions: true, RemoveCaptions: true, SetCustomThumbnail: true,
    },
    streamId: (c) => c.data.videoId,
    evolvesFrom: [TOPICS.videos],
    topic: TOPIC_OF.UploadStarted,
    concurrencyKey: videoLock,
    checkAcross(command, lookups) {
      // Issue 8: a user's declared storage is bounded (checked only when the upload is new).
      if (command.type !== 'StartUpload') return;
      const used = lookups.storageUsedBy(command.data.ownerId);
      if (used + command.data.sizeBytes > lookups.userStorageQuotaBytes) {
        throw new DomainError(
          'STORAGE_QUOTA_EXCEEDED',
          `this upload of ${command.data.sizeBytes} bytes would take your storage to ${used + command.data.sizeBytes} bytes; the quota is ${lookups.userStorageQuotaBytes} bytes`,
          'forbidden',
        );
      }
    },
  },
  comment: {
    kind: 'comment',
    decider: commentDecider,
    commandTypes: { PostComment: true, DeleteComment: true },
    streamId: (c) => c.data.videoId,
    evolvesFrom: [TOPICS.videos, TOPICS.comments],
    // evolveComment applies video events to `video` only and comment events to `commentIds` only,
    // so the two parts evolve independently and the video part can be the video aggregate's state.
    borrows: { kind: 'video', into: (thread, video) => ({ ...thread, video }) },
    topic: TOPIC_OF.CommentPosted,
    concurrencyKey: videoLock,
  },
  view: {
    kind: 'view',
    decider: viewDecider,
    commandTypes: { RecordView: true },
    streamId: (c) => c.data.videoId,
    // VideoViewed changes no state, so the views topic (the largest) is never read to decide.
    evolvesFrom: [TOPICS.videos],
    borrows: { kind: 'video', into: (_own, video) => video },
    topic: TOPIC_OF.VideoViewed,
    // A heartbeat changes no state and has no invariant across heartbeats.
    concurrencyKey: null,
  },
  like: {
    kind: 'like',
    decider: likeDecider,
    commandTypes: { LikeVideo: true, UnlikeVideo: true },
    streamId: (c) => c.data.videoId,
    evolvesFrom: [TOPICS.videos, TOPICS.likes],
    // evolveLike applies video events to `video` only and like events to `likers` only (as comments).
    borrows: { kind: 'video', into: (likes, video) => ({ ...likes, video }) },
    topic: TOPIC_OF.VideoLiked,
    // One standing like per user: decided under the video's key, like its comments.
    concurrencyKey: videoLock,
  },
  subscription: {
    kind: 'subscription',
    decider: subscriptionDecider,
    commandTypes: { SubscribeToChannel: true, UnsubscribeFromChannel: true },
    streamId: (c) => c.data.channelId,
    evolvesFrom: [TOPICS.subscriptions],
    topic: TOPIC_OF.ChannelSubscribed,
    // One subscription per user and channel; not the users' registry-wide lock (see the decider).
    concurrencyKey: (channelId) => `channel:${channelId}`,
  },
  playback: {
    kind: 'playback',
    decider: playbackDecider,
    commandTypes: { RecordPlaybackEvents: true },
    streamId: (c) => c.data.videoId,
    // As `view`: playback events change no state; only the video's own topic is read to decide.
    evolvesFrom: [TOPICS.videos],
    borrows: { kind: 'video', into: (_own, video) => video },
    topic: TOPIC_OF.PlaybackStarted,
    concurrencyKey: null,
  },
};

/** Every aggregate kind, in the registry's order. */
export const AGGREGATE_KINDS = Object.keys(AGGREGATES) as AggregateKind[];

// Compile-time check: every command of the domain is decided by some kind of the registry.
type UnregisteredCommand = Exclude<DomainCommand, CommandOf<AggregateKind>>;
const everyCommandRegistered: [UnregisteredCommand] extends [never] ? true : { unregistered: UnregisteredCommand } = true;
void everyCommandRegistered;

/**
 * Topics this kind keeps state from itself: `evolvesFrom` minus the topics of the kind it borrows.
 * Empty for a kind that keeps no state of its own (`view`).
 */
export function ownTopics(kind: AggregateKind): readonly EventTopic[] {
  const def = AGGREGATES[kind];
  const borrowed = def.borrows ? new Set(AGGREGATES[def.borrows.kind].evolvesFrom) : new Set<EventTopic>();
  return def.evolvesFrom.filter((t) => !borrowed.has(t));
}

/** Kinds that keep state of their own (`user`, `video`, `comment`), i.e. those the cache holds. */
export const STATEFUL_KINDS: readonly AggregateKind[] = AGGREGATE_KINDS.filter((k) => ownTopics(k).length > 0);

/** The stateful kinds whose own state evolves from events of `topic`. */
export function kindsEvolvedBy(topic: string): readonly AggregateKind[] {
  return STATEFUL_KINDS.filter((k) => (ownTopics(k) as readonly string[]).includes(topic));
}

/** A stream whose state the cache holds: `(kind, id)`. */
export interface StreamRef {
  readonly kind: AggregateKind;
  readonly id: string;
}

/** The streams a command of `kind` on stream `id` is decided against: its own (if stateful) and the borrowed one. */
export function streamsRead(kind: AggregateKind, id: string): StreamRef[] {
  const def = AGGREGATES[kind];
  const out: StreamRef[] = [];
  if (STATEFUL_KINDS.includes(kind)) out.push({ kind, id });
  if (def.borrows) out.push({ kind: def.borrows.kind, id });
  return out;
}

/** The key `(kind, id)` is serialised on, or null when the kind takes no lock. */
export function lockOf(kind: AggregateKind, id: string): string | null {
  return AGGREGATES[kind].concurrencyKey?.(id) ?? null;
}
