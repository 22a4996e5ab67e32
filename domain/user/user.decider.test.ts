import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeciderSpecification } from '../shared/decider.spec.ts';
import { userDecider, usernameKey } from './user.decider.ts';
import type { UserCommand } from './user.commands.ts';
import type { UserEvent } from './user.events.ts';

const spec = DeciderSpecification.for(userDecider);
const register = (over: Partial<Extract<UserCommand, { type: 'RegisterUser' }>['data']> = {}): UserCommand => ({
  type: 'RegisterUser',
  data: { userId: 'u-1', username: 'Alice', email: 'alice@example.com', passwordHash: '$scrypt$ln=15,r=8,p=1$c2FsdA$aGFzaA', ...over },
  metadata: { now: 42 },
});
const registered: UserEvent = {
  type: 'UserRegistered',
  data: { userId: 'u-1', username: 'Alice', email: 'alice@example.com', passwordHash: '$scrypt$ln=15,r=8,p=1$c2FsdA$aGFzaA', registeredAt: 42 },
};

const erase = (username = 'Alice'): UserCommand => ({ type: 'EraseUser', data: { userId: 'u-1', username }, metadata: { now: 99, actorId: 'u-1' } });
const erased: UserEvent = { type: 'UserErased', data: { userId: 'u-1', erasedAt: 99 } };

describe('user decider', () => {
  describe('erasure (issue 13)', () => {
    test('a registered user is erased at command time; the state keeps only the id', () => {
      spec.given([registered]).when(erase()).then([erased]);
      assert.deepEqual(spec.given([registered, erased]).state, { status: 'erased', userId: 'u-1', erasedAt: 99 });
    });
    test('the username is compared like the uniqueness index (NFKC, case)', () => {
      spec.given([registered]).when(erase('ＡＬＩＣＥ')).then([erased]);
      spec.given([registered]).when(erase('bob')).thenThrows('INVALID_USER', 'invalid');
    });
    test('erasing twice decides nothing; an unknown user is not found', () => {
      spec.given([registered, erased]).when(erase()).then([]);
      spec.given([]).when(erase()).thenThrows('USER_NOT_FOUND', 'not_found');
    });
    test('an erased id cannot be registered again, and a replayed registration does not revive it', () => {
      spec.given([registered, erased]).when(register()).thenThrows('USER_ALREADY_EXISTS', 'conflict');
      assert.equal(spec.given([registered, erased, registered]).state.status, 'erased');
    });
  });

  describe('when the user does not exist', () => {
    test('RegisterUser registers it at command time', () => {
      spec.given([]).when(register()).then([registered]);
    });
    test('malformed usernames, emails and hashes are rejected', () => {
      spec.given([]).when(register({ username: '' })).thenThrows('INVALID_USER', 'invalid');
      spec.given([]).when(register({ username: 'al ice' })).thenThrows('INVALID_USER');
      spec.given([]).when(register({ username: 'a'.repeat(65) })).thenThrows('INVALID_USER');
      spec.given([]).when(register({ email: 'not-an-address' })).thenThrows('INVALID_USER');
      spec.given([]).when(register({ passwordHash: 'plaintext' })).thenThrows('INVALID_USER');
      // What erased data reads as is nobody's name (issue 13).
      spec.given([]).when(register({ username: '[Erased]' })).thenThrows('INVALID_USER');
      spec.given([]).when(register({ username: '[deleted]' })).thenThrows('INVALID_USER');
    });
  });
  describe('when the user is registered', () => {
    test('RegisterUser on the same userId is a conflict', () => {
      spec.given([registered]).when(register({ username: 'other' })).thenThrows('USER_ALREADY_EXISTS', 'conflict');
    });
    test('evolve keeps the first registration', () => {
      const second: UserEvent = { type: 'UserRegistered', data: { ...registered.data, username: 'mallory' } };
      const s = spec.given([registered, second]).state;
      assert.equal(s.status === 'registered' && s.username, 'Alice');
    });
  });
  test('usernameKey folds case and compatibility forms', () => {
    assert.equal(usernameKey('ALICE'), usernameKey('alice'));
    assert.equal(usernameKey('\uFF21lice'), usernameKey('alice')); // full-width A
    assert.notEqual(usernameKey('alice'), usernameKey('alice2'));
  });
});
