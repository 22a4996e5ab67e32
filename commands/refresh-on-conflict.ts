/**
 * Refresh-on-conflict: a strategy of the command handler for processes that are not the only
 * writer of their aggregates (cluster roles: gateway replicas and the transcoder write the same
 * videos). Such a process reads the topics once at start, so its cached state can lag the log:
 * the transcoder has never seen an upload a gateway started after it. When a decider refuses a
 * command (DomainError), the handler reloads the streams the command is decided against from the
 * log and decides once more; a refusal on fresh state stands.
 *
 * Cost of one refusal: one `listTopics`, one `beginningOffsets` and `endOffsets` per topic, and a
 * read from its beginning of the partition of the command's key in each own topic of the kinds
 * involved (a video command or a view: one partition of `streamwave.videos`; a comment: that and
 * one of `streamwave.comments`; a registration: one of `streamwave.users`), i.e. O(records on
 * those partitions; an empty partition costs no read), serialised on the stream's concurrency key.
 * Refusals of one stream queued on its key share a reload: a reload clears every stale mark set
 * before it started. Any client able to provoke a refusal (e.g. a heartbeat for an unknown video)
 * makes the process read that partition; only the rate limits in front of the handler bound it.
 *
 * What it does not fix: a decision ACCEPTED on stale state (e.g. a username another process
 * registered since) is not detected. Partition-affine command processors on a commands topic
 * (every command routed by aggregate id to the single owner of that key's partition, Kafka
 * transactions fencing zombie owners, KIP-98/KIP-447) remove the stale state altogether and
 * replace this strategy.
 */
import type { Logger } from 'pino';
import { DomainError } from '../domain/shared/event.ts';
import { AGGREGATES, lockOf, streamsRead, type StreamRef } from './aggregates.ts';
import type { RoutedCommand } from './routing.ts';
import type { CommandResult } from './command-bus.port.ts';

/** What a second attempt reloads first, and the key it runs under (null: no lock). */
export interface RefreshPlan {
  /** Streams to mark stale and reload before deciding again: those the command is decided against. */
  readonly streams: readonly StreamRef[];
  /**
   * The key that protects those streams: the command's own concurrency key, or, for a kind that
   * takes none (views), the key of the kind whose state it borrows.
   */
  readonly lock: string | null;
}

/** The refresh plan of a routed command. */
export function refreshPlanOf(routed: RoutedCommand): RefreshPlan {
  const { kind, streamId } = routed;
  const borrowed = AGGREGATES[kind].borrows?.kind;
  return {
    streams: streamsRead(kind, streamId),
    lock: lockOf(kind, streamId) ?? (borrowed ? lockOf(borrowed, streamId) : null),
  };
}

/**
 * Runs `attempt` once; when a decider refuses (DomainError), runs it again with the command's
 * refresh plan. Other errors (log, codec) propagate unchanged: they are not about stale state.
 * @throws the DomainError of the second attempt when the command is refused on fresh state.
 */
export async function decideRefreshingOnConflict(
  routed: RoutedCommand,
  attempt: (refresh?: RefreshPlan) => Promise<CommandResult>,
  logger: Logger,
): Promise<CommandResult> {
  try {
    return await attempt();
  } catch (e) {
    if (!(e instanceof DomainError)) throw e;
    logger.info({ code: e.code, command: routed.command.type, kind: routed.kind, streamId: routed.streamId },
      'command refused on possibly stale state; reloading its aggregates from their partitions and deciding once more');
    return attempt(refreshPlanOf(routed));
  }
}
