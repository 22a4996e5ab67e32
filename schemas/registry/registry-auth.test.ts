/**
 * Issue 8, finding 1: the registry's write API was public (`PUT /config {"compatibility":"NONE"}`
 * and an unrelated version of a live subject were accepted without credentials). Writes now need
 * HTTP Basic; reads, lookups and compatibility tests stay open (as Confluent's).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { COMPATIBILITY, SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { createAvroEventCodec } from '../codec/avro-event-codec.ts';
import { createConfluentSchemaRegistryApi } from '../codec/schema-registry-api.ts';
import { createSchemaRegistry } from './schema-registry.ts';
import { buildSchemaRegistryServer, SCHEMA_REGISTRY_CONTENT_TYPE } from './schema-registry.routes.ts';
import { basicAuthorization, basicAuthMatches } from './registry-auth.ts';

const creds = { username: 'streamwave', password: 'correct horse battery staple' };
const live = { type: 'record', name: 'Ping', namespace: 'io.test', fields: [{ name: 'n', type: 'int' }] };
const unrelated = { type: 'record', name: 'Squat', namespace: 'io.evil', fields: [{ name: 'x', type: 'string', default: '' }] };

describe('schema registry: writes need HTTP Basic credentials, reads stay open', () => {
  let server: FastifyInstance;
  let host: string;
  const subject = 'pings-io.test.Ping';
  before(async () => {
    const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
    await registry.start();
    server = buildSchemaRegistryServer({ registry, auth: creds });
    await server.listen({ port: 0, host: '127.0.0.1' });
    host = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
    // The live subject, registered with credentials.
    const r = await call('POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(live) }, basicAuthorization(creds));
    assert.equal(r.status, 200, JSON.stringify(r.body));
  });
  after(() => server.close());

  async function call(method: string, path: string, body?: unknown, authorization?: string) {
    const res = await fetch(`${host}${path}`, {
      method,
      headers: { ...(body !== undefined && { 'content-type': SCHEMA_REGISTRY_CONTENT_TYPE }), ...(authorization && { authorization }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: await res.json() as Record<string, unknown> & unknown[] };
  }

  const assertRefused = (r: Awaited<ReturnType<typeof call>>) => {
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm="schema-registry"/);
    assert.equal(r.body.error_code, 40101);
    assert.match(r.headers.get('content-type') ?? '', /application\/vnd\.schemaregistry\.v1\+json/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  };

  test('the reported attack: PUT /config NONE and an unrelated version of a live subject, without credentials → 401, nothing changed', async () => {
    assertRefused(await call('PUT', '/config', { compatibility: 'NONE' }));
    assertRefused(await call('PUT', `/config/${subject}`, { compatibility: 'NONE' }));
    assertRefused(await call('DELETE', `/config/${subject}`));
    assertRefused(await call('POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(unrelated) }));
    assertRefused(await call('POST', '/subjects/squatted-subject/versions', { schema: JSON.stringify(unrelated) }));
    // Wrong password, wrong user, another scheme: refused too.
    assertRefused(await call('PUT', '/config', { compatibility: 'NONE' }, basicAuthorization({ ...creds, password: 'guess' })));
    assertRefused(await call('PUT', '/config', { compatibility: 'NONE' }, basicAuthorization({ ...creds, username: 'admin' })));
    assertRefused(await call('PUT', '/config', { compatibility: 'NONE' }, `Bearer ${creds.password}`));

    assert.deepEqual((await call('GET', '/config')).body, { compatibilityLevel: 'BACKWARD_TRANSITIVE' });
    assert.deepEqual((await call('GET', `/subjects/${subject}/versions`)).body, [1]);
    assert.deepEqual((await call('GET', '/subjects')).body, [subject]);
  });

  test('with credentials the same writes work (and an incompatible version is still refused by compatibility, 409)', async () => {
    const auth = basicAuthorization(creds);
    assert.equal((await call('POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(unrelated) }, auth)).status, 409);
    assert.deepEqual((await call('PUT', '/config', { compatibility: 'FULL' }, auth)).body, { compatibility: 'FULL' });
    assert.deepEqual((await call('PUT', `/config/${subject}`, { compatibility: 'BACKWARD' }, auth)).body, { compatibility: 'BACKWARD' });
    assert.deepEqual((await call('DELETE', `/config/${subject}`, undefined, auth)).body, { compatibilityLevel: 'BACKWARD' });
    assert.deepEqual((await call('PUT', '/config', { compatibility: 'BACKWARD_TRANSITIVE' }, auth)).body, { compatibility: 'BACKWARD_TRANSITIVE' });
  });

  test('reads, lookup (POST /subjects/{s}) and compatibility tests stay open', async () => {
    assert.equal((await call('GET', `/subjects/${subject}/versions/latest`)).status, 200);
    assert.equal((await call('GET', '/schemas/ids/1')).status, 200);
    assert.equal((await call('POST', `/subjects/${subject}`, { schema: JSON.stringify(live) })).body.version, 1);
    assert.deepEqual((await call('POST', `/compatibility/subjects/${subject}/versions/latest`, { schema: JSON.stringify(unrelated) })).body, { is_compatible: false });
  });

  test('@kafkajs/confluent-schema-registry with `auth` registers; the codec adapter passes the credentials, and fails without them', async () => {
    const client = new ConfluentClient({ host, auth: creds, retry: { retries: 0 } });
    const other = { ...live, name: 'Pong' };
    const { id } = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(other) },
      { subject: 'pongs-io.test.Pong', compatibility: COMPATIBILITY.BACKWARD_TRANSITIVE });
    assert.equal(await client.getLatestSchemaId('pongs-io.test.Pong'), id);

    const ids = await createAvroEventCodec({ registry: createConfluentSchemaRegistryApi({ host, auth: creds }) }).registerAll();
    assert.ok(ids.size > 0);
    const before = (await call('GET', '/subjects')).body.length;
    const anon = createAvroEventCodec({ registry: createConfluentSchemaRegistryApi({ host }) });
    // Already-registered schemas are found, but the client's first call per subject is a write: refused.
    await assert.rejects(anon.registerAll(), (e: { status?: number }) => e.status === 401);
    assert.equal((await call('GET', '/subjects')).body.length, before);
  });
});

test('basicAuthMatches: exact credentials only', () => {
  assert.equal(basicAuthMatches(basicAuthorization(creds), creds), true);
  assert.equal(basicAuthMatches(basicAuthorization({ ...creds, password: `${creds.password} ` }), creds), false);
  assert.equal(basicAuthMatches(undefined, creds), false);
  assert.equal(basicAuthMatches('Basic !!!', creds), false);
  assert.equal(basicAuthMatches(`basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`, creds), true);
});
