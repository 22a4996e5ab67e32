import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedDataKeyStore } from './embedded-data-key-store.adapter.ts';
import { hashedPseudonym, hashedPseudonyms, keyedPseudonyms } from './pseudonyms.ts';

const root = await mkdtemp(join(tmpdir(), 'sw-pseudo-'));
after(() => rm(root, { recursive: true, force: true }));

describe('pseudonyms', () => {
  test('keyed: stable per subject across store instances on the same keys, unrelated across subjects and purposes, never the id', async () => {
    const dir = join(root, 'stable');
    const a = await createEmbeddedDataKeyStore({ dir });
    const b = await createEmbeddedDataKeyStore({ dir });
    try {
      const viewers = keyedPseudonyms(a, 'analytics.viewer');
      const p1 = await viewers.of('user-1');
      assert.match(p1, /^k1\.[A-Za-z0-9_-]{22}$/);
      assert.equal(await viewers.of('user-1'), p1);
      assert.equal(await keyedPseudonyms(b, 'analytics.viewer').of('user-1'), p1, 'another process on the same keys agrees');
      assert.notEqual(await viewers.of('user-2'), p1);
      assert.notEqual(await keyedPseudonyms(a, 'other.purpose').of('user-1'), p1);
      assert.notEqual(p1, hashedPseudonym('analytics.viewer', 'user-1'), 'the keyed pseudonym cannot be computed from the id alone');
      assert.ok(!p1.includes('user-1'));
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('an erasure unlinks: the erased subject gets a hashed pseudonym, unrelated to its keyed one, stable across calls', async () => {
    const keys = await createEmbeddedDataKeyStore({ dir: join(root, 'erase') });
    try {
      const viewers = keyedPseudonyms(keys, 'analytics.viewer');
      const before = await viewers.of('user-1');
      const other = await viewers.of('user-2');
      await keys.erase('user-1');
      const after1 = await viewers.of('user-1');
      assert.equal(after1, hashedPseudonym('analytics.viewer', 'user-1'));
      assert.notEqual(after1, before);
      assert.equal(await viewers.of('user-1'), after1);
      assert.equal(await viewers.of('user-2'), other, 'other subjects keep theirs');
    } finally {
      await keys.close();
    }
  });

  test('an id the key store refuses gets the hashed pseudonym; a failing key store rejects with KEY_STORE_IO instead of guessing', async () => {
    const keys = await createEmbeddedDataKeyStore({ dir: join(root, 'io') });
    const viewers = keyedPseudonyms(keys, 'analytics.viewer');
    assert.equal(await viewers.of('no/slashes allowed'), hashedPseudonym('analytics.viewer', 'no/slashes allowed'));
    await keys.close();
    await assert.rejects(viewers.of('user-1'), { name: 'DataKeyError', code: 'KEY_STORE_IO' });
  });

  test('hashed: deterministic, purpose-bound, never the id', async () => {
    const p = await hashedPseudonyms('analytics.viewer').of('user-1');
    assert.match(p, /^h1\.[A-Za-z0-9_-]{22}$/);
    assert.equal(await hashedPseudonyms('analytics.viewer').of('user-1'), p);
    assert.notEqual(await hashedPseudonyms('x').of('user-1'), p);
  });
});
