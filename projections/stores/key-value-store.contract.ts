import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KeyValueStore } from './key-value-store.port.ts';

/**
 * Contract suite for the KeyValueStore port. Every adapter (embedded, Redis) runs it.
 * `open(name)` opens a store over the durable location `name` (same name → same data, as after a
 * restart); `hooks.tornTail(name)` (optional) simulates a crash mid-commit by appending a partial
 * entry to the store's durable log.
 */
export function keyValueStoreContract(
  adapter: string,
  open: (name: string) => Promise<KeyValueStore>,
  hooks: { tornTail?: (name: string) => Promise<void> } = {},
): void {
  describe(`KeyValueStore contract: ${adapter}`, () => {
    test('get / getMany / getManyJson / delete', async () => {
      const s = await open('basic');
      try {
        await s.commit([{ op: 'put', key: 'a', value: { n: 1 } }, { op: 'put', key: 'b', value: [1, 'x'] }], new Map());
        assert.deepEqual(await s.get('a'), { n: 1 });
        assert.deepEqual(await s.getMany(['b', 'zz', 'a']), [[1, 'x'], undefined, { n: 1 }]);
        const texts = await s.getManyJson(['b', 'zz', 'a']);
        assert.deepEqual(texts.map((t) => (t === undefined ? t : JSON.parse(t))), [[1, 'x'], undefined, { n: 1 }], 'getManyJson: the same values, unparsed');
        await s.commit([{ op: 'delete', key: 'a' }, { op: 'delete', key: 'never' }], new Map());
        assert.equal(await s.get('a'), undefined);
      } finally { await s.close(); }
    });

    test('returned values are copies', async () => {
      const s = await open('copies');
      try {
        const v = { list: [1] };
        await s.commit([{ op: 'put', key: 'k', value: v }], new Map());
        v.list.push(2);
        const got = await s.get<{ list: number[] }>('k');
        assert.deepEqual(got, { list: [1] });
        got!.list.push(3);
        assert.deepEqual(await s.get('k'), { list: [1] });
      } finally { await s.close(); }
    });

    test('ops apply in order within a commit; checkpoint merges per partition', async () => {
      const s = await open('order');
      try {
        await s.commit([{ op: 'put', key: 'k', value: 1 }, { op: 'delete', key: 'k' }, { op: 'put', key: 'j', value: 1 }, { op: 'put', key: 'j', value: 2 }],
          new Map([['t:0', 5], ['t:1', 2]]));
        assert.equal(await s.get('k'), undefined);
        assert.equal(await s.get('j'), 2);
        await s.commit([], new Map([['t:1', 9]]));
        assert.deepEqual(await s.checkpoint(), new Map([['t:0', 5], ['t:1', 9]]));
      } finally { await s.close(); }
    });

    test('scan: prefix, order, after, limit, reverse', async () => {
      const s = await open('scan');
      try {
        const ks = ['p:b', 'p:a', 'p:c', 'p:d', 'q:a', 'o:z', 'p'];
        await s.commit(ks.map((key) => ({ op: 'put' as const, key, value: key })), new Map());
        const keysOf = (es: { key: string }[]) => es.map((e) => e.key);
        assert.deepEqual(keysOf(await s.scan('p:', { limit: 10 })), ['p:a', 'p:b', 'p:c', 'p:d']);
        assert.deepEqual(keysOf(await s.scan('p:', { limit: 2 })), ['p:a', 'p:b']);
        assert.deepEqual(keysOf(await s.scan('p:', { limit: 2, after: 'p:b' })), ['p:c', 'p:d']);
        assert.deepEqual(keysOf(await s.scan('p:', { limit: 10, reverse: true })), ['p:d', 'p:c', 'p:b', 'p:a']);
        assert.deepEqual(keysOf(await s.scan('p:', { limit: 2, reverse: true, after: 'p:c' })), ['p:b', 'p:a']);
        // `after` need not exist.
        assert.deepEqual(keysOf(await s.scan('p:', { limit: 10, after: 'p:bb' })), ['p:c', 'p:d']);
        assert.deepEqual(keysOf(await s.scan('p:', { limit: 10, reverse: true, after: 'p:bb' })), ['p:b', 'p:a']);
        assert.deepEqual(keysOf(await s.scan('zz', { limit: 10 })), []);
        assert.deepEqual((await s.scan('q:', { limit: 1 }))[0], { key: 'q:a', value: 'q:a' });
      } finally { await s.close(); }
    });

    test('state and checkpoint survive reopen', async () => {
      const s = await open('durable');
      await s.commit([{ op: 'put', key: 'x', value: { v: 'é✓' } }], new Map([['t:0', 1]]));
      await s.commit([{ op: 'put', key: 'y', value: 2 }, { op: 'delete', key: 'x' }], new Map([['t:0', 3]]));
      await s.close();
      const r = await open('durable');
      try {
        assert.equal(await r.get('x'), undefined);
        assert.equal(await r.get('y'), 2);
        assert.deepEqual(await r.checkpoint(), new Map([['t:0', 3]]));
        await r.commit([{ op: 'put', key: 'z', value: 3 }], new Map([['t:0', 4]]));
        assert.equal(await r.get('z'), 3);
      } finally { await r.close(); }
    });

    test('commit after close is rejected', async () => {
      const s = await open('closed');
      await s.close();
      await assert.rejects(s.commit([{ op: 'put', key: 'a', value: 1 }], new Map()), { code: 'STORE_CLOSED' });
    });

    // Registered only for stores with a durable log to tear (not the in-memory one).
    if (hooks.tornTail) test('a torn last commit is dropped on reopen, earlier commits kept', async () => {
      const s = await open('torn');
      await s.commit([{ op: 'put', key: 'a', value: 1 }], new Map([['t:0', 1]]));
      await s.commit([{ op: 'put', key: 'b', value: 2 }], new Map([['t:0', 2]]));
      await s.close();
      await hooks.tornTail!('torn');
      const r = await open('torn');
      try {
        assert.equal(await r.get('a'), 1);
        assert.equal(await r.get('b'), 2);
        assert.equal(await r.get('c'), undefined);
        assert.deepEqual(await r.checkpoint(), new Map([['t:0', 2]]));
        // The store keeps working after recovery and the new commit survives another reopen.
        await r.commit([{ op: 'put', key: 'd', value: 4 }], new Map([['t:0', 3]]));
      } finally { await r.close(); }
      const again = await open('torn');
      try {
        assert.equal(await again.get('d'), 4);
        assert.deepEqual(await again.checkpoint(), new Map([['t:0', 3]]));
      } finally { await again.close(); }
    });
  });
}
