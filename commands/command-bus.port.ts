import type { DomainEvent } from '../domain/events.ts';
import type { DomainCommand } from '../domain/commands.ts';
import type { RecordMetadata } from '../platform/log/event-log.port.ts';

/**
 * Commands: intentions sent to an aggregate. Ids and time arrive on the command
 * (`metadata.now`, generated ids) so `decide` is pure and replay is deterministic.
 * The types live in the domain (`domain/<aggregate>/<aggregate>.commands.ts`, composed in
 * `domain/commands.ts`) so the deciders need not import from the command side.
 */
export type Command = DomainCommand;

export type CommandType = Command['type'];

/** What a command produced: the events and where they landed on the log. */
export interface CommandResult {
  /** Appended events; `[]` for an idempotent retry. */
  events: DomainEvent[];
  /**
   * Log positions of the appended events, in order. The gateway hands them to a read model's
   * `waitFor(positions)` to give a client read-your-writes consistency.
   */
  positions: RecordMetadata[];
}

/**
 * CommandBus: decides a command against the current state of its aggregate and appends the
 * resulting events to the log. Resolves once they are acknowledged (durable).
 * @throws DomainError (from domain/shared/event.ts) when the command breaks an invariant.
 */
export interface CommandBus {
  send(command: Command): Promise<CommandResult>;
}

/**
 * Prefix of command ids made from a client's `Idempotency-Key` (gateway/idempotency.ts): the ids
 * the deciders remember for 24 h (commands/command-ids.ts). Generated ids (ULIDs) never start so.
 */
export const IDEMPOTENT_ID_PREFIX = 'idem_';

/**
 * No outcome arrived within the bus's timeout (cluster mode: the command processor owning the
 * aggregate is restarting, rebalancing or overloaded). The command may still be decided later;
 * the gateway answers 503 `COMMAND_TIMEOUT` with `Retry-After` (ADR 0006).
 */
export class CommandTimeoutError extends Error {
  readonly code = 'COMMAND_TIMEOUT';
  constructor(
    /** Id of the command that went unanswered. */
    readonly commandId: string,
    /** How long the bus waited, ms. */
    readonly timeoutMs: number,
  ) {
    super(`no outcome for command ${commandId} within ${timeoutMs} ms; it may still be decided`);
    this.name = 'CommandTimeoutError';
  }
}
