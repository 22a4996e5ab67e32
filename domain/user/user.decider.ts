import { assertNever, DomainError } from '../shared/event.ts';
import type { Decider } from '../shared/decider.ts';
import { charLength, isNonBlank } from '../shared/validation.ts';
import type { UserEvent } from './user.events.ts';
import type { UserCommand } from './user.commands.ts';

/**
 * State of the user aggregate: `{ status: 'absent' }` before UserRegistered; `erased` after
 * UserErased (the id stays taken; nothing personal is kept).
 */
export type UserState =
  | { readonly status: 'absent' }
  | { readonly status: 'erased'; readonly userId: string; readonly erasedAt: number }
  | {
      readonly status: 'registered';
      readonly userId: string;
      readonly username: string;
      readonly email: string;
      /** PHC string (scrypt). */
      readonly passwordHash: string;
      /** Milliseconds since the Unix epoch. */
      readonly registeredAt: number;
    };

const initialUserState: UserState = { status: 'absent' };

/** Username: 1..64 characters, no whitespace or control characters (they make impersonation and URLs awkward). */
const USERNAME = /^[^\s\p{Cc}]{1,64}$/u;
/** What erased data reads as (schemas/codec/personal-data.ts, comments): never a user's name (issue 13). */
const RESERVED_USERNAMES: ReadonlySet<string> = new Set(['[erased]', '[deleted]']);
/** Deliberately loose (local@domain): real validation of an address is sending mail to it. */
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/**
 * Key of the username uniqueness index: NFKC-normalised and lower-cased, so `Alice`, `ALICE`
 * and the full-width `Ａｌｉｃｅ` are the same name. Used by the command bus, which enforces the
 * (cross-aggregate) uniqueness; the decider alone cannot.
 */
export function usernameKey(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}

/**
 * Decides RegisterUser and EraseUser. Pure.
 * @throws DomainError `USER_ALREADY_EXISTS` (conflict) when the userId is registered or erased;
 *   `INVALID_USER` (invalid) for a malformed username (1..64 chars, no whitespace), email or password hash (PHC, starts with `$`);
 *   `USER_NOT_FOUND` (not_found) when erasing an id never registered; `INVALID_USER` (invalid) when
 *   EraseUser names another username than the account's (it would be routed to the wrong reservation).
 *   Erasing an erased user decides nothing (an idempotent retry).
 */
function decideUser(command: UserCommand, state: UserState): UserEvent[] {
  switch (command.type) {
    case 'RegisterUser': {
      const d = command.data;
      if (state.status !== 'absent') throw new DomainError('USER_ALREADY_EXISTS', `user ${d.userId} already exists`, 'conflict');
      if (!isNonBlank(d.userId)) throw new DomainError('INVALID_USER', 'userId is required', 'invalid');
      if (typeof d.username !== 'string' || !USERNAME.test(d.username) || charLength(d.username) > 64 || RESERVED_USERNAMES.has(usernameKey(d.username))) {
        throw new DomainError('INVALID_USER', 'username must be 1..64 characters without whitespace', 'invalid');
      }
      if (typeof d.email !== 'string' || !EMAIL.test(d.email) || d.email.length > 254) {
        throw new DomainError('INVALID_USER', 'email is not an address', 'invalid');
      }
      if (typeof d.passwordHash !== 'string' || !d.passwordHash.startsWith('$')) {
        throw new DomainError('INVALID_USER', 'passwordHash must be a PHC string', 'invalid');
      }
      return [{
        type: 'UserRegistered',
        data: { userId: d.userId, username: d.username, email: d.email, passwordHash: d.passwordHash, registeredAt: command.metadata.now },
      }];
    }
    case 'EraseUser': {
      const d = command.data;
      if (state.status === 'absent') throw new DomainError('USER_NOT_FOUND', `user ${d.userId} does not exist`, 'not_found');
      if (state.status === 'erased') return [];
      if (typeof d.username !== 'string' || usernameKey(d.username) !== usernameKey(state.username)) {
        throw new DomainError('INVALID_USER', 'username is not the account\'s', 'invalid');
      }
      return [{ type: 'UserErased', data: { userId: d.userId, erasedAt: command.metadata.now } }];
    }
    default:
      return assertNever(command);
  }
}

/**
 * Applies a user event. Total: a second UserRegistered for the same id is ignored (first one
 * wins); UserErased forgets everything but the id, and nothing brings an erased user back.
 */
function evolveUser(state: UserState, event: UserEvent): UserState {
  switch (event.type) {
    case 'UserRegistered':
      if (state.status !== 'absent') return state;
      return { status: 'registered', ...event.data };
    case 'UserErased':
      return { status: 'erased', userId: event.data.userId, erasedAt: event.data.erasedAt };
    default:
      return assertNever(event);
  }
}

/** The user aggregate as a decider (key: userId, topic `streamwave.users`). */
export const userDecider: Decider<UserState, UserCommand, UserEvent> = {
  initialState: initialUserState,
  decide: decideUser,
  evolve: evolveUser,
};
