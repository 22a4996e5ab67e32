import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideByteRange } from './byte-range.ts';

test('byte ranges per RFC 9110: closed, open, suffix, clamped', () => {
  assert.deepEqual(decideByteRange('bytes=0-9', 100), { kind: 'partial', start: 0, end: 9 });
  assert.deepEqual(decideByteRange('bytes=90-', 100), { kind: 'partial', start: 90, end: 99 });
  assert.deepEqual(decideByteRange('bytes=-5', 100), { kind: 'partial', start: 95, end: 99 });
  assert.deepEqual(decideByteRange('bytes=-500', 100), { kind: 'partial', start: 0, end: 99 });
  assert.deepEqual(decideByteRange('bytes=50-5000', 100), { kind: 'partial', start: 50, end: 99 });
});

test('unsatisfiable and ignored ranges', () => {
  assert.deepEqual(decideByteRange('bytes=100-', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(decideByteRange('bytes=0-0', 0), { kind: 'unsatisfiable' });
  assert.deepEqual(decideByteRange('bytes=-0', 100), { kind: 'unsatisfiable' });
  assert.deepEqual(decideByteRange(undefined, 100), { kind: 'full' });
  assert.deepEqual(decideByteRange('items=0-1', 100), { kind: 'full' });
  assert.deepEqual(decideByteRange('bytes=0-1,5-6', 100), { kind: 'full' });
  assert.deepEqual(decideByteRange('bytes=9-3', 100), { kind: 'full' });
});
