import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkCompatibility, COMPATIBILITY_LEVELS, type CompatibilityLevel } from './compatibility.ts';
import { RegistryError } from './registry-errors.ts';

const rec = (fields: object[]) => JSON.stringify({ type: 'record', name: 'E', namespace: 'io.test', fields });
const v1 = rec([{ name: 'a', type: 'string' }]);
const withDefault = rec([{ name: 'a', type: 'string' }, { name: 'b', type: ['null', 'string'], default: null }]);
const withoutDefault = rec([{ name: 'a', type: 'string' }, { name: 'b', type: 'string' }]);
const dropped = rec([]);

const ok = (n: string, o: string[], l: CompatibilityLevel) => checkCompatibility(n, o, l).compatible;

describe('checkCompatibility', () => {
  test('BACKWARD: adding a field needs a default', () => {
    assert.equal(ok(withDefault, [v1], 'BACKWARD'), true);
    const r = checkCompatibility(withoutDefault, [v1], 'BACKWARD');
    assert.equal(r.compatible, false);
    assert.match(r.messages.join('\n'), /BACKWARD/);
  });

  test('FORWARD: removing a field without default breaks old readers; adding one does not', () => {
    assert.equal(ok(dropped, [v1], 'FORWARD'), false);
    assert.equal(ok(withoutDefault, [v1], 'FORWARD'), true);
    assert.equal(ok(dropped, [v1], 'BACKWARD'), true);
  });

  test('FULL needs both directions', () => {
    assert.equal(ok(withDefault, [v1], 'FULL'), true);
    assert.equal(ok(withoutDefault, [v1], 'FULL'), false);
    assert.equal(ok(dropped, [v1], 'FULL'), false);
  });

  test('transitive levels check every version, the others the latest only', () => {
    // v1 {a}, v2 {a, b?}, candidate {b?} without a default: reads v2 data but not v1 data.
    const candidate = rec([{ name: 'b', type: ['null', 'string'] }]);
    assert.equal(ok(candidate, [v1, withDefault], 'BACKWARD'), true);
    assert.equal(ok(candidate, [v1, withDefault], 'BACKWARD_TRANSITIVE'), false);
    assert.equal(ok(candidate, [v1, withDefault], 'FULL_TRANSITIVE'), false);
    // Forward: v1 {a, b} then v2 {a}; candidate {a, c}: v2 readers cope, v1 readers miss b.
    const fwd = rec([{ name: 'a', type: 'string' }, { name: 'c', type: 'int', default: 0 }]);
    assert.equal(ok(fwd, [withoutDefault, v1], 'FORWARD'), true);
    assert.equal(ok(fwd, [withoutDefault, v1], 'FORWARD_TRANSITIVE'), false);
  });

  test('NONE and an empty history are always compatible; type changes are not', () => {
    assert.equal(ok(rec([{ name: 'a', type: 'int' }]), [v1], 'NONE'), true);
    for (const level of COMPATIBILITY_LEVELS) assert.equal(ok(v1, [], level), true);
    assert.equal(ok(rec([{ name: 'a', type: 'long' }]), [rec([{ name: 'a', type: 'int' }])], 'BACKWARD'), true); // int promotes to long
    assert.equal(ok(rec([{ name: 'a', type: 'int' }]), [rec([{ name: 'a', type: 'long' }])], 'BACKWARD'), false);
  });

  test('invalid input raises typed errors', () => {
    assert.throws(() => checkCompatibility('{"type":"record"', [], 'BACKWARD'), (e: unknown) => e instanceof RegistryError && e.errorCode === 42201);
    assert.throws(() => checkCompatibility(v1, [], 'SIDEWAYS' as CompatibilityLevel), (e: unknown) => e instanceof RegistryError && e.errorCode === 42203);
  });
});
