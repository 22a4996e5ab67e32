/**
 * The routing table: the one place a command finds its aggregate. Derived from the decider
 * registry (`AGGREGATES[kind].commandTypes`), so adding a command means adding it to its entry.
 */
import { DomainError } from '../domain/shared/event.ts';
import { AGGREGATE_KINDS, AGGREGATES, type AggregateKind, type CommandOf } from './aggregates.ts';
import type { Command, CommandType } from './command-bus.port.ts';

/**
 * Command type → the aggregate kind that decides it.
 * @throws Error at module load when two kinds list the same command type (a registry bug).
 */
export const ROUTES: ReadonlyMap<CommandType, AggregateKind> = (() => {
  const routes = new Map<CommandType, AggregateKind>();
  for (const kind of AGGREGATE_KINDS) {
    for (const type of Object.keys(AGGREGATES[kind].commandTypes) as CommandType[]) {
      const other = routes.get(type);
      if (other !== undefined) throw new Error(`command type ${type} is registered by both ${other} and ${kind}`);
      routes.set(type, kind);
    }
  }
  return routes;
})();

/** A valid command with the aggregate it acts on: its kind and stream id (the aggregate id, record key). */
export type RoutedCommand = {
  [K in AggregateKind]: { readonly kind: K; readonly command: CommandOf<K>; readonly streamId: string };
}[AggregateKind];

const invalid = (message: string) => new DomainError('INVALID_COMMAND', message, 'invalid');

/**
 * Checks the envelope of a command (it comes from outside: HTTP, processors) and routes it.
 * The payload itself is the decider's to validate.
 * @throws DomainError `INVALID_COMMAND` (invalid) for an unknown `type`, a missing `data` object,
 *   a `metadata.now` that is not a finite time in ms since the epoch, or a missing aggregate id.
 */
export function routeCommand(command: Command): RoutedCommand {
  const c = command as unknown as { type?: unknown; data?: unknown; metadata?: { now?: unknown } } | null;
  const kind = c !== null && typeof c === 'object' && typeof c.type === 'string' ? ROUTES.get(c.type as CommandType) : undefined;
  if (kind === undefined) throw invalid(`unknown command type ${String(c?.type)}`);
  if (c!.data === null || typeof c!.data !== 'object') throw invalid('command data is required');
  const now = c!.metadata?.now;
  if (typeof now !== 'number' || !Number.isFinite(now)) throw invalid('metadata.now must be a time in ms since the epoch');
  // The route guarantees the command belongs to `kind`; TypeScript cannot correlate the two.
  const streamId: unknown = (AGGREGATES[kind].streamId as (cmd: Command) => unknown)(command);
  if (typeof streamId !== 'string' || streamId.length === 0) throw invalid('the aggregate id is required');
  return { kind, command, streamId } as RoutedCommand;
}
