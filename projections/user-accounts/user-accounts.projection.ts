/**
 * The user-accounts read model: what sign-in reads, and each channel's subscribers (issue 14).
 * Consumes the users and subscriptions topics. Serves UserAccountQueries.
 *
 * Key layout: `user:<userId>` → UserAccount; `username:<usernameKey>` → UserAccount, where
 * `usernameKey` is the user decider's NFKC + lower-case normal form, so `Alice`, `ALICE` and the
 * full-width `Ａｌｉｃｅ` find the same account. The first registration of a name wins (the write
 * side refuses duplicates; this guards a race across partitions). `erased:<userId>` → true once
 * the user is erased (issue 13): both account keys are deleted, and the marker lets the gateway
 * refuse the user's tokens at once (`isErased`).
 *
 * Subscriptions, a membership index (stores/membership-index.ts):
 * `subscription:<channelId>:<subscriberId>` → true while it stands,
 * `subscribed-to:<subscriberId>:<channelId>` → its time (ms), `subscribers:<channelId>` → the
 * count; an erased user's subscriptions leave the counts. Adding the topic needed no rebuild: a
 * store without a checkpoint on it reads it from offset 0.
 */
import pino from 'pino';
import type { DomainEvent } from '../../domain/events.ts';
import { usernameKey } from '../../domain/user/user.decider.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { createKeyValueProjection, type KeyValueBatch } from '../stores/key-value-projection.ts';
import type { KeyValueStore } from '../stores/key-value-store.port.ts';
import { membershipIndex } from '../stores/membership-index.ts';
import type { UserAccount, UserAccountQueries } from './user-accounts.port.ts';

export const USER_ACCOUNTS = 'user-accounts';
export const USER_ACCOUNTS_LAYOUT_VERSION = 1;

const enc = encodeURIComponent;
const keys = {
  user: (userId: string) => `user:${enc(userId)}`,
  username: (username: string) => `username:${enc(usernameKey(username))}`,
  erased: (userId: string) => `erased:${enc(userId)}`,
  subscribers: (channelId: string) => `subscribers:${enc(channelId)}`,
};

export interface UserAccountsProjectionDeps {
  store: KeyValueStore;
  logger?: pino.Logger;
}

/** The user-accounts projection node (see the file comment). */
export function createUserAccountsProjection(deps: UserAccountsProjectionDeps): ProjectionNode<UserAccountQueries> {
  const { store } = deps;

  const subscriptions = membershipIndex({
    marker: 'subscription', byMember: 'subscribed-to', erasedKey: keys.erased,
    async adjustCount(tx, channelId, delta) {
      tx.put(keys.subscribers(channelId), Math.max(0, ((await tx.get<number>(keys.subscribers(channelId))) ?? 0) + delta));
    },
  });

  async function applyEvent(tx: KeyValueBatch, e: DomainEvent): Promise<void> {
    if (e.type === 'ChannelSubscribed' || e.type === 'ChannelUnsubscribed') {
      const { channelId, subscriberId } = e.data;
      return subscriptions.apply(tx, channelId, subscriberId, e.type === 'ChannelSubscribed' ? e.data.subscribedAt : undefined);
    }
    if (e.type === 'UserErased') {
      const { userId } = e.data;
      await subscriptions.erase(tx, userId);
      const account = await tx.get<UserAccount>(keys.user(userId));
      if (account) {
        const holder = await tx.get<UserAccount>(keys.username(account.username));
        if (holder?.userId === userId) tx.del(keys.username(account.username));
      }
      tx.del(keys.user(userId));
      tx.put(keys.erased(userId), true);
      return;
    }
    if (e.type !== 'UserRegistered') return;
    const d = e.data;
    // Replayed after the erasure, the registration decodes as `[erased]`: nothing to keep.
    if (await tx.get<boolean>(keys.erased(d.userId))) return;
    const account: UserAccount = { userId: d.userId, username: d.username, email: d.email, passwordHash: d.passwordHash };
    tx.put(keys.user(d.userId), account);
    const holder = await tx.get<UserAccount>(keys.username(d.username));
    if (!holder || holder.userId === d.userId) tx.put(keys.username(d.username), account);
  }

  const queries: UserAccountQueries = {
    findUserByUsername: (username) => store.get<UserAccount>(keys.username(username)),
    findUserById: (userId) => store.get<UserAccount>(keys.user(userId)),
    isErased: async (userId) => (await store.get<boolean>(keys.erased(userId))) === true,
    isSubscribed: (channelId, subscriberId) => subscriptions.has(store, channelId, subscriberId),
    subscriberCount: async (channelId) => (await store.get<number>(keys.subscribers(channelId))) ?? 0,
    subscriptionsOf: async (subscriberId) => (await subscriptions.groupsOf(store, subscriberId)).map((g) => ({ channelId: g.group, subscribedAt: g.since })),
  };

  return createKeyValueProjection({
    name: USER_ACCOUNTS, layoutVersion: USER_ACCOUNTS_LAYOUT_VERSION, inputs: [TOPICS.users, TOPICS.subscriptions], store, queries, applyEvent, logger: deps.logger,
  });
}
