/** Query port of the user-accounts read model: what sign-in reads (key-value store). */

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
}
