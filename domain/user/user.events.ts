import type { Event } from '../shared/event.ts';

/** A user account was created. Key: userId. Topic: `streamwave.users`. */
export type UserRegistered = Event<'UserRegistered', {
  userId: string;
  username: string;
  email: string;
  /** Password hash in PHC string format (scrypt), never the password. */
  passwordHash: string;
  /** Milliseconds since the Unix epoch. */
  registeredAt: number;
}>;

export type UserEvent = UserRegistered;
