/** Query port of the user-accounts read model: what sign-in reads, and channels' subscribers (key-value store). */

export interface UserAccount {
  userId: string;
  username: string;
  email: string;
  /** PHC string (scrypt). */
  passwordHash: string;
}

export interface UserAccountQueries {
  /** The account holding `username`, compared case-insensitively after NFKC (the user decider's `usernameKey`). */
  findUserByUsername(username: string): Promise<UserAccount | undefined>;
  /** The account of `userId`; undefined when there is none (never registered, or erased). */
  findUserById(userId: string): Promise<UserAccount | undefined>;
  /** True once `userId` was erased (UserErased; issue 13): their tokens are refused from then on. */
  isErased(userId: string): Promise<boolean>;
  /** Whether `subscriberId`'s subscription to the channel of user `channelId` stands (issue 14). */
  isSubscribed(channelId: string, subscriberId: string): Promise<boolean>;
  /** Standing subscriptions to the channel of user `channelId`; 0 for none. */
  subscriberCount(channelId: string): Promise<number>;
  /** The channels `subscriberId` subscribes to, with when (ms), in channel-id order (their data export). */
  subscriptionsOf(subscriberId: string): Promise<{ channelId: string; subscribedAt: number }[]>;
}
