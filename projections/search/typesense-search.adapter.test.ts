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
import { TOPICS } from '../../schemas/topics.ts';
import { createProjectionManager } from '../replay/projection-manager.ts';
import type { CurrentInstance } from '../replay/replay.port.ts';
import { appendEvents, createScriptedLog, within } from '../testing/projection-test-kit.ts';
import { testSearchFilters } from './search-filters.contract.ts';
import { CONTRACT_T0, testSearchReadModel, videoEvents, type SearchEngineUnderTest } from './search.contract.ts';
import { SearchIndexError } from './search.port.ts';
import { exactKey } from './typesense-search-query.ts';
import { deleteCheckpoint, readCheckpoint } from './typesense-search-checkpoint.ts';
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

const contractEngine = async (): Promise<SearchEngineUnderTest> => {
  const s = await serverP!;
  const client = clientFor(s);
  return {
    // Each store is its own prefix on the shared server: its own collections, alias and checkpoints.
    open: async (store, opts) => createTypesenseSearchProjection({ client, prefix: `contract_${store}`, ...opts }),
    async teardown() { /* the server (and its data dir) goes in the file's after() */ },
  };
};
testSearchReadModel('Typesense 0.24.1', contractEngine, { skip });
testSearchFilters('Typesense 0.24.1', contractEngine, { skip });

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
    await deleteCheckpoint(client, names.checkpoints, names.search);
    // Worse, a failed step (2): the docs collection no longer has the deleted v3 (and v2 is
    // private there), but the search collection still has both.
    await client.collections(names.search).documents().import([
      { id: 'v3', videoId: 'v3', title: 'Dinosaur bones', description: '', tags: [], ownerId: 'o1', publishedAt: CONTRACT_T0 + 1, ownerKey: exactKey('o1'), tagKeys: [], views: 0 },
      { id: 'v2', videoId: 'v2', title: 'Dinosaur museum', description: '', tags: [], ownerId: 'o1', publishedAt: CONTRACT_T0 + 1, ownerKey: exactKey('o1'), tagKeys: [], views: 0 },
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

  test('two projectors on one instance, each owning a partition: neither overwrites the other\'s checkpoint', async () => {
    const prefix = freshPrefix();
    // Cluster mode: every projector runs the primary instance; the group splits the partitions.
    // (Interval 0: these batches change no document, and their checkpoints are written at once.)
    const a = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW, idleCheckpointIntervalMs: 0 });
    const b = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW, idleCheckpointIntervalMs: 0 });
    const reader = createTypesenseSearchQueries({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    try {
      await a.apply({ topic: TOPICS.views, partition: 0, records: [], checkpoint: new Map([[`${TOPICS.views}:0`, 5]]) });
      await b.apply({ topic: TOPICS.views, partition: 1, records: [], checkpoint: new Map([[`${TOPICS.views}:1`, 7]]) });
      await a.apply({ topic: TOPICS.views, partition: 0, records: [], checkpoint: new Map([[`${TOPICS.views}:0`, 9]]) });
      const both = new Map([[`${TOPICS.views}:0`, 9], [`${TOPICS.views}:1`, 7]]);
      assert.deepEqual(await reader.checkpoint(), both, 'readers see both partitions\' progress');
      const restarted = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW });
      try {
        assert.deepEqual(await restarted.loadCheckpoint(), both, 'a restart resumes both partitions where they were');
      } finally {
        await restarted.close();
      }
      // A rebalance hands partition 1 to a: it resumes from b's progress, not from what it read at start.
      await b.apply({ topic: TOPICS.views, partition: 1, records: [], checkpoint: new Map([[`${TOPICS.views}:1`, 12]]) });
      await a.onAssigned!([{ topic: TOPICS.views, partition: 0 }, { topic: TOPICS.views, partition: 1 }]);
      assert.equal((await a.loadCheckpoint()).get(`${TOPICS.views}:1`), 12);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a checkpoint an earlier version stored (one whole-map document) is still read: the highest offset of each partition wins', async () => {
    const prefix = freshPrefix();
    const node = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW, idleCheckpointIntervalMs: 0 });
    try {
      const { checkpoints, search } = node.collections();
      await node.ready!();
      await client.collections(checkpoints).documents().upsert({
        id: search, readModel: 'search', schemaVersion: SEARCH_SCHEMA_VERSION, offsets: JSON.stringify({ [`${TOPICS.videos}:0`]: 4, [`${TOPICS.views}:0`]: 20 }), updatedAt: NOW,
      });
      await node.apply({ topic: TOPICS.views, partition: 0, records: [], checkpoint: new Map([[`${TOPICS.views}:0`, 30]]) });
      await node.apply({ topic: TOPICS.videos, partition: 0, records: [], checkpoint: new Map([[`${TOPICS.videos}:0`, 2]]) });
      assert.deepEqual(await readCheckpoint(client, checkpoints, search), new Map([[`${TOPICS.videos}:0`, 4], [`${TOPICS.views}:0`, 30]]));
      await deleteCheckpoint(client, checkpoints, search);
      assert.equal((await readCheckpoint(client, checkpoints, search)).size, 0, 'both kinds are deleted');
    } finally {
      await node.close();
    }
  });

  test('a batch that changes no document (views only): its checkpoint is held back for the interval, and dropped on close', async () => {
    const prefix = freshPrefix();
    const node = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW, idleCheckpointIntervalMs: 3_600_000 });
    const stored = async () => readCheckpoint(client, node.collections().checkpoints, node.collections().search);
    const views = (next: number) => ({ topic: TOPICS.views, partition: 0, records: [], checkpoint: new Map([[`${TOPICS.views}:0`, next]]) });
    const codec = await codecP;
    const log = await createScriptedLog();
    await appendEvents(log, codec, videoEvents('v1', 'Heron'));
    try {
      await node.apply(views(5));
      await node.ready!();
      // The first goes at once (no write in the last interval), but after apply resolved.
      for (const deadline = Date.now() + 10_000; (await stored()).get(`${TOPICS.views}:0`) !== 5;) {
        assert.ok(Date.now() < deadline, 'the first held-back checkpoint was written');
        await new Promise((r) => setTimeout(r, 20));
      }
      await node.apply(views(9));
      assert.equal((await node.loadCheckpoint()).get(`${TOPICS.views}:0`), 9, 'the projection resumes past it while it runs');
      assert.equal((await stored()).get(`${TOPICS.views}:0`), 5, 'held back: written at most once per interval');
      // A batch that changes a document writes its checkpoint before apply resolves.
      const h = await runProjection(node, { log, codec, groupId: `idle-${prefix}` });
      try {
        await within(h.caughtUp(), 60_000, 'caughtUp');
      } finally {
        await h.stop();
      }
      assert.ok([...await stored()].some(([tp, next]) => tp.startsWith(`${TOPICS.videos}:`) && next > 0), 'the videos batch\'s checkpoint is stored');
      assert.equal((await stored()).get(`${TOPICS.views}:0`), 5, 'still held back');
    } finally {
      await node.close();
    }
    // Dropped: close comes after the group was left, and another projector may own the partition
    // now; applying those batches again changes nothing.
    assert.equal((await stored()).get(`${TOPICS.views}:0`), 5, 'close does not write what was held back');
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

  test('tags and channels are exact: case aside, punctuation, accents and long values stay distinct (0.24 tokenises strings)', async () => {
    const prefix = freshPrefix();
    const long = (end: string) => `${'𝄞'.repeat(24)}${end}`; // 49 UTF-16 units, 194 UTF-8 bytes: beyond 0.24's 100-character tokens
    const log = await createScriptedLog();
    await appendEvents(log, await codecP, [
      ...videoEvents('t1', 'Reef one', { ownerId: 'Alice', tags: ['C++', 'home cooking'] }),
      ...videoEvents('t2', 'Reef two', { ownerId: 'alice', tags: ['c#', 'home cooking tips', long('a')] }),
      ...videoEvents('t3', 'Reef three', { ownerId: 'a-lice', tags: ['c', 'é', long('b')] }),
      ...videoEvents('t4', 'Reef four', { ownerId: 'al`ice', tags: ['e', 'x`y', 'home', 'cooking'] }),
    ]);
    const node = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    const r = await run(log, node);
    try {
      const ids = async (filters: object) => (await node.queries.search('reef', 10, undefined, { filters })).videos.map((v) => v.videoId).sort();
      for (const [owner, id] of [['Alice', 't1'], ['alice', 't2'], ['a-lice', 't3'], ['al`ice', 't4']]) assert.deepEqual(await ids({ channel: owner }), [id], owner);
      assert.deepEqual(await ids({ channel: 'ALICE' }), [], 'a channel is an owner id: case counts');
      for (const [tag, id] of [['c++', 't1'], ['C#', 't2'], ['c', 't3'], ['É', 't3'], ['e', 't4'], ['x`y', 't4'], ['home cooking', 't1'], ['home', 't4'], [long('a'), 't2'], [long('B'), 't3']]) {
        assert.deepEqual(await ids({ tags: [tag] }), [id], tag);
      }
      const facets = (await node.queries.search('reef', 1, undefined, { facets: true })).facets?.tags ?? [];
      assert.equal(facets.length, 12, JSON.stringify(facets));
      assert.ok(facets.every((f) => f.count === 1) && facets.some((f) => f.value === long('b')) && facets.some((f) => f.value === 'x`y'));
      // The largest search the API takes (a 200-character CJK query, 10 tags of 50 CJK characters,
      // a 100-character channel) is far over a GET's 4,000 characters once encoded: it still answers.
      const big = await node.queries.search('海'.repeat(200), 10, undefined, { facets: true, filters: { channel: 'x'.repeat(100), tags: Array.from({ length: 10 }, (_, i) => `${'漢'.repeat(49)}${i}`) } });
      assert.deepEqual(big, { videos: [], nextCursor: null, facets: { tags: [] } });
    } finally {
      await r.close();
    }
  });

  test('tag facets are exact past 100 distinct tags (ties at the 20th count), and the date sort pages under them', async () => {
    const prefix = freshPrefix();
    const log = await createScriptedLog();
    const tags = (i: number) => Array.from({ length: 20 }, (_, j) => `t${String(i * 20 + j).padStart(3, '0')}`);
    await appendEvents(log, await codecP, [
      ...Array.from({ length: 7 }, (_, i) => videoEvents(`m${i}`, `Meadow ${i}`, { tags: [...tags(6 - i), ...(i === 0 ? ['zz'] : [])], publishedAt: CONTRACT_T0 + i })).flat(),
    ]);
    const node = createTypesenseSearchProjection({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    const r = await run(log, node);
    try {
      const page = await node.queries.search('meadow', 3, undefined, { facets: true, sort: 'date' });
      assert.deepEqual(page.videos.map((v) => v.videoId), ['m6', 'm5', 'm4']);
      assert.deepEqual(page.facets?.tags, tags(0).map((value) => ({ value, count: 1 })), '141 tags of count 1: the first 20 by tag');
    } finally {
      await r.close();
    }
  });

  test('an instance of an older schema still serving: plain and date-sorted searches work, filters and facets are SEARCH_UNAVAILABLE', async () => {
    const prefix = freshPrefix();
    const old = `${prefix}_search_v1_primary`;
    await client.collections().create({ name: old, fields: [
      { name: 'videoId', type: 'string', sort: true }, { name: 'title', type: 'string' }, { name: 'description', type: 'string' },
      { name: 'tags', type: 'string[]' }, { name: 'publishedAt', type: 'int64' },
    ], default_sorting_field: 'publishedAt' });
    await client.collections(old).documents().create({ id: 'v1', videoId: 'v1', title: 'Dinosaur', description: '', tags: [], ownerId: 'o1', publishedAt: CONTRACT_T0 });
    await client.aliases().upsert(`${prefix}_search`, { collection_name: old });
    const reader = createTypesenseSearchQueries({ client, prefix, cursorSecret: SECRET, now: () => NOW });
    assert.deepEqual((await reader.search('dinosaur', 10)).videos.map((v) => v.videoId), ['v1']);
    assert.deepEqual((await reader.search('dinosaur', 10, undefined, { sort: 'date' })).videos.map((v) => v.videoId), ['v1']);
    for (const options of [{ filters: { channel: 'o1' } }, { filters: { minDurationSeconds: 1 } }, { facets: true }]) {
      await assert.rejects(reader.search('dinosaur', 10, undefined, options), (e: unknown) => e instanceof SearchIndexError && e.code === 'SEARCH_UNAVAILABLE', JSON.stringify(options));
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
