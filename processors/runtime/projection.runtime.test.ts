import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createAppliedTracker } from './projection.runtime.ts';

describe('applied tracker (waitFor)', () => {
  test('resolves once every position is applied; ignores topics it does not consume', async () => {
    const t = createAppliedTracker(['a', 'b']);
    const p = t.waitFor([{ topic: 'a', partition: 0, offset: 4 }, { topic: 'b', partition: 1, offset: 0 }, { topic: 'other', partition: 0, offset: 99 }], 5_000);
    t.advance(new Map([['a:0', 5]]));
    t.advance(new Map([['b:1', 1]]));
    assert.equal(await p, true);
    assert.equal(await t.waitFor([{ topic: 'a', partition: 0, offset: 4 }], 0), true);
  });

  test('false on timeout or stop, never a throw; positions never move back', async () => {
    const t = createAppliedTracker(['a']);
    t.advance(new Map([['a:0', 5]]));
    t.advance(new Map([['a:0', 2]]));
    assert.equal(await t.waitFor([{ topic: 'a', partition: 0, offset: 4 }], 0), true);
    assert.equal(await t.waitFor([{ topic: 'a', partition: 0, offset: 5 }], 10), false);
    const pending = t.waitFor([{ topic: 'a', partition: 0, offset: 9 }], 60_000);
    t.stop();
    assert.equal(await pending, false);
  });
});
