import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PersistentSet } from './persistent-set.ts';

test('add and delete return new versions and leave the old ones as they were', () => {
  const empty = PersistentSet.empty();
  const a = empty.add('u1');
  const ab = a.add('u2');
  const b = ab.delete('u1');
  assert.deepEqual([empty.has('u1'), a.has('u1'), ab.has('u1'), b.has('u1')], [false, true, true, false]);
  assert.deepEqual([empty.size, a.size, ab.size, b.size], [0, 1, 2, 1]);
  assert.equal(b.has('u2'), true);
  const again = b.add('u1');
  assert.equal(again.has('u1'), true);
  assert.equal(ab.has('u1'), true, 'an older version still sees its members after the tip moved on');
  assert.equal(b.has('u1'), false);
});

test('adding a member or deleting a non-member returns the same version', () => {
  const a = PersistentSet.empty().add('u1');
  assert.equal(a.add('u1'), a);
  assert.equal(a.delete('nobody'), a);
});

test('changing an older version branches without disturbing the tip', () => {
  const base = PersistentSet.empty().add('u1');
  const tip = base.add('u2').delete('u1');
  const branch = base.delete('u1').add('u3');
  assert.deepEqual([tip.has('u1'), tip.has('u2'), tip.has('u3'), tip.size], [false, true, false, 1]);
  assert.deepEqual([branch.has('u1'), branch.has('u2'), branch.has('u3'), branch.size], [false, false, true, 1]);
  assert.equal(base.has('u1'), true);
  // The tip keeps growing on its own history after the branch.
  const tip2 = tip.add('u1');
  assert.deepEqual([tip2.has('u1'), tip2.size, branch.has('u1')], [true, 2, false]);
});

test('many toggles of one id stay linear and correct at every version', () => {
  let s = PersistentSet.empty();
  const versions: PersistentSet[] = [s];
  for (let i = 0; i < 1000; i++) versions.push((s = i % 2 === 0 ? s.add('x') : s.delete('x')));
  versions.forEach((v, i) => assert.equal(v.has('x'), i % 2 === 1, `version ${i}`));
});
