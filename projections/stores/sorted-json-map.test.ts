/** SortedJsonMap (chunked keys, issue 8) against a naive sorted-array model, over thousands of generated operations. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SortedJsonMap } from './sorted-json-map.ts';

const key = fc.stringMatching(/^[ab:]{0,2}[a-c0-9]{1,4}$/);
const op = fc.oneof(
  fc.record({ put: key, v: fc.integer() }),
  fc.record({ del: key }),
);

test('puts, deletes and scans (both directions, prefix, after, limit) agree with a sorted array across many chunks', () => {
  fc.assert(
    fc.property(fc.array(op, { minLength: 500, maxLength: 3000 }), fc.array(fc.tuple(fc.stringMatching(/^[ab:]{0,2}[a-c0-9]{0,1}$/), fc.option(key, { nil: undefined }), fc.integer({ min: 1, max: 2000 }), fc.boolean()), { maxLength: 20 }), (ops, scans) => {
      const map = new SortedJsonMap();
      const model = new Map<string, number>();
      for (const o of ops) {
        if ('put' in o) { map.putJson(o.put, JSON.stringify(o.v)); model.set(o.put, o.v); } else { map.delete(o.del); model.delete(o.del); }
      }
      const sorted = [...model.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      assert.equal(map.size, sorted.length);
      assert.deepEqual([...map.entries()].map(([k]) => k), sorted);
      for (const [prefix, after, limit, reverse] of scans) {
        let expected = sorted.filter((k) => k.startsWith(prefix));
        if (reverse) expected = expected.reverse().filter((k) => after === undefined || k < after);
        else expected = expected.filter((k) => after === undefined || after < prefix || k > after);
        assert.deepEqual(map.scan<number>(prefix, { after, limit, reverse }), expected.slice(0, limit).map((k) => ({ key: k, value: model.get(k) })));
      }
    }),
    { numRuns: 40 },
  );
});
