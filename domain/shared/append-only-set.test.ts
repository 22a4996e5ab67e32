import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppendOnlySet } from './append-only-set.ts';

describe('AppendOnlySet', () => {
  test('add returns a new version and leaves the old one unchanged', () => {
    const s0 = AppendOnlySet.empty();
    const s1 = s0.add('a');
    const s2 = s1.add('b');
    assert.deepEqual([...s0], []);
    assert.deepEqual([...s1], ['a']);
    assert.deepEqual([...s2], ['a', 'b']);
    assert.equal(s2.add('a'), s2);
  });
  test('branches from an old version do not see each other', () => {
    const s1 = AppendOnlySet.empty().add('a');
    const tip = s1.add('b').add('c');
    const branch = s1.add('x');
    assert.deepEqual([...branch], ['a', 'x']);
    assert.deepEqual([...tip], ['a', 'b', 'c']);
    assert.ok(!tip.has('x') && !branch.has('b'));
    assert.deepEqual([...branch.add('c')], ['a', 'x', 'c']);
  });
});
