/**
 * A decider (Jérémie Chassaing's "functional event sourcing" pattern, as used by emmett):
 * the whole behaviour of an aggregate as three pure pieces.
 *
 * - `initialState`: the state before any event (the aggregate does not exist yet);
 * - `decide(command, state)`: the events a command produces, `[]` for an idempotent retry;
 *   throws `DomainError` when the command breaks an invariant;
 * - `evolve(state, event)`: the state after an event. Total: it never throws, so a replay of the
 *   log always succeeds (events are facts; validation belongs to `decide`).
 *
 * Nothing here does I/O or reads the clock: time and ids arrive on the command.
 */
export interface Decider<State, Command, DecidedEvent, EvolvedEvent = DecidedEvent> {
  readonly initialState: State;
  decide(command: Command, state: State): DecidedEvent[];
  evolve(state: State, event: EvolvedEvent): State;
}

/** Folds events over `initialState` (what the command side does when it rebuilds an aggregate). */
export function fold<State, Event>(
  decider: { initialState: State; evolve(state: State, event: Event): State },
  events: readonly Event[],
): State {
  return events.reduce((s, e) => decider.evolve(s, e), decider.initialState);
}
