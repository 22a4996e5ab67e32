import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { DATA_KEY_BYTES, type DataKeyStore } from './data-key-store.port.ts';

export interface DataKeyStoreContractOptions {
  /**
   * How long another instance may keep serving an erased key, ms: 0 = it stops at once (embedded:
   * same process); otherwise the suite polls until it stops, failing after this deadline (Redis:
   * the pub/sub eviction; open the instances with a cache TTL well above it, so the TTL cannot be
   * what evicts).
   */
  eraseVisibleWithinMs?: number;
}

/**
 * Contract suite for the DataKeyStore port; every adapter runs it. `open()` opens a new instance
 * over the same durable storage each time (same dir / same Redis and prefix: what a restarted or
 * another process sees). Every test uses subjects of its own, so the storage may be shared.
 */
export function dataKeyStoreContract(name: string, open: () => Promise<DataKeyStore>, opts: DataKeyStoreContractOptions = {}): void {
  const within = opts.eraseVisibleWithinMs ?? 0;
  const subject = (label: string) => `${label}-${randomUUID()}`;
  const erasedCode = { name: 'DataKeyError', code: 'KEY_ERASED' };
  /** Asserts that `store` no longer returns `subject`'s key: at once, or polling until `within` ms passed. */
  const stopsServing = async (store: DataKeyStore, subj: string) => {
    if (within === 0) return assert.equal(await store.get(subj), null, 'the erased key is not returned');
    const deadline = Date.now() + within;
    while ((await store.get(subj)) !== null) {
      assert.ok(Date.now() < deadline, `an instance still returns the erased key after ${within} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  describe(`DataKeyStore contract: ${name}`, () => {
    test('getOrCreate creates a 32-byte key once and returns it again; subjects get different keys', async () => {
      const s = await open();
      try {
        const alice = subject('alice');
        const k1 = await s.getOrCreate(alice);
        assert.ok(Buffer.isBuffer(k1));
        assert.equal(k1.length, DATA_KEY_BYTES);
        assert.ok(!k1.equals(Buffer.alloc(DATA_KEY_BYTES)), 'not all zeros');
        assert.deepEqual(await s.getOrCreate(alice), k1);
        assert.deepEqual(await s.get(alice), k1);
        const other = await s.getOrCreate(subject('bob'));
        assert.ok(!other.equals(k1));
        // Returned buffers are the caller's: scribbling on one does not change the stored key.
        const copy = Buffer.from(k1);
        k1.fill(7);
        assert.deepEqual(await s.getOrCreate(alice), copy);
        assert.equal(await s.isErased(alice), false);
      } finally { await s.close(); }
    });

    test('a key survives reopening', async () => {
      const carol = subject('carol');
      const a = await open();
      const key = await a.getOrCreate(carol);
      await a.close();
      const b = await open();
      try {
        assert.deepEqual(await b.get(carol), key);
        assert.deepEqual(await b.getOrCreate(carol), key);
      } finally { await b.close(); }
    });

    test('concurrent getOrCreate from two instances: every caller gets the same key', async () => {
      const [a, b] = [await open(), await open()];
      try {
        for (let round = 0; round < 5; round++) {
          const dave = subject('dave');
          const keys = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).getOrCreate(dave)));
          for (const k of keys) assert.deepEqual(k, keys[0]);
          assert.deepEqual(await a.get(dave), keys[0]);
          assert.deepEqual(await b.get(dave), keys[0]);
        }
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('get never creates a key', async () => {
      const s = await open();
      try {
        const erin = subject('erin');
        assert.equal(await s.get(erin), null);
        assert.equal(await s.get(erin), null);
        assert.equal(await s.isErased(erin), false);
        const key = await s.getOrCreate(erin);
        assert.deepEqual(await s.get(erin), key);
      } finally { await s.close(); }
    });

    test('erase: get null, isErased true, getOrCreate KEY_ERASED, also after reopening', async () => {
      const frank = subject('frank');
      const s = await open();
      try {
        await s.getOrCreate(frank);
        await s.erase(frank);
        assert.equal(await s.get(frank), null);
        assert.equal(await s.isErased(frank), true);
        await assert.rejects(s.getOrCreate(frank), erasedCode);
        await assert.rejects(s.getOrCreate(frank), erasedCode, 'and again: no key is created for an erased subject');
        assert.equal(await s.get(frank), null);
      } finally { await s.close(); }
      const r = await open();
      try {
        assert.equal(await r.isErased(frank), true);
        assert.equal(await r.get(frank), null);
        await assert.rejects(r.getOrCreate(frank), erasedCode);
      } finally { await r.close(); }
    });

    test('erase in one instance: another instance opened before (with the key cached) stops returning the key', async () => {
      const grace = subject('grace');
      const [a, b] = [await open(), await open()];
      try {
        const key = await a.getOrCreate(grace);
        assert.deepEqual(await b.getOrCreate(grace), key);
        assert.deepEqual(await b.get(grace), key);
        await a.erase(grace);
        await stopsServing(b, grace);
        await assert.rejects(b.getOrCreate(grace), erasedCode);
        assert.equal(await b.isErased(grace), true);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('erase is idempotent, and works for a subject that never had a key', async () => {
      const s = await open();
      try {
        const heidi = subject('heidi');
        await s.getOrCreate(heidi);
        await s.erase(heidi);
        await s.erase(heidi);
        await Promise.all([s.erase(heidi), s.erase(heidi)]);
        assert.equal(await s.isErased(heidi), true);
        const ivan = subject('ivan');
        await s.erase(ivan);
        assert.equal(await s.isErased(ivan), true);
        assert.equal(await s.get(ivan), null);
        await assert.rejects(s.getOrCreate(ivan), erasedCode);
      } finally { await s.close(); }
    });

    test('getOrCreate racing erase (two instances) never resurrects a key', async () => {
      const [a, b] = [await open(), await open()];
      try {
        for (let round = 0; round < 10; round++) {
          const judy = subject('judy');
          // Six getOrCreate and one erase, started in this order (the erase at a different place each round).
          const calls: (() => Promise<unknown>)[] = Array.from({ length: 6 }, (_, i) => () => (i % 2 ? a : b).getOrCreate(judy)
            .catch((e: { code?: string }) => assert.equal(e.code, 'KEY_ERASED')));
          calls.splice(round % 7, 0, () => (round % 2 ? a : b).erase(judy));
          await Promise.all(calls.map((start) => start()));
          for (const s of [a, b]) {
            assert.equal(await s.isErased(judy), true);
            // An instance whose getOrCreate won before the erase may hold the key until it learns of the erasure.
            await stopsServing(s, judy);
            await assert.rejects(s.getOrCreate(judy), erasedCode);
          }
        }
      } finally {
        await a.close();
        await b.close();
      }
    });

    test('invalid subjects are rejected with INVALID_SUBJECT, nothing stored', async () => {
      const s = await open();
      try {
        const bad: unknown[] = ['', 'a b', 'a/b', '../x', 'a{b}', 'é', 'x\n', 'a'.repeat(129), 42, null, undefined];
        for (const subj of bad) {
          const calls = [(x: string) => s.getOrCreate(x), (x: string) => s.get(x), (x: string) => s.isErased(x), (x: string) => s.erase(x)];
          for (const call of calls) {
            await assert.rejects(call(subj as string), { name: 'DataKeyError', code: 'INVALID_SUBJECT' }, String(subj));
          }
        }
        // The edges of the pattern are accepted.
        for (const ok of ['a', 'A-z_0.9:x', 'b'.repeat(128), '..']) assert.equal((await s.getOrCreate(ok)).length, DATA_KEY_BYTES);
      } finally { await s.close(); }
    });

    test('calls after close reject with KEY_STORE_IO', async () => {
      const s = await open();
      await s.close();
      await assert.rejects(s.getOrCreate(subject('ken')), { code: 'KEY_STORE_IO' });
      await s.close();
    });
  });
}
