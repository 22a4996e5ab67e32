/**
 * Group commit (group-commit.ts) over a send the test holds in flight: what the coalesced log
 * appends do not show (platform/log/coalesced-appends.test.ts covers batching, order, linger and
 * positions): a send with no results, and a failed group sent again caller by caller.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { groupCommit } from './group-commit.ts';

/** A send that records its calls, is held while `held`, and fails any call holding 'bad'. */
function heldSend() {
  const calls: string[][] = [];
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => { release = r; });
  let held = true;
  return {
    calls,
    release: () => { held = false; release(); },
    async send(_key: string, items: string[]): Promise<void> {
      calls.push(items);
      if (held) await gate;
      if (items.includes('bad')) throw new Error('refused');
    },
  };
}

const settled = (p: Promise<unknown>) => p.then(() => 'ok', (e: Error) => e.message);

describe('group commit', () => {
  test('given a send in flight and retryAlone for the error, when a group holding one bad caller fails, then each caller is sent alone and only the bad one fails', async () => {
    const s = heldSend();
    const group = groupCommit<string, never>((k, items) => s.send(k, items), { retryAlone: (e) => (e as Error).message === 'refused' });
    const first = settled(group.submit('t', ['a']));
    const rest = [settled(group.submit('t', ['b1', 'b2'])), settled(group.submit('t', ['bad'])), settled(group.submit('t', ['c']))];
    s.release();
    assert.deepEqual([await first, ...await Promise.all(rest)], ['ok', 'ok', 'refused', 'ok']);
    assert.deepEqual(s.calls, [['a'], ['b1', 'b2', 'bad', 'c'], ['b1', 'b2'], ['bad'], ['c']]);
  });

  test('given a send in flight and an error retryAlone does not accept (or no retryAlone), when a group fails, then every caller in it gets the error, sent once', async () => {
    for (const retryAlone of [undefined, (e: unknown) => (e as Error).message === 'timeout']) {
      const s = heldSend();
      const group = groupCommit<string, never>((k, items) => s.send(k, items), retryAlone && { retryAlone });
      const first = settled(group.submit('t', ['a']));
      const rest = [settled(group.submit('t', ['bad'])), settled(group.submit('t', ['c']))];
      s.release();
      assert.deepEqual([await first, ...await Promise.all(rest)], ['ok', 'refused', 'refused']);
      assert.deepEqual(s.calls, [['a'], ['bad', 'c']]);
      assert.equal(group.sends(), 2);
    }
  });

  test('given an onSend that throws, when a send succeeds, then its callers still resolve and nothing is sent again', async () => {
    const s = heldSend();
    s.release();
    const group = groupCommit<string, never>((k, items) => s.send(k, items), { retryAlone: () => true, onSend: () => { throw new Error('metrics down'); } });
    assert.deepEqual(await Promise.all([group.submit('t', ['a']), group.submit('t', ['b'])]), [[], []]);
    assert.equal(s.calls.length, group.sends());
  });

  test('given a send that returns no results, when callers submit, then each resolves with an empty share', async () => {
    const s = heldSend();
    s.release();
    const group = groupCommit<string, never>((k, items) => s.send(k, items));
    assert.deepEqual(await group.submit('t', ['a', 'b']), []);
  });
});
