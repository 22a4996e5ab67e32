/**
 * The Typesense search read model against a real Typesense 0.24.1 server (started here through
 * deploy/local/typesense.sh): the shared search contract, then what is Typesense's own — only
 * searchable videos stored in the search collection, a crash between the writes and the
 * checkpoint, the alias swap of a replay, and a server outage.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from 'typesense';
import { runProjection } from '../../processors/runtime/projection.runtime.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { needleHits } from '../../test/support/e2e-target.ts';
import { startTypesenseServer, typesenseRequirement, type TypesenseServer } from '../../test/support/typesense-server.ts';
import { createProjectionManager } from '../replay/projection-manager.ts';
import type { CurrentInstance } from '../replay/replay.port.ts';
import { appendEvents, createScriptedLog, within } from '../testing/projection-test-kit.ts';
import { CONTRACT_T0, testSearchReadModel, videoEvents } from './search.contract.ts';
import { SearchIndexError } from './search.port.ts';
import {
  aliasSwappingPointers, createTypesenseSearchProjection, createTypesenseSearchQueries, SEARCH_SCHEMA_VERSION, typesenseSearchReadModel,
} from './typesense-search.adapter.ts';

const skip = await typesenseRequirement();
const SECRET = 'typesense-test-secret';
const NOW = CONTRACT_T0 + 1_000_000;

let server: TypesenseServer | undefined;
const serverP: Promise<TypesenseServer> | undefined = skip ? undefined : startTypesenseServer().then((s) => {
  server = s;
  return s;
});
serverP?.catch(() => undefined);
after(async () => { await server?.stop(); });

/** A client that gives up fast (tests must not wait out retries against a stopped server). */
const clientFor = (s: TypesenseServer) => new Client({
  nodes: [s.node], apiKey: s.apiKey, connectionTimeoutSeconds: 5, numRetries: 1, retryIntervalSeconds: 0.1, logLevel: 'silent',
});

testSearchReadModel('Typesense 0.24.1', async () => {
  const s = await serverP!;
  const client = clientFor(s);
  return {
    // Each store is its own prefix on the shared server: its own collections, alias and checkpoints.
    open: async (store, opts) => createTypesenseSearchProjection({ client, prefix: `contract_${store}`, cursorSecret: opts.cursorSecret, now: opts.now }),
    async teardown() { /* the server (and its data dir) goes in the file's after() */ },
  };
}, { skip });

describe('Typesense search read model', { skip }, () => {
  let client: Client;
  let prefixes = 0;
  const codecP = sharedAvroTestCodec();
  before(async () => { client = clientFor(await serverP!); });
  const freshPrefix = () => `own_${++prefixes}`;

  async function run(log: Awaited<ReturnType<typeof createScriptedLog>>, node: ReturnType<typeof createTypesenseSearchProjection>, groupId?: string) {
    const h = await runProjection(node, { log, codec: await codecP, groupId });
    await within(h.caughtUp(), 60_000, 'caughtUp');
    return { h, async close() { await h.stop(); await node.close(); } };
  }
  /** Every stored document id of `collection`. */
  const storedIds = async (collection: string) => {
    const res = await client.collections<{ id: string }>(collection).documents().search({ q: '*', per_page: 250 });
    return (res.hits ?? []).map((h) => h.document.id).sort();
  };

  test('the search collection holds only searchable videos; a hidden or deleted video is deleted from it', async () => {
    const prefix = freshPrefix();
    const log = await createScriptedLog();
    const codec = await codecP;
    await appendEvents(log, codec, [
      ...videoEvents('p1', 'Volcano public'), ...videoEvents('u1', 'Volcano unlisted', { visibility: 'unlisted' }),
      ...videoEvents('s1', 'Volcano private', { visibility: 'private' }), ...videoEvents('d1', 'Volcano draft', { publish: false }),
      ...videoEvents('p2', 'Volcano two'),
    ]);
    const node = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    const r = await run(log, node);
    try {
      const names = node.collections();
      assert.equal(names.search, `${prefix}_search_v${SEARCH_SCHEMA_VERSION}_primary`);
      assert.deepEqual(await storedIds(names.search), ['p1', 'p2']);
      assert.deepEqual(await storedIds(names.docs), ['d1', 'p1', 'p2', 's1', 'u1'], 'every known video keeps its document for later events');
      const pos = await appendEvents(log, codec, [
        { type: 'VideoMetadataUpdated', data: { videoId: 'p1', visibility: 'unlisted', updatedBy: 'o1', updatedAt: CONTRACT_T0 + 5 } },
        { type: 'VideoDeleted', data: { videoId: 'p2', deletedBy: 'o1', deletedAt: CONTRACT_T0 + 6 } },
      ]);
      assert.equal(await r.h.waitFor(pos, 10_000), true);
      assert.deepEqual(await storedIds(names.search), []);
      assert.deepEqual(await storedIds(names.docs), ['d1', 'p1', 's1', 'u1']);
    } finally {
      await r.close();
    }
  });

  test('a deleted video\'s words leave Typesense\'s Raft log too: no file of its data dir holds them once the node closed (issue 13)', async (t) => {
    const prefix = freshPrefix();
    const log = await createScriptedLog();
    const codec = await codecP;
    const word = `erasable${Date.now().toString(36)}`;
    await appendEvents(log, codec, videoEvents('e1', `Kestrel ${word}`));
    const node = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    const r = await run(log, node);
    const dir = (await serverP!).dir;
    try {
      assert.deepEqual((await node.queries.search(word, 10)).videos.map((v) => v.videoId), ['e1']);
      assert.ok((await needleHits(dir, { title: word })).hits.some((h) => h.includes('state/log/')), 'indexing the title wrote it into the Raft log');
      // A snapshot flushes RocksDB's memtable: the title is then in the database's files too.
      await client.operations.perform('snapshot', { snapshot_path: '/dev/null/streamwave-test' });
      assert.ok((await needleHits(dir, { title: word })).hits.some((h) => h.includes('/db/')), 'the title is in the database files');
      const pos = await appendEvents(log, codec, [{ type: 'VideoDeleted', data: { videoId: 'e1', deletedBy: 'o1', deletedAt: CONTRACT_T0 + 6 } }]);
      assert.equal(await r.h.waitFor(pos, 10_000), true);
    } finally {
      await r.close();
    }
    const { hits, files } = await needleHits(dir, { 'deleted title': word });
    t.diagnostic(`Typesense data dir after the deletion and the scrub: ${files} files, ${hits.length} hits`);
    assert.deepEqual(hits, []);
  });

  test('a crash or a failed write before the checkpoint: the redelivered batch ends in the same state', async () => {
    const prefix = freshPrefix();
    const log = await createScriptedLog();
    await appendEvents(log, await codecP, [
      ...videoEvents('v1', 'Dinosaur documentary'), ...videoEvents('v2', 'Dinosaur museum', { visibility: 'private' }),
      { type: 'VideoMetadataUpdated', data: { videoId: 'v1', title: 'Dinosaur documentary, part two', updatedBy: 'o1', updatedAt: CONTRACT_T0 + 5 } },
      ...videoEvents('v3', 'Dinosaur bones'), { type: 'VideoDeleted', data: { videoId: 'v3', deletedBy: 'o1', deletedAt: CONTRACT_T0 + 6 } },
    ]);
    let node = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    let r = await run(log, node);
    const names = node.collections();
    const before = { search: await storedIds(names.search), docs: await storedIds(names.docs), hits: await node.queries.search('dinosaur', 10) };
    await r.close();
    // What a crash between steps (2) and (3) leaves: every write done, the checkpoint not.
    await client.collections(names.checkpoints).documents(names.search).delete();
    // Worse, a failed step (2): the docs collection no longer has the deleted v3 (and v2 is
    // private there), but the search collection still has both.
    await client.collections(names.search).documents().import([
      { id: 'v3', videoId: 'v3', title: 'Dinosaur bones', description: '', tags: [], ownerId: 'o1', publishedAt: CONTRACT_T0 + 1 },
      { id: 'v2', videoId: 'v2', title: 'Dinosaur museum', description: '', tags: [], ownerId: 'o1', publishedAt: CONTRACT_T0 + 1 },
    ], { action: 'upsert' });
    assert.deepEqual(await storedIds(names.search), ['v1', 'v2', 'v3']);
    node = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    assert.equal((await node.loadCheckpoint()).size, 0);
    r = await run(log, node, `redeliver-${prefix}`);
    try {
      assert.deepEqual(await storedIds(names.search), before.search);
      assert.deepEqual(await storedIds(names.docs), before.docs);
      assert.deepEqual(await node.queries.search('dinosaur', 10), before.hits);
      assert.deepEqual(before.search, ['v1']);
      assert.ok((await node.loadCheckpoint()).size > 0, 'the redelivered batches stored the checkpoint');
    } finally {
      await r.close();
    }
  });

  test('replay into a shadow instance, then the alias swap: readers in other processes follow it', async () => {
    const prefix = freshPrefix();
    const log = await createScriptedLog();
    const codec = await codecP;
    await appendEvents(log, codec, [...videoEvents('v1', 'Dinosaur documentary'), ...videoEvents('v2', 'Dinosaur museum')]);
    const model = typesenseSearchReadModel({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    const reader = createTypesenseSearchQueries({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    assert.deepEqual((await reader.search('dinosaur', 10)).videos, [], 'no instance yet: nothing to find');
    assert.equal((await reader.checkpoint()).size, 0);

    const primary = await model.open('primary');
    const live = await run(log, primary as ReturnType<typeof createTypesenseSearchProjection>);
    assert.equal(await model.servingInstance(), 'primary', 'the first instance takes the alias');
    assert.deepEqual((await reader.search('dinosaur', 10)).videos.map((v) => v.videoId).sort(), ['v1', 'v2']);
    assert.deepEqual(await reader.checkpoint(), await primary.loadCheckpoint());

    // A pointer store in memory, wrapped so the alias follows the manager's swap.
    const saved = new Map<string, CurrentInstance>();
    const pointers = aliasSwappingPointers({ load: async (n) => saved.get(n), save: async (n, c) => { saved.set(n, c); } }, model);
    const shadow = await model.open('replay-1');
    const rebuilt = await run(log, shadow as ReturnType<typeof createTypesenseSearchProjection>, `${prefix}.replay-1`);
    assert.deepEqual((await model.instances!()).sort(), ['primary', 'replay-1']);
    // A cursor of the old instance stays valid on the new one (same secret, same query).
    const page1 = await reader.search('dinosaur', 1);
    await assert.rejects(model.destroy('primary'), (e: unknown) => e instanceof SearchIndexError && e.code === 'SEARCH_IN_USE');
    await pointers.save('search', { instanceId: 'replay-1', groupId: `${prefix}.replay-1`, since: NOW });
    assert.equal(await model.servingInstance(), 'replay-1');
    await live.close();
    await model.destroy('primary');
    assert.deepEqual(await model.instances!(), ['replay-1']);
    const page2 = await reader.search('dinosaur', 1, page1.nextCursor!);
    assert.deepEqual([...page1.videos, ...page2.videos].map((v) => v.videoId).sort(), ['v1', 'v2']);

    // A crash between the pointer write and the alias swap: load() repairs the alias.
    const third = await model.open('replay-2');
    saved.set('search', { instanceId: 'replay-2', groupId: 'g', since: NOW });
    assert.equal(await model.servingInstance(), 'replay-1');
    await pointers.load('search');
    assert.equal(await model.servingInstance(), 'replay-2');
    await third.close();
    await rebuilt.close();
  });

  test('video ids with filter syntax, spaces, backticks or non-ASCII are stored, found, hidden and deleted', async () => {
    const prefix = freshPrefix();
    const odd = ['a,b', 'x:=y', 'sp ace', 'back`tick', 'é-ü-中', '[v]', '&&'];
    const log = await createScriptedLog();
    const codec = await codecP;
    await appendEvents(log, codec, odd.flatMap((id) => videoEvents(id, `Glacier ${id}`)));
    const node = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    const r = await run(log, node);
    try {
      const found = async () => (await node.queries.search('glacier', 100)).videos.map((v) => v.videoId).sort();
      assert.deepEqual(await found(), [...odd].sort());
      const pos = await appendEvents(log, codec, [
        { type: 'VideoMetadataUpdated', data: { videoId: 'back`tick', visibility: 'private', updatedBy: 'o1', updatedAt: CONTRACT_T0 + 5 } },
        { type: 'VideoDeleted', data: { videoId: 'a,b', deletedBy: 'o1', deletedAt: CONTRACT_T0 + 6 } },
        { type: 'VideoMetadataUpdated', data: { videoId: 'é-ü-中', title: 'Iceberg', updatedBy: 'o1', updatedAt: CONTRACT_T0 + 7 } },
      ]);
      assert.equal(await r.h.waitFor(pos, 10_000), true);
      assert.deepEqual(await found(), ['&&', '[v]', 'sp ace', 'x:=y'].sort());
      assert.deepEqual((await node.queries.search('iceberg', 10)).videos.map((v) => v.videoId), ['é-ü-中']);
      assert.ok((await storedIds(node.collections().docs)).includes('back`tick'), 'a hidden video keeps its document');
    } finally {
      await r.close();
    }
  });

  test('`replay search` through the projection manager rebuilds a shadow collection, swaps the alias, deletes the old one', async () => {
    const prefix = freshPrefix();
    const log = await createScriptedLog();
    const codec = await codecP;
    await appendEvents(log, codec, [...videoEvents('v1', 'Dinosaur documentary'), ...videoEvents('v2', 'Dinosaur museum')]);
    const model = typesenseSearchReadModel({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    const saved = new Map<string, CurrentInstance>();
    const pointers = aliasSwappingPointers({ load: async (n) => saved.get(n), save: async (n, c) => { saved.set(n, c); } }, model);
    const manager = createProjectionManager({ log, codec, projections: { search: model }, pointers, groupIdOf: (n) => `${prefix}.${n}`, progressIntervalMs: 20 });
    const reader = createTypesenseSearchQueries({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    await manager.start();
    try {
      await within(manager.get('search').handle.caughtUp(), 60_000, 'live caught up');
      assert.equal(await model.servingInstance(), 'primary');
      await appendEvents(log, codec, videoEvents('v3', 'Dinosaur bones'));
      const status = await within(manager.replay('search', { fromBeginning: true }), 60_000, 'replay');
      assert.equal(status.status, 'swapped');
      assert.equal(saved.get('search')?.instanceId, status.instanceId);
      assert.equal(await model.servingInstance(), status.instanceId, 'the alias follows the pointer');
      assert.deepEqual(await model.instances!(), [status.instanceId], 'the replaced instance is deleted');
      assert.deepEqual((await reader.search('dinosaur', 10)).videos.map((v) => v.videoId).sort(), ['v1', 'v2', 'v3']);
      assert.deepEqual((await manager.get('search').queries.search('dinosaur', 10)).videos.map((v) => v.videoId).sort(), ['v1', 'v2', 'v3']);
    } finally {
      await manager.close();
    }
  });

  test('an instance written by a newer schema is refused; a bad instance id is a typed error', async () => {
    const prefix = freshPrefix();
    await client.collections().create({ name: `${prefix}_search_v${SEARCH_SCHEMA_VERSION + 1}_primary`, fields: [{ name: 'title', type: 'string' }] });
    const node = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET });
    await assert.rejects(node.ready!(), (e: unknown) => e instanceof SearchIndexError && e.code === 'SEARCH_SCHEMA');
    assert.throws(() => createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, instanceId: 'a b/c' }),
      (e: unknown) => e instanceof SearchIndexError && e.code === 'SEARCH_INVALID_NAME');
    assert.throws(() => typesenseSearchReadModel({ client, prefix: 'bad prefix', cursorSecret: SECRET }),
      (e: unknown) => e instanceof SearchIndexError && e.code === 'SEARCH_INVALID_NAME');
  });

  test('a server crash keeps the data; while it is down queries and batches fail with SEARCH_UNAVAILABLE, then resume', async () => {
    const s = await serverP!;
    const prefix = freshPrefix();
    const log = await createScriptedLog();
    const codec = await codecP;
    await appendEvents(log, codec, videoEvents('v1', 'Dinosaur documentary'));
    let r = await run(log, createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW }));
    await r.close();
    const t0 = Date.now();
    await s.restart({ signal: 'SIGKILL' }); // a crash: the data survives through RocksDB and the Raft log
    console.log(`typesense restart after SIGKILL: ${Date.now() - t0} ms`);
    const node = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    assert.deepEqual((await node.queries.search('dinosaur', 10)).videos.map((v) => v.videoId), ['v1']);

    process.kill(s.pid, 'SIGKILL');
    await new Promise((res) => setTimeout(res, 200)); // the kernel closes the listening socket with the process
    await assert.rejects(node.queries.search('dinosaur', 10), (e: unknown) => e instanceof SearchIndexError && e.code === 'SEARCH_UNAVAILABLE');
    const down = createTypesenseSearchProjection({ client, prefix: freshPrefix(), cursorSecret: SECRET });
    await assert.rejects(down.ready!(), (e: unknown) => e instanceof SearchIndexError && e.code === 'SEARCH_UNAVAILABLE');
    const pos = await appendEvents(log, codec, videoEvents('v2', 'Dinosaur museum'));

    await s.restart(); // the pid is gone already: this only starts it again
    r = await run(log, createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW }));
    try {
      assert.equal(await r.h.waitFor(pos, 10_000), true);
      assert.deepEqual((await node.queries.search('dinosaur', 10)).videos.map((v) => v.videoId).sort(), ['v1', 'v2']);
    } finally {
      await r.close();
    }
  });
});
