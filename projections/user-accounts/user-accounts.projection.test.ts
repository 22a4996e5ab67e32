import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainEvent } from '../../domain/events.ts';
import { driveReadModel } from '../testing/projection-test-kit.ts';

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const registered = (userId: string, username: string, email: string): DomainEvent => ({
  type: 'UserRegistered', data: { userId, username, email, passwordHash: `$scrypt$${userId}`, registeredAt: T0 },
});

describe('user-accounts projection', () => {
  test('finds an account by username whatever its case or Unicode width; the first registration of a name wins', async () => {
    const { apply, queries } = await driveReadModel('user-accounts');
    await apply([registered('u1', 'Alice', 'a@x'), registered('u2', 'ALICE', 'b@x'), registered('u3', 'bob', 'c@x')]);
    const alice = { userId: 'u1', username: 'Alice', email: 'a@x', passwordHash: '$scrypt$u1' };
    assert.deepEqual(await queries.findUserByUsername('alice'), alice);
    assert.deepEqual(await queries.findUserByUsername('aLiCe'), alice);
    assert.deepEqual(await queries.findUserByUsername('Ａｌｉｃｅ'), alice, 'full-width letters are the same name (NFKC)');
    assert.equal((await queries.findUserByUsername('BOB'))!.userId, 'u3');
    assert.equal(await queries.findUserByUsername('carol'), undefined);
  });

  test('erasure (issue 13): the account and its name are forgotten, the id is marked erased, and a replayed registration is not revived', async () => {
    const { apply, queries } = await driveReadModel('user-accounts');
    const erased: DomainEvent = { type: 'UserErased', data: { userId: 'u1', erasedAt: T0 + 1 } };
    await apply([registered('u1', 'Erin', 'e@x'), registered('u2', 'frank', 'f@x'), erased]);
    assert.equal(await queries.findUserByUsername('erin'), undefined);
    assert.equal(await queries.findUserById('u1'), undefined);
    assert.equal(await queries.isErased('u1'), true);
    assert.equal(await queries.isErased('u2'), false);
    assert.equal((await queries.findUserById('u2'))!.email, 'f@x');
    // Redelivered (or replayed as [erased] after the key is gone): nothing comes back.
    await apply([registered('u1', '[erased]', '[erased]')]);
    assert.equal(await queries.findUserById('u1'), undefined);
    // The name is free: a newcomer holds it.
    await apply([registered('u3', 'ERIN', 'n@x')]);
    assert.equal((await queries.findUserByUsername('erin'))!.userId, 'u3');
  });

  describe('subscriptions (issue 14)', () => {
    const sub = (channelId: string, subscriberId: string, at = T0): DomainEvent => ({ type: 'ChannelSubscribed', data: { channelId, subscriberId, subscribedAt: at } });
    const unsub = (channelId: string, subscriberId: string): DomainEvent => ({ type: 'ChannelUnsubscribed', data: { channelId, subscriberId, unsubscribedAt: T0 + 5 } });

    test('given subscriptions and one ended, the count is the standing ones; redelivered events count once', async () => {
      const { apply, queries } = await driveReadModel('user-accounts');
      await apply([sub('c', 'a'), sub('c', 'b'), sub('c', 'a'), sub('d', 'a'), unsub('c', 'b'), unsub('c', 'z')]);
      assert.deepEqual([await queries.subscriberCount('c'), await queries.subscriberCount('d'), await queries.subscriberCount('none')], [1, 1, 0]);
      assert.deepEqual([await queries.isSubscribed('c', 'a'), await queries.isSubscribed('c', 'b'), await queries.isSubscribed('d', 'b')], [true, false, false]);
    });

    test('an erased subscriber\'s subscriptions leave the counts, whether met before or after the erasure', async () => {
      const erase = (userId: string): DomainEvent => ({ type: 'UserErased', data: { userId, erasedAt: T0 + 9 } });
      const before = await driveReadModel('user-accounts');
      await before.apply([sub('c', 'gone'), sub('d', 'gone'), sub('c', 'kept')]);
      await before.apply([erase('gone')]);
      // A replay may meet the users topic first: the subscriptions come after the erasure.
      const after = await driveReadModel('user-accounts');
      await after.apply([erase('gone')]);
      await after.apply([sub('c', 'gone'), sub('d', 'gone'), sub('c', 'kept')]);
      for (const { queries } of [before, after]) {
        assert.deepEqual([await queries.subscriberCount('c'), await queries.subscriberCount('d'), await queries.isSubscribed('c', 'gone')], [1, 0, false]);
      }
    });
  });
});
