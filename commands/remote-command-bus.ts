/**
 * The CommandBus of a process that does not decide (cluster mode, ADR 0006): it sends each command
 * to the commands topic, keyed so that the command processor owning the aggregate decides it
 * (command-keys.ts), and waits for the outcome on the replies topic.
 *
 * - `send` appends the command record (envelope: the command's `metadata.commandId` from an
 *   `Idempotency-Key`, else a fresh ULID; `replyTo` = this instance)
 *   and resolves with the outcome's events and positions (read-your-writes as in-process), or
 *   throws the decider's DomainError rebuilt from the outcome, so HTTP semantics do not change.
 * - No outcome within `timeoutMs`: CommandTimeoutError (the gateway answers 503 `COMMAND_TIMEOUT`
 *   with `Retry-After`); a late outcome is dropped. The command may still be decided.
 * - Commands that do not travel on the topic (heartbeats, `RecordView`) go to `direct`.
 * - Replies: one consumer group per instance (`streamwave.command-replies.<instanceId>`) on every
 *   partition of the replies topic, starting at its end when assigned; replies keyed to other
 *   instances are skipped without being decoded.
 */
import { pino, type Logger } from 'pino';
import { ulid } from 'ulid';
import { Histogram, type Registry } from 'prom-client';
import { DomainError } from '../domain/shared/event.ts';
import type { EventCodec } from '../schemas/event-codec.port.ts';
import type { CommandCodec, CommandOutcome } from '../schemas/command-codec.port.ts';
import { COMMAND_REPLIES_TOPIC, COMMANDS_TOPIC, ensureCommandTopics } from '../schemas/topics.ts';
import { tpKey, type ConsumerHandle, type EventLog } from '../platform/log/event-log.port.ts';
import { CommandBusError } from './command-handler.ts';
import { CommandTimeoutError, type CommandBus, type CommandResult } from './command-bus.port.ts';
import { commandTopicKey, type UsernameDigest } from './command-keys.ts';
import { routeCommand } from './routing.ts';

/** What `createRemoteCommandBus` needs. */
export interface RemoteCommandBusOptions {
  log: EventLog;
  /** The events' codec (to hand back the decided events). */
  codec: EventCodec;
  /** The commands' and outcomes' codec. */
  commands: CommandCodec;
  /** The reservation key of a username; the same secret as the command processors'. */
  usernameDigest: UsernameDigest;
  /** This process's reply address: unique among the running instances (e.g. `gateway-<host>-<pid>`). */
  instanceId: string;
  /** How long `send` waits for an outcome, ms. Default 10 000. */
  timeoutMs?: number;
  /** Where commands that do not travel on the commands topic go (heartbeats). */
  direct?: CommandBus;
  /** Partitions of the command topics created when missing (must equal the event topics'). */
  partitions?: number;
  logger?: Logger;
  /**
   * Prometheus registry for `streamwave_command_round_trip_seconds{outcome}` (accepted | refused |
   * timeout: send → outcome) of the commands this bus sends through the topic.
   */
  registry?: Registry;
}

/** A remote CommandBus with its lifecycle. */
export interface RemoteCommandBus extends CommandBus {
  /** Creates the command topics when missing and joins the replies topic at its end. Idempotent. */
  start(): Promise<void>;
  /** Leaves the replies topic; pending sends fail with CommandTimeoutError at their deadline. */
  stop(): Promise<void>;
  /** Commands sent and still waiting for an outcome. */
  pending(): number;
}

interface Waiter { resolve(o: CommandOutcome): void; reject(e: unknown): void; timer: NodeJS.Timeout }

/** See the file comment. `send` before `start` throws CommandBusError NOT_STARTED. */
export function createRemoteCommandBus(opts: RemoteCommandBusOptions): RemoteCommandBus {
  const { log, codec, commands, usernameDigest, instanceId } = opts;
  const logger = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'remote-command-bus', instanceId });
  const timeoutMs = opts.timeoutMs ?? 10_000;
  /** Per command id, every send waiting for its outcome (a retry with the same Idempotency-Key on this gateway shares the id). */
  const waiters = new Map<string, Set<Waiter>>();
  const roundTrip = opts.registry && new Histogram({
    name: 'streamwave_command_round_trip_seconds', help: 'A command sent through streamwave.commands until its outcome arrived (or the timeout), seconds.',
    labelNames: ['outcome'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [opts.registry],
  });
  let replies: ConsumerHandle | undefined;
  let started: Promise<void> | undefined;

  async function doStart(): Promise<void> {
    await ensureCommandTopics(log, { partitions: opts.partitions });
    replies = await log.subscribe({
      groupId: `${COMMAND_REPLIES_TOPIC}.${instanceId}`,
      topics: [COMMAND_REPLIES_TOPIC],
      fromBeginning: false,
      // Only outcomes of commands sent from now on matter: start at the end, whatever was committed,
      // so nothing is committed either (a round trip per batch of replies saved).
      commitOffsets: false,
      async onAssigned(parts) {
        const ends = await log.endOffsets(COMMAND_REPLIES_TOPIC);
        return new Map(parts.map((p) => [tpKey(p.topic, p.partition), ends[p.partition] ?? 0]));
      },
      async eachBatch(batch) {
        for (const r of batch.records) {
          if (r.key !== instanceId || r.value === null) continue;
          let outcome: CommandOutcome;
          try {
            outcome = await commands.decodeOutcome(r.value);
          } catch (err) {
            logger.warn({ err, partition: r.partition, offset: r.offset }, 'skipping an undecodable command outcome');
            continue;
          }
          const ws = waiters.get(outcome.commandId);
          if (!ws) continue; // timed out already, or sent by an earlier run of this instance
          waiters.delete(outcome.commandId);
          for (const w of ws) { clearTimeout(w.timer); w.resolve(outcome); }
        }
      },
    });
    // Assigned (and positioned at the end) before the first command goes out.
    await replies.caughtUp();
    logger.info('remote command bus started');
  }

  /** Stops `w` waiting for `commandId`. */
  function forget(commandId: string, w: Waiter): void {
    clearTimeout(w.timer);
    const ws = waiters.get(commandId);
    ws?.delete(w);
    if (ws?.size === 0) waiters.delete(commandId);
  }

  /** The outcome of `commandId` once it arrives (CommandTimeoutError after `timeoutMs`), and how to stop waiting. */
  function awaitOutcome(commandId: string): { outcome: Promise<CommandOutcome>; cancel(): void } {
    let w!: Waiter;
    const outcome = new Promise<CommandOutcome>((resolve, reject) => {
      w = { resolve, reject, timer: setTimeout(() => { forget(commandId, w); reject(new CommandTimeoutError(commandId, timeoutMs)); }, timeoutMs) };
      if (!waiters.has(commandId)) waiters.set(commandId, new Set());
      waiters.get(commandId)!.add(w);
    });
    return { outcome, cancel: () => forget(commandId, w) };
  }

  return {
    start() {
      started ??= doStart().catch((err: unknown) => { started = undefined; throw err; });
      return started;
    },
    async stop() {
      await replies?.stop();
      replies = undefined;
      started = undefined;
    },
    pending: () => [...waiters.values()].reduce((n, ws) => n + ws.size, 0),
    async send(command): Promise<CommandResult> {
      if (!started) throw new CommandBusError('NOT_STARTED', 'call start() before sending commands');
      await started;
      const routed = routeCommand(command);
      const key = commandTopicKey(routed, usernameDigest);
      if (key === null) {
        if (!opts.direct) throw new DomainError('INVALID_COMMAND', `${command.type} does not travel on ${COMMANDS_TOPIC} and this bus has no direct path`, 'invalid');
        return opts.direct.send(command);
      }
      const commandId = command.metadata.commandId ?? ulid();
      // `routeCommand` guarantees a command of the registry; the commands topic carries all but heartbeats.
      const value = await commands.encode({ command: routed.command as never, commandId, replyTo: instanceId });
      const { outcome, cancel } = awaitOutcome(commandId);
      const end = roundTrip?.startTimer();
      try {
        await log.append(COMMANDS_TOPIC, [{ key, value, timestamp: command.metadata.now }]);
      } catch (err) {
        cancel();
        outcome.catch(() => {});
        throw err;
      }
      const o = await outcome.catch((err: unknown) => { end?.({ outcome: 'timeout' }); throw err; });
      end?.({ outcome: o.accepted ? 'accepted' : 'refused' });
      if (!o.accepted) {
        const refusal = o.refusal ?? { code: 'REFUSED', message: 'the command was refused', kind: 'invalid' as const };
        throw new DomainError(refusal.code, refusal.message, refusal.kind);
      }
      return { events: await Promise.all(o.events.map((b) => codec.decode(b))), positions: o.positions };
    },
  };
}
