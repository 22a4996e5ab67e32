/**
 * Heartbeats off the commands topic (issue 10, ADR 0006): a gateway in cluster mode decides
 * `RecordView` itself and appends the `VideoViewed` directly, because a heartbeat changes no
 * aggregate state and has no invariant across heartbeats — only "the video exists, is live and
 * ready", checked against the video states of a cache that follows the videos topic.
 *
 * Following the log: the cache reads the videos topic forward every `followIntervalMs` (only the
 * records appended since the last read), and once more, coalesced, when a heartbeat is refused
 * as not found or not ready (a video published a moment ago): never a re-read of a topic, so a
 * flood of heartbeats for made-up ids costs at most one forward read per interval.
 *
 * Appending: through coalesced appends (platform/log/coalesced-appends.ts), so the heartbeats and
 * playback reports that arrive while one append is in flight go to the log together in the next
 * (one append in flight at a time, batched as a log producer's linger would).
 */
import { pino, type Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { DomainError } from '../domain/shared/event.ts';
import { TOPIC_OF } from '../schemas/topics.ts';
import type { EventCodec } from '../schemas/event-codec.port.ts';
import type { EventLog } from '../platform/log/event-log.port.ts';
import { coalescedAppends } from '../platform/log/coalesced-appends.ts';
import { createAggregateStateCache } from './aggregate-state-cache.ts';
import type { CommandBus, CommandResult } from './command-bus.port.ts';
import { decideRouted } from './command-handler.ts';
import { routeCommand } from './routing.ts';

/** What `createViewRecorder` needs. */
export interface ViewRecorderOptions {
  log: EventLog;
  codec: EventCodec;
  /** How often the video states follow the log, ms. Default 500. */
  followIntervalMs?: number;
  logger?: Logger;
  /**
   * Prometheus registry for `streamwave_view_recorder_appends_total{topic}` (successful appends on
   * the log) and `streamwave_view_recorder_sends_total{topic}` (heartbeats and playback reports
   * they carried): their ratio is how many sends one append coalesces. docs/metrics.md.
   */
  registry?: Registry;
}

/** A CommandBus for heartbeats only, with its lifecycle. */
export interface ViewRecorder extends CommandBus {
  /** Reads the videos topic (from the beginning), then follows it. Idempotent. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Forward reads of the videos topic so far (a test's figure: refusals must not multiply them). */
  reads(): number;
}

/**
 * How long a gateway's heartbeats and playback reports linger for company before their append
 * goes, ms (coalesced-appends.ts `lingerMs`, Kafka's `linger.ms`): at 1,000 events/s a produce
 * request carried about 3 of them, one round trip of a few ms each (issue 15: 328 produce requests
 * a second, the broker's busiest kind). It adds up to this much to a heartbeat's 202.
 */
export const VIEW_APPEND_LINGER_MS = 10;

/** A heartbeat crosses no aggregate (the view kind has no cross-aggregate check): lookups it never reads. */
const NO_LOOKUPS = { userIdOfUsername: () => undefined, storageUsedBy: () => 0, userStorageQuotaBytes: 0 };

/** Codes of a refusal that fresher video states may turn into an acceptance. */
const MAYBE_STALE = new Set(['VIDEO_NOT_FOUND', 'VIDEO_NOT_PUBLISHED']);

/**
 * See the file comment. `send` takes `RecordView` and `RecordPlaybackEvents` only (playback reports, issue 15, are decided the same way).
 * @throws from `send`: DomainError `INVALID_COMMAND` for another command type; the view decider's
 *   DomainErrors (VIDEO_NOT_FOUND, VIDEO_DELETED, VIDEO_NOT_PUBLISHED, INVALID_VIEW); the log's error.
 */
export function createViewRecorder(opts: ViewRecorderOptions): ViewRecorder {
  const { log, codec } = opts;
  const logger = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'view-recorder' });
  const cache = createAggregateStateCache({ log, codec, logger, kinds: ['video'] });
  const counter = (name: string, help: string) => opts.registry && new Counter({ name, help, labelNames: ['topic'], registers: [opts.registry] });
  const appendsTotal = counter('streamwave_view_recorder_appends_total', 'Successful appends of the view recorder on the log, by topic (each carries one or more coalesced sends).');
  const sendsTotal = counter('streamwave_view_recorder_sends_total', 'Heartbeats and playback reports the view recorder appended, by topic (sends ÷ appends = sends per coalesced append).');
  const appends = coalescedAppends(log, {
    lingerMs: VIEW_APPEND_LINGER_MS,
    onAppend: (topic, callers) => {
      appendsTotal?.inc({ topic });
      sendsTotal?.inc({ topic }, callers);
    },
  });
  let following: Promise<number> | undefined;
  let reads = 0;
  let timer: NodeJS.Timeout | undefined;
  let started: Promise<void> | undefined;

  /** One forward read at a time; callers arriving meanwhile share it. */
  function follow(): Promise<number> {
    following ??= (reads++, cache.catchUp()).finally(() => { following = undefined; });
    return following;
  }

  return {
    start() {
      started ??= (async () => {
        await cache.rebuild();
        const interval = opts.followIntervalMs ?? 500;
        const tick = () => {
          timer = setTimeout(() => { follow().catch((err: unknown) => logger.warn({ err }, 'following the videos topic failed; retrying')).finally(tick); }, interval);
          timer.unref();
        };
        tick();
      })();
      return started;
    },
    async stop() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      await following?.catch(() => undefined);
    },
    reads: () => reads,
    async send(command): Promise<CommandResult> {
      await started;
      const routed = routeCommand(command);
      if (routed.kind !== 'view' && routed.kind !== 'playback') throw new DomainError('INVALID_COMMAND', `${command.type} is decided by the command processor, not here`, 'invalid');
      let events;
      try {
        events = decideRouted(routed, cache, NO_LOOKUPS);
      } catch (err) {
        if (!(err instanceof DomainError) || !MAYBE_STALE.has(err.code)) throw err;
        await follow();
        events = decideRouted(routed, cache, NO_LOOKUPS);
      }
      const records = await Promise.all(events.map(async (e) => ({ key: routed.streamId, value: await codec.encode(TOPIC_OF[e.type], e), timestamp: routed.command.metadata.now })));
      const positions = records.length ? await appends.append(TOPIC_OF[events[0].type], records) : [];
      return { events, positions };
    },
  };
}
