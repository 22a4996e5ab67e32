import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { COMPATIBILITY, SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { type DomainEvent } from '../../domain/events.ts';
import { TOPIC_OF } from '../topics.ts';
import { createAvroEventCodec } from '../codec/avro-event-codec.ts';
import { createConfluentSchemaRegistryApi } from '../codec/schema-registry-api.ts';
import { createSchemaRegistry, type SchemaRegistry } from './schema-registry.ts';
import { buildSchemaRegistryServer, SCHEMA_REGISTRY_CONTENT_TYPE, schemaRegistryRoutes } from './schema-registry.routes.ts';

const rec = (fields: object[]) => ({ type: 'record', name: 'Ping', namespace: 'io.test', fields });
const v1 = rec([{ name: 'n', type: 'int' }, { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } }]);
const v2WithoutDefault = rec([...v1.fields, { name: 'extra', type: 'string' }]);
const v2WithDefault = rec([...v1.fields, { name: 'note', type: ['null', 'string'], default: null }]);

async function startRegistry(): Promise<SchemaRegistry> {
  const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
  await registry.start();
  return registry;
}

describe('registry REST API with the unchanged @kafkajs/confluent-schema-registry client', () => {
  let server: FastifyInstance;
  let host: string;
  before(async () => {
    server = buildSchemaRegistryServer({ registry: await startRegistry() });
    await server.listen({ port: 0, host: '127.0.0.1' });
    host = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  test('register, ids, encode/decode, config and an incompatible change', async () => {
    const client = new ConfluentClient({ host, retry: { retries: 0 } });
    const subject = 'pings-io.test.Ping';
    const opts = { subject, compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE };
    const { id } = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(v1) }, opts);
    assert.equal(await client.getLatestSchemaId(subject), id);
    assert.equal(await client.getRegistryId(subject, 1), id);
    assert.equal(await client.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: JSON.stringify(v1) }), id);

    // The client set the subject-level compatibility on first registration (PUT /config/{s}).
    const cfg = await fetch(`${host}/config/${subject}`);
    assert.deepEqual(await cfg.json(), { compatibilityLevel: 'BACKWARD_TRANSITIVE' });

    const payload = { n: 7, at: 1_700_000_000_123 };
    const buf = await client.encode(id, payload);
    assert.equal(buf[0], 0);
    assert.equal(buf.readUInt32BE(1), id);
    // A fresh client (empty cache) fetches the schema by id over HTTP to decode.
    assert.deepEqual({ ...(await new ConfluentClient({ host }).decode(buf)) }, payload);

    // Adding a field without a default breaks BACKWARD_TRANSITIVE: 409 / 40901.
    await assert.rejects(
      client.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2WithoutDefault) }, opts),
      (e: { status?: number }) => e.status === 409,
    );
    const raw = await fetch(`${host}/subjects/${subject}/versions`, {
      method: 'POST', headers: { 'content-type': SCHEMA_REGISTRY_CONTENT_TYPE },
      body: JSON.stringify({ schema: JSON.stringify(v2WithoutDefault) }),
    });
    assert.equal(raw.status, 409);
    assert.equal((await raw.json()).error_code, 40901);
    assert.match(raw.headers.get('content-type') ?? '', /application\/vnd\.schemaregistry\.v1\+json/);

    // With a default it is accepted as version 2.
    const v2 = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2WithDefault) }, opts);
    assert.notEqual(v2.id, id);
    assert.equal(await client.getRegistryId(subject, 'latest'), v2.id);
  });

  test('the event codec works against the registry over HTTP (cluster-mode adapter)', async () => {
    const codec = createAvroEventCodec({ registry: createConfluentSchemaRegistryApi({ host }) });
    const ids = await codec.registerAll();
    const event: DomainEvent = { type: 'VideoDeleted', data: { videoId: 'v1', deletedBy: 'u1', deletedAt: 1_700_000_000_000 } };
    const buf = await codec.encode(TOPIC_OF.VideoDeleted, event);
    assert.equal(buf.readUInt32BE(1), ids.get('VideoDeleted'));
    // Decoded by a codec with a cold cache: the writer schema comes back over HTTP.
    const other = createAvroEventCodec({ registry: createConfluentSchemaRegistryApi({ host }) });
    assert.deepEqual(await other.decode(buf), event);
    // Registering again is idempotent (same ids).
    assert.deepEqual(await other.registerAll(), ids);
  });
});

describe('registry REST API error codes (inject, mounted under a prefix)', () => {
  let app: FastifyInstance;
  before(async () => {
    app = Fastify();
    await app.register(schemaRegistryRoutes, { prefix: '/registry', registry: await startRegistry() });
    await app.ready();
  });
  after(() => app.close());

  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
    const res = await app.inject({
      method, url: `/registry${url}`,
      ...(body === undefined ? {} : { payload: JSON.stringify(body), headers: { 'content-type': SCHEMA_REGISTRY_CONTENT_TYPE } }),
    });
    return { status: res.statusCode, body: res.json(), type: res.headers['content-type'] };
  };

  test('Confluent error codes', async () => {
    assert.deepEqual(await call('POST', '/subjects/s/versions', { schema: JSON.stringify(v1) }).then((r) => r.body), { id: 1 });
    const expectError = async (p: ReturnType<typeof call>, status: number, errorCode: number) => {
      const r = await p;
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.equal(r.body.error_code, errorCode);
      assert.equal(typeof r.body.message, 'string');
    };
    await expectError(call('GET', '/subjects/missing/versions'), 404, 40401);
    await expectError(call('GET', '/subjects/missing/versions/latest'), 404, 40401);
    await expectError(call('GET', '/subjects/s/versions/5'), 404, 40402);
    await expectError(call('GET', '/subjects/s/versions/abc'), 422, 42202);
    await expectError(call('POST', '/subjects/s', { schema: JSON.stringify(v2WithDefault) }), 404, 40403);
    await expectError(call('POST', '/subjects/missing', { schema: JSON.stringify(v1) }), 404, 40401);
    await expectError(call('GET', '/schemas/ids/42'), 404, 40403);
    await expectError(call('POST', '/subjects/s/versions', { schema: '{"type": "nope"}' }), 422, 42201);
    await expectError(call('POST', '/subjects/s/versions', { schema: 'not json at all {' }), 422, 42201);
    await expectError(call('POST', '/subjects/s/versions', { schema: JSON.stringify(v2WithoutDefault) }), 409, 40901);
    await expectError(call('PUT', '/config', { compatibility: 'SOMETIMES' }), 422, 42203);
    await expectError(call('PUT', '/config/s', { compatibility: 'SOMETIMES' }), 422, 42203);
    await expectError(call('POST', '/compatibility/subjects/missing/versions/latest', { schema: JSON.stringify(v1) }), 404, 40401);
  });

  test('config: global default, subject-level 404 40408, set and read back', async () => {
    assert.deepEqual((await call('GET', '/config')).body, { compatibilityLevel: 'BACKWARD_TRANSITIVE' });
    const missing = await call('GET', '/config/orders-value');
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, {
      error_code: 40408, message: "Subject 'orders-value' does not have subject-level compatibility configured",
    });
    assert.match(missing.type ?? '', /vnd\.schemaregistry\.v1\+json/);
    assert.deepEqual((await call('PUT', '/config/orders-value', { compatibility: 'FULL' })).body, { compatibility: 'FULL' });
    assert.deepEqual((await call('GET', '/config/orders-value')).body, { compatibilityLevel: 'FULL' });
    assert.deepEqual((await call('PUT', '/config', { compatibility: 'NONE' })).body, { compatibility: 'NONE' });
    assert.deepEqual((await call('GET', '/config')).body, { compatibilityLevel: 'NONE' });
    assert.deepEqual((await call('GET', '/config/other?defaultToGlobal=true')).body, { compatibilityLevel: 'NONE' });
    assert.deepEqual((await call('PUT', '/config', { compatibility: 'BACKWARD_TRANSITIVE' })).body, { compatibility: 'BACKWARD_TRANSITIVE' });
  });

  test('reads, lookup, compatibility endpoint; application/json accepted too', async () => {
    const jsonRes = await app.inject({
      method: 'POST', url: '/registry/subjects/t/versions', headers: { 'content-type': 'application/json' },
      payload: { schema: JSON.stringify(v1) },
    });
    assert.equal(jsonRes.statusCode, 200);
    const { id } = jsonRes.json();
    assert.deepEqual((await call('GET', '/subjects')).body.includes('t'), true);
    assert.deepEqual((await call('GET', '/subjects/t/versions')).body, [1]);
    const latest = (await call('GET', '/subjects/t/versions/latest')).body;
    assert.deepEqual({ ...latest, schema: JSON.parse(latest.schema) }, { subject: 't', id, version: 1, schema: v1 });
    assert.deepEqual(JSON.parse((await call('GET', `/schemas/ids/${id}`)).body.schema), v1);
    assert.equal((await call('POST', '/subjects/t', { schema: JSON.stringify(v1) })).body.version, 1);
    assert.deepEqual((await call('POST', '/compatibility/subjects/t/versions/latest', { schema: JSON.stringify(v2WithDefault) })).body, { is_compatible: true });
    assert.deepEqual((await call('POST', '/compatibility/subjects/t/versions/1', { schema: JSON.stringify(v2WithoutDefault) })).body, { is_compatible: false });
    const unknownRoute = await call('GET', '/nothing/here');
    assert.equal(unknownRoute.status, 404);
    assert.equal(unknownRoute.body.error_code, 404);
  });
});
