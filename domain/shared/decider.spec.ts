import assert from 'node:assert/strict';
import { DomainError } from './event.ts';
import type { Decider } from './decider.ts';

/**
 * Given/when/then test helper for deciders (after emmett's `DeciderSpecification`):
 *
 * ```ts
 * const spec = DeciderSpecification.for(videoDecider);
 * spec.given([uploadStarted]).when(completeUpload).then([uploadCompleted]);
 * spec.given([]).when(completeUpload).thenThrows('VIDEO_NOT_FOUND', 'not_found');
 * ```
 *
 * `given` events are folded with `evolve` from `initialState`; `when` runs `decide` on the result.
 * `then` deep-compares the decided events (`then([])` asserts an idempotent no-op).
 * Note: the object returned by `when` has a `then` method, so do not `await` or return it from a test.
 */
export const DeciderSpecification = {
  for<State, Command, DecidedEvent, EvolvedEvent>(decider: Decider<State, Command, DecidedEvent, EvolvedEvent>) {
    return {
      given(events: readonly EvolvedEvent[]) {
        const state = events.reduce((s, e) => decider.evolve(s, e), decider.initialState);
        return {
          /** The state after the given events (for assertions on evolve). */
          state,
          when(command: Command) {
            const run = (): DecidedEvent[] => decider.decide(command, state);
            return {
              /** Asserts the decided events, in order. */
              then(expected: readonly DecidedEvent[]): void {
                assert.deepStrictEqual(run(), expected);
              },
              /** Asserts the decided events satisfy a predicate-style check (for generated values). */
              thenMatches(check: (events: DecidedEvent[]) => void): void {
                check(run());
              },
              /** Asserts `decide` throws a DomainError with this code (and kind, if given). */
              thenThrows(code: string, kind?: DomainError['kind']): void {
                assert.throws(run, (e: unknown) => {
                  assert.ok(e instanceof DomainError, `expected a DomainError, got ${String(e)}`);
                  assert.equal(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
                  if (kind !== undefined) assert.equal(e.kind, kind, `expected kind ${kind}, got ${e.kind}`);
                  return true;
                });
              },
            };
          },
        };
      },
    };
  },
};
