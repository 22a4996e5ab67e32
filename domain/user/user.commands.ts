import type { CommandMetadata } from '../shared/event.ts';

/** Create an account. `passwordHash` is a PHC string (scrypt), hashed by the caller. Aggregate id: `data.userId`. */
export type RegisterUser = {
  type: 'RegisterUser'; data: { userId: string; username: string; email: string; passwordHash: string }; metadata: CommandMetadata;
};

/**
 * Erase an account (GDPR art. 17; issue 13): the caller re-authenticated with their password.
 * `username` is the account's current name: it routes the command to the partition that holds the
 * name's reservation (ADR 0006), which the erasure frees. Aggregate id: `data.userId`.
 */
export type EraseUser = {
  type: 'EraseUser'; data: { userId: string; username: string }; metadata: CommandMetadata;
};

export type UserCommand = RegisterUser | EraseUser;
