import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedKeyValueStore } from './embedded-key-value-store.adapter.ts';
import { keyValueStoreContract } from './key-value-store.contract.ts';

const root = await mkdtemp(join(tmpdir(), 'sw-kv-'));
after(() => rm(root, { recursive: true, force: true }));

keyValueStoreContract('embedded', (name) => createEmbeddedKeyValueStore({ dir: join(root, name) }), {
  async tornTail(name) {
    const dir = join(root, name);
    const journal = (await readdir(dir)).find((f) => f.startsWith('journal-'))!;
    // Half of a plausible entry, no trailing newline: what a kill -9 mid-write leaves.
    await appendFile(join(dir, journal), '1234abcd {"ops":[["p","c",3]],"cp":{"t:0"');
  },
});

keyValueStoreContract('embedded, journal synced at an interval', (name) => createEmbeddedKeyValueStore({ dir: join(root, `lazy-${name}`), syncIntervalMs: 50 }), {
  async tornTail(name) {
    const dir = join(root, `lazy-${name}`);
    const journal = (await readdir(dir)).find((f) => f.startsWith('journal-'))!;
    await appendFile(join(dir, journal), '1234abcd {"ops":[["p","c",3]],"cp":{"t:0"');
  },
});

describe('embedded key-value store', () => {
  test('syncIntervalMs: commits resolve without a sync each; a timer syncs them together; close syncs the rest', async () => {
    const dir = join(root, 'interval');
    const s = await createEmbeddedKeyValueStore({ dir, syncIntervalMs: 3_600_000 });
    for (let i = 0; i < 20; i++) await s.commit([{ op: 'put', key: `k${i}`, value: i }], new Map([['t:0', i + 1]]));
    assert.equal(s.journalSyncs(), 0, 'no commit waited for a sync');
    await s.close();
    assert.equal(s.journalSyncs(), 1, 'close synced the 20 commits at once');
    const r = await createEmbeddedKeyValueStore({ dir });
    try {
      assert.deepEqual(await r.getMany(['k0', 'k19']), [0, 19]);
      assert.deepEqual(await r.checkpoint(), new Map([['t:0', 20]]));
    } finally { await r.close(); }

    const timed = await createEmbeddedKeyValueStore({ dir: join(root, 'interval-timer'), syncIntervalMs: 20 });
    await timed.commit([{ op: 'put', key: 'a', value: 1 }], new Map([['t:0', 1]]));
    while (timed.journalSyncs() === 0) await new Promise((res) => setTimeout(res, 10));
    await timed.close();
    assert.equal(timed.journalSyncs(), 1, 'the timer synced; close had nothing left to sync');

    const eager = await createEmbeddedKeyValueStore({ dir: join(root, 'eager') });
    for (let i = 0; i < 3; i++) await eager.commit([{ op: 'put', key: `k${i}`, value: i }], new Map([['t:0', i + 1]]));
    assert.equal(eager.journalSyncs(), 3, 'by default every commit is synced before it resolves');
    await eager.close();
  });

  test('an entry with a bad checksum and everything after it is dropped', async () => {
    const dir = join(root, 'crc');
    const s = await createEmbeddedKeyValueStore({ dir });
    await s.commit([{ op: 'put', key: 'a', value: 1 }], new Map([['t:0', 1]]));
    await s.commit([{ op: 'put', key: 'b', value: 2 }], new Map([['t:0', 2]]));
    await s.close();
    const file = join(dir, (await readdir(dir)).find((f) => f.startsWith('journal-'))!);
    const lines = (await readFile(file, 'utf8')).split('\n');
    lines[1] = lines[1].replace('"b",2', '"b",7'); // corrupt the second entry's payload
    await writeFile(file, lines.join('\n'));
    const r = await createEmbeddedKeyValueStore({ dir });
    try {
      assert.equal(await r.get('a'), 1);
      assert.equal(await r.get('b'), undefined);
      assert.deepEqual(await r.checkpoint(), new Map([['t:0', 1]]));
    } finally { await r.close(); }
  });

  test('compaction: snapshot + new journal, same state after reopen', async () => {
    const dir = join(root, 'compact');
    const s = await createEmbeddedKeyValueStore({ dir, compactAfterBytes: 2_000 });
    for (let i = 0; i < 60; i++) {
      await s.commit([{ op: 'put', key: `k:${String(i).padStart(3, '0')}`, value: { i } }, { op: 'delete', key: `k:${String(i - 10).padStart(3, '0')}` }],
        new Map([['t:0', i + 1]]));
    }
    // The journal was compacted at least once, so it is below the bound.
    assert.ok(s.journalBytes() <= 2_000 + 200);
    await s.close();
    const files = await readdir(dir);
    assert.ok(files.includes('snapshot.jsonl'));
    assert.equal(files.filter((f) => f.startsWith('journal-')).length, 1);
    const r = await createEmbeddedKeyValueStore({ dir });
    try {
      const all = await r.scan('k:', { limit: 100 });
      assert.deepEqual(all.map((e) => (e.value as { i: number }).i), [50, 51, 52, 53, 54, 55, 56, 57, 58, 59]);
      assert.deepEqual(await r.checkpoint(), new Map([['t:0', 60]]));
    } finally { await r.close(); }
  });

  test('a crash between snapshot rename and journal switch loses nothing', async () => {
    const dir = join(root, 'midcompact');
    const s = await createEmbeddedKeyValueStore({ dir });
    await s.commit([{ op: 'put', key: 'a', value: 1 }], new Map([['t:0', 1]]));
    await s.compact();
    await s.commit([{ op: 'put', key: 'b', value: 2 }], new Map([['t:0', 2]]));
    await s.close();
    // Leave a stale older journal and a temp snapshot around, as an interrupted compaction would.
    await writeFile(join(dir, 'journal-0.log'), 'garbage\n');
    await writeFile(join(dir, 'snapshot.jsonl.9.tmp'), '{');
    const r = await createEmbeddedKeyValueStore({ dir });
    try {
      assert.deepEqual(await r.getMany(['a', 'b']), [1, 2]);
      assert.deepEqual(await r.checkpoint(), new Map([['t:0', 2]]));
      const files = await readdir(dir);
      assert.ok(!files.includes('journal-0.log') && !files.some((f) => f.endsWith('.tmp')));
    } finally { await r.close(); }
  });
});
