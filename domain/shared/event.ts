/**
 * A domain event: a `type`-tagged record of something that happened.
 * `type` is also the Avro record name of the event's schema in `schemas/`
 * (namespace `io.streamwave.<aggregate>`), so the codec maps the two 1:1.
 */
export interface Event<TType extends string, TData extends object> {
  readonly type: TType;
  readonly data: TData;
}

/** Metadata every command carries so that `decide` stays pure (time and ids come from outside). */
export interface CommandMetadata {
  /** Wall-clock time of the command, milliseconds since the Unix epoch. */
  readonly now: number;
  /** The authenticated user issuing the command, if any. */
  readonly actorId?: string;
  /**
   * The command's id when the client chose it (HTTP `Idempotency-Key`, scoped to the caller and
   * route: `idem_…`); such a command is decided at most once within 24 h (commands/command-ids.ts).
   * Absent: the bus gives it a fresh id.
   */
  readonly commandId?: string;
}

/** Raised by `decide` when a command breaks an invariant. `code` is stable and maps to an HTTP 4xx in the gateway. */
export class DomainError extends Error {
  constructor(
    /** Stable machine-readable code, e.g. `NOT_OWNER`, `VIDEO_NOT_PUBLISHED`. */
    readonly code: string,
    message: string,
    /** Kind of failure, used by the gateway to pick the HTTP status. */
    readonly kind: 'not_found' | 'forbidden' | 'conflict' | 'invalid' = 'invalid',
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** Compile-time exhaustiveness check for `switch` over a discriminated union. */
export function assertNever(x: never): never {
  throw new Error(`unhandled variant: ${JSON.stringify(x)}`);
}
