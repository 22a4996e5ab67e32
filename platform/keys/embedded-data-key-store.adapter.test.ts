import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataKeyStoreContract } from './data-key-store.contract.ts';
import { createEmbeddedDataKeyStore } from './embedded-data-key-store.adapter.ts';

const dirs: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'sw-dek-'));
  dirs.push(d);
  return d;
};
after(async () => { await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))); });

/** Every file under `dir` (recursively) whose bytes contain `needle`. */
async function filesContaining(dir: string, needle: Buffer): Promise<string[]> {
  const found: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    if ((await readFile(path)).indexOf(needle) >= 0) found.push(path);
  }
  return found;
}

const shared = await tempDir();
dataKeyStoreContract('embedded', () => createEmbeddedDataKeyStore({ dir: join(shared, 'keys') }));

describe('embedded data-key store', () => {
  test('layout: <subject>.key of 32 raw bytes, mode 600 in a 700 dir; erase leaves <subject>.erased and no key bytes in any file', async () => {
    const dir = join(await tempDir(), 'nested', 'keys');
    const s = await createEmbeddedDataKeyStore({ dir });
    try {
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
      const key = await s.getOrCreate('user-1');
      const other = await s.getOrCreate('user-2');
      assert.deepEqual(await readFile(join(dir, 'user-1.key')), key);
      assert.equal((await stat(join(dir, 'user-1.key'))).mode & 0o777, 0o600);
      assert.deepEqual((await readdir(dir)).sort(), ['user-1.key', 'user-2.key'], 'no temp file left');
      assert.deepEqual(await filesContaining(dir, key), [join(dir, 'user-1.key')], 'the check finds the key where it is');

      await s.erase('user-1');
      assert.deepEqual((await readdir(dir)).sort(), ['user-1.erased', 'user-2.key']);
      assert.deepEqual(await filesContaining(dir, key), [], 'no file in the directory holds the erased key');
      assert.deepEqual(await filesContaining(dir, other), [join(dir, 'user-2.key')], 'the other subject keeps its key');
    } finally { await s.close(); }
  });

  test('getOrCreate racing erase in two instances: no key it handed out is left in any file', async () => {
    const dir = await tempDir();
    const [a, b] = [await createEmbeddedDataKeyStore({ dir }), await createEmbeddedDataKeyStore({ dir })];
    try {
      const handedOut: Buffer[] = [];
      for (let round = 0; round < 200; round++) {
        const subject = `race-${round}`;
        const calls: (() => Promise<unknown>)[] = Array.from({ length: 6 }, (_, i) => () => (i % 2 ? a : b).getOrCreate(subject)
          .then((k) => { handedOut.push(k); }, (e: { code?: string }) => assert.equal(e.code, 'KEY_ERASED')));
        calls.splice(round % 7, 0, () => (round % 2 ? a : b).erase(subject));
        await Promise.all(calls.map((start) => start()));
      }
      assert.ok(handedOut.length > 0, 'some calls got a key before the erase');
      assert.deepEqual((await readdir(dir)).filter((f) => !f.endsWith('.erased')), []);
      const contents = await Promise.all((await readdir(dir)).map((f) => readFile(join(dir, f))));
      for (const k of handedOut) assert.ok(contents.every((bytes) => bytes.indexOf(k) < 0), 'a key handed out is still in a file');
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('an erase a crash interrupted (tombstone written, key file still there) is finished on open', async () => {
    const dir = await tempDir();
    const s = await createEmbeddedDataKeyStore({ dir });
    const key = await s.getOrCreate('u');
    await s.close();
    // What a crash between the tombstone and the shredding leaves.
    await writeFile(join(dir, 'u.erased'), 'erased 2024-01-01T00:00:00.000Z\n');
    const r = await createEmbeddedDataKeyStore({ dir });
    try {
      assert.deepEqual(await filesContaining(dir, key), []);
      assert.equal(await r.isErased('u'), true);
      assert.equal(await r.get('u'), null);
      await assert.rejects(r.getOrCreate('u'), { code: 'KEY_ERASED' });
    } finally { await r.close(); }
  });

  test('temp files of a dead process are removed on open; one linked to a key is only unlinked (the key stays)', async () => {
    const dir = await tempDir();
    const s = await createEmbeddedDataKeyStore({ dir });
    const key = await s.getOrCreate('v');
    await s.close();
    const deadPid = 2 ** 22 + 12_345; // above Linux' pid_max default range: no such process
    const { link } = await import('node:fs/promises');
    await link(join(dir, 'v.key'), join(dir, `.v.key.${deadPid}.1.tmp`)); // crash between link and unlink
    await writeFile(join(dir, `.w.key.${deadPid}.2.tmp`), Buffer.alloc(32, 9)); // crash before link
    const r = await createEmbeddedDataKeyStore({ dir });
    try {
      assert.deepEqual((await readdir(dir)).sort(), ['v.key']);
      assert.deepEqual(await r.get('v'), key);
    } finally { await r.close(); }
  });

  test('a key file of the wrong size is KEY_STORE_IO, not a key', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'bad.key'), Buffer.alloc(5));
    const s = await createEmbeddedDataKeyStore({ dir });
    try {
      await assert.rejects(s.get('bad'), { code: 'KEY_STORE_IO' });
      await assert.rejects(s.getOrCreate('bad'), { code: 'KEY_STORE_IO' });
      await s.erase('bad');
      assert.equal(await s.get('bad'), null, 'erase still removes it');
    } finally { await s.close(); }
  });

  test('a directory that cannot be created: KEY_STORE_IO', async () => {
    const file = join(await tempDir(), 'not-a-dir');
    await writeFile(file, 'x');
    await assert.rejects(createEmbeddedDataKeyStore({ dir: join(file, 'keys') }), { name: 'DataKeyError', code: 'KEY_STORE_IO' });
  });
});
