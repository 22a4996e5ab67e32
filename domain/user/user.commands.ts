import type { CommandMetadata } from '../shared/event.ts';

/** Create an account. `passwordHash` is a PHC string (scrypt), hashed by the caller. Aggregate id: `data.userId`. */
export type RegisterUser = {
  type: 'RegisterUser'; data: { userId: string; username: string; email: string; passwordHash: string }; metadata: CommandMetadata;
};

export type UserCommand = RegisterUser;
