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

/**
 * The user asked to be erased (GDPR art. 17; issue 13). Carries nothing personal: once it is on the
 * log, the user's data key is deleted (processors/user-erasure) and every personal field written
 * for them reads as `[erased]`. Key: userId. Topic: `streamwave.users`.
 */
export type UserErased = Event<'UserErased', {
  userId: string;
  /** Milliseconds since the Unix epoch. */
  erasedAt: number;
}>;

export type UserEvent = UserRegistered | UserErased;
