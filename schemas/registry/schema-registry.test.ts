import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { RegistryError } from './registry-errors.ts';
import { createSchemaRegistry } from './schema-registry.ts';

const rec = (fields: object[], doc?: string) => JSON.stringify({ type: 'record', name: 'E', namespace: 'io.test', ...(doc ? { doc } : {}), fields });
const v1 = rec([{ name: 'a', type: 'string' }]);
const v2 = rec([{ name: 'a', type: 'string' }, { name: 'b', type: ['null', 'string'], default: null }]);
const incompatible = rec([{ name: 'a', type: 'string' }, { name: 'c', type: 'int' }]);

const code = async (p: Promise<unknown>): Promise<number> => {
  const e = await p.then(() => null, (x: unknown) => x);
  assert.ok(e instanceof RegistryError, `expected RegistryError, got ${String(e)}`);
  return e.errorCode;
};

describe('schema registry core', () => {
  test('versions, ids and idempotent registration', async () => {
    const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
    await registry.start();
    const a = await registry.register('s-value', v1);
    assert.deepEqual(a, { id: 1, version: 1 });
    // Same schema, different formatting and key order: same id and version.
    const reformatted = JSON.stringify({ fields: [{ type: 'string', name: 'a' }], namespace: 'io.test', name: 'E', type: 'record' }, null, 2);
    assert.deepEqual(await registry.register('s-value', reformatted), a);
    const b = await registry.register('s-value', v2);
    assert.deepEqual(b, { id: 2, version: 2 });
    // The same schema under another subject reuses the global id, with its own version 1.
    assert.deepEqual(await registry.register('t-value', v2), { id: 2, version: 1 });
    // A doc change is a new schema (canonical form keeps attributes).
    assert.deepEqual(await registry.register('t-value', rec(JSON.parse(v2).fields, 'documented')), { id: 3, version: 2 });
    assert.deepEqual(await registry.subjects(), ['s-value', 't-value']);
    assert.deepEqual(await registry.versions('s-value'), [1, 2]);
    assert.equal((await registry.getVersion('s-value', 'latest')).id, 2);
    assert.equal((await registry.getVersion('s-value', '1')).schema, v1);
    assert.equal(await registry.getSchemaById(1), v1);
    assert.equal((await registry.lookup('s-value', reformatted)).version, 1);
  });

  test('errors: not found, invalid, incompatible under the default BACKWARD_TRANSITIVE', async () => {
    const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
    await registry.start();
    assert.equal(await registry.getGlobalCompatibility(), 'BACKWARD_TRANSITIVE');
    await registry.register('s', v1);
    assert.equal(await code(registry.register('s', incompatible)), 40901);
    assert.equal(await code(registry.register('s', '{"type":"recor"}')), 42201);
    assert.equal(await code(registry.register('s', v1, 'PROTOBUF')), 42201);
    assert.equal(await code(registry.getVersion('nope', 1)), 40401);
    assert.equal(await code(registry.getVersion('s', 7)), 40402);
    assert.equal(await code(registry.getVersion('s', 'x')), 42202);
    assert.equal(await code(registry.getVersion('s', 0)), 42202);
    assert.equal(await code(registry.getSchemaById(99)), 40403);
    assert.equal(await code(registry.lookup('nope', v1)), 40401);
    assert.equal(await code(registry.lookup('s', v2)), 40403);
    assert.equal(await code(registry.setGlobalCompatibility('SOMETIMES')), 42203);
    assert.equal(await code(registry.deleteSubjectCompatibility('s')), 40408);
    // With NONE on the subject the same change goes through.
    await registry.setSubjectCompatibility('s', 'none');
    assert.equal(await registry.getSubjectCompatibility('s'), 'NONE');
    assert.equal((await registry.register('s', incompatible)).version, 2);
    assert.equal((await registry.testCompatibility('s', v1, 'latest')).compatible, true);
  });

  test('testCompatibility: latest follows the level, a given version is checked alone', async () => {
    const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
    await registry.start();
    await registry.register('s', v1);
    await registry.register('s', v2);
    const onlyB = rec([{ name: 'b', type: ['null', 'string'] }]); // cannot read v1 data (no b there, no default)
    assert.equal((await registry.testCompatibility('s', onlyB, 'latest')).compatible, false);
    assert.equal((await registry.testCompatibility('s', onlyB, 2)).compatible, true);
    assert.equal((await registry.testCompatibility('s', onlyB, 1)).compatible, false);
    assert.equal(await code(registry.testCompatibility('nope', v1, 'latest')), 40401);
  });

  test('state is rebuilt from the _schemas topic: same ids, versions and config after a restart', async () => {
    const log = createInMemoryEventLog();
    const first = createSchemaRegistry({ log });
    await first.start();
    const ids = [
      await first.register('a-value', v1),
      await first.register('a-value', v2),
      await first.register('b-value', incompatible),
    ];
    await first.setGlobalCompatibility('FULL');
    await first.setSubjectCompatibility('b-value', 'NONE');
    await first.setSubjectCompatibility('a-value', 'FORWARD');
    await first.deleteSubjectCompatibility('a-value');
    await first.stop();

    const [topic] = (await log.listTopics()).filter((t) => t.name === '_schemas');
    assert.deepEqual(topic, { name: '_schemas', partitions: 1, compacted: true });
    // Keys are JSON (Confluent format) and unique per schema version.
    const keys = log.records('_schemas').map((r) => JSON.parse(r.key!));
    assert.deepEqual(keys[0], { keytype: 'SCHEMA', subject: 'a-value', version: 1, magic: 1 });

    const second = createSchemaRegistry({ log });
    await second.start();
    assert.deepEqual(await second.subjects(), ['a-value', 'b-value']);
    assert.deepEqual(await second.register('a-value', v2), ids[1]);
    assert.deepEqual((await second.lookup('b-value', incompatible)).id, ids[2].id);
    assert.equal(await second.getSchemaById(ids[0].id), v1);
    assert.equal(await second.getGlobalCompatibility(), 'FULL');
    assert.equal(await second.getSubjectCompatibility('b-value'), 'NONE');
    assert.equal(await second.getSubjectCompatibility('a-value'), undefined);
    // New ids continue after the highest stored one.
    const next = await second.register('c-value', rec([{ name: 'z', type: 'int' }]));
    assert.equal(next.id, Math.max(...ids.map((i) => i.id)) + 1);
  });

  test('a reader instance catches up with ids registered by another instance', async () => {
    const log = createInMemoryEventLog();
    const writer = createSchemaRegistry({ log });
    const reader = createSchemaRegistry({ log });
    await writer.start();
    await reader.start();
    const { id } = await writer.register('x', v1);
    assert.equal(await reader.getSchemaById(id), v1);
    await writer.register('y', v2);
    assert.equal((await reader.getVersion('y', 1)).schema, v2);
    assert.equal((await reader.lookup('y', v2)).version, 1);
  });

  test('concurrent registrations are serialized: dense versions, no duplicate ids', async () => {
    const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
    await registry.start();
    await registry.setGlobalCompatibility('NONE');
    const schemas = Array.from({ length: 8 }, (_, i) => rec([{ name: `f${i}`, type: 'int' }]));
    const results = await Promise.all([...schemas, ...schemas].map((s) => registry.register('s', s)));
    assert.deepEqual(await registry.versions('s'), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(new Set(results.map((r) => r.id)).size, 8);
  });
});
