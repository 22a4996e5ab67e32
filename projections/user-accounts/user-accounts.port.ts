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
}
