import { usernameKey, type UserState } from '../domain/user/user.decider.ts';

/**
 * Which user holds which username, for the uniqueness check no single user aggregate can make.
 * Names are compared by `usernameKey` (NFKC, lower case: `Alice`, `ALICE` and `Ａｌｉｃｅ` are one).
 * Fed by the aggregate-state cache with every change of a user's state, in log order, so on
 * replay the first registration of a name wins.
 */
export interface UsernameIndex {
  /** The userId holding `username`, if any. */
  holder(username: string): string | undefined;
  /**
   * Records that user `userId` went from `before` (undefined: not in the cache) to `after`, on an
   * evolve or when a reloaded state replaces the cached one.
   */
  userChanged(userId: string, before: UserState | undefined, after: UserState): void;
}

/** An empty index; the cache fills it while it rebuilds and evolves user states. */
export function createUsernameIndex(): UsernameIndex {
  const holders = new Map<string, string>();
  return {
    holder: (username) => holders.get(usernameKey(username)),
    userChanged(userId, before, after) {
      if (before?.status === 'registered' && (after.status !== 'registered' || after.username !== before.username)) {
        const k = usernameKey(before.username);
        if (holders.get(k) === userId) holders.delete(k);
      }
      if (after.status === 'registered') {
        const k = usernameKey(after.username);
        if (!holders.has(k)) holders.set(k, userId);
      }
    },
  };
}
