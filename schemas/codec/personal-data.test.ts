/**
 * Issue 13, crypto-shredding: the fields the schemas mark `personal-data` never reach the log in
 * plaintext, come back on decode while the subject's key exists, and read as `[erased]` once it is
 * gone, in both the event and the command codec.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainEvent } from '../../domain/events.ts';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import { createSchemaRegistry } from '../registry/schema-registry.ts';
import { TOPIC_OF } from '../topics.ts';
import { createAvroCommandCodec } from './avro-command-codec.ts';
import { createAvroEventCodec } from './avro-event-codec.ts';
import { loadEventSchemas } from './event-schemas.ts';
import { createPersonalDataCipher, ERASED_PLACEHOLDER, personalFieldsOf } from './personal-data.ts';
import { createInProcessSchemaRegistryApi } from './schema-registry-api.ts';

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'sw-pd-'));
  const keys = await createEmbeddedDataKeyStore({ dir: join(dir, 'keys') });
  const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
  await registry.start();
  const api = createInProcessSchemaRegistryApi(registry);
  const personalData = createPersonalDataCipher(keys);
  return {
    keys,
    api,
    events: createAvroEventCodec({ registry: api, personalData }),
    plainEvents: createAvroEventCodec({ registry: api }),
    commands: createAvroCommandCodec({ registry: api, personalData }),
    async close() { await keys.close(); await registry.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}

const user = (userId: string, username: string): DomainEvent => ({
  type: 'UserRegistered',
  data: { userId, username, email: `${username}@example.org`, passwordHash: `$scrypt$ln=15,r=8,p=1$${username}salt$hash`, registeredAt: 1_700_000_000_000 },
});
const comment = (authorId: string, body: string): DomainEvent => ({
  type: 'CommentPosted',
  data: { commentId: 'cmt_1', videoId: 'vid_1', authorId, parentId: null, body, postedAt: 1_700_000_000_001 },
});
const contains = (bytes: Buffer, text: string) => bytes.includes(Buffer.from(text, 'utf8'));

describe('personal data in the codecs (crypto-shredding)', () => {
  test('the schemas mark the personal fields of users and comments, with their subject', () => {
    const schemas = loadEventSchemas();
    const marks = (type: 'UserRegistered' | 'CommentPosted') => personalFieldsOf(JSON.parse(schemas.get(type)!.schemaText));
    assert.deepEqual(marks('UserRegistered').map((m) => `${m.field}<-${m.subject}`), ['username<-userId', 'email<-userId', 'passwordHash<-userId']);
    assert.deepEqual(marks('CommentPosted').map((m) => `${m.field}<-${m.subject}`), ['body<-authorId']);
    // The registered text keeps the marking, so registry tooling sees it too.
    assert.match(schemas.get('CommentPosted')!.schemaText, /"logicalType":"personal-data","subject":"authorId"/);
  });

  test('a mark must be over a string and name a non-personal sibling field', () => {
    const pd = (over: unknown, subject = 'id') => ({ type: over, logicalType: 'personal-data', subject });
    const rec = (t: unknown) => ({ type: 'record', name: 'R', fields: [{ name: 'id', type: 'string' }, { name: 'x', type: t }] });
    assert.throws(() => personalFieldsOf(rec(pd('long'))), /must annotate a string/);
    assert.throws(() => personalFieldsOf(rec(pd('string', 'nope'))), /needs "subject"/);
    assert.throws(() => personalFieldsOf(rec(pd('string', 'x'))), /personal itself|needs "subject"/);
    assert.deepEqual(personalFieldsOf(rec(['null', pd('string')])), [{ field: 'x', subject: 'id', shape: 'string', nullable: true }]);
    assert.deepEqual(personalFieldsOf(rec({ type: 'array', items: pd('string') })), [{ field: 'x', subject: 'id', shape: 'array', nullable: false }]);
    assert.deepEqual(personalFieldsOf(rec(['null', { type: 'array', items: pd('string') }])), [{ field: 'x', subject: 'id', shape: 'array', nullable: true }]);
    const nested = { type: 'record', name: 'C', fields: [{ name: 'envelope', type: { type: 'record', name: 'E', fields: [{ name: 'actorId', type: 'string' }] } }, { name: 'x', type: pd('string', 'envelope.actorId') }] };
    assert.deepEqual(personalFieldsOf(nested), [{ field: 'x', subject: 'envelope.actorId', shape: 'string', nullable: false }]);
    assert.throws(() => personalFieldsOf({ ...nested, fields: [nested.fields[0], { name: 'x', type: pd('string', 'envelope.nope') }] }), /needs "subject"/);
  });

  test('events: no plaintext on the wire, plaintext back on decode, [erased] once the key is erased', async () => {
    const s = await setup();
    try {
      const ada = user('usr_ada', 'ada_lovelace');
      const bob = user('usr_bob', 'bob_builder');
      const said = comment('usr_ada', 'Meet me at 10 Downing Street');
      const [wa, wb, wc] = [await s.events.encode(TOPIC_OF.UserRegistered, ada), await s.events.encode(TOPIC_OF.UserRegistered, bob), await s.events.encode(TOPIC_OF.CommentPosted, said)];
      for (const text of ['ada_lovelace', 'ada_lovelace@example.org', 'ada_lovelacesalt']) assert.ok(!contains(wa, text), text);
      assert.ok(!contains(wc, 'Downing'));
      assert.ok(contains(wa, 'usr_ada'), 'ids stay readable: they key partitions and link records');
      assert.deepEqual(await s.events.decode(wa), ada);
      assert.deepEqual(await s.events.decode(wc), said);
      // Two encodings of one value differ (random IV): equal plaintexts cannot be matched on the log.
      assert.ok(!wa.equals(await s.events.encode(TOPIC_OF.UserRegistered, ada)));

      await s.keys.erase('usr_ada');
      const gone = await s.events.decode(wa);
      assert.equal(gone.type, 'UserRegistered');
      assert.deepEqual(gone.data, { ...ada.data, username: ERASED_PLACEHOLDER, email: ERASED_PLACEHOLDER, passwordHash: ERASED_PLACEHOLDER });
      assert.equal(((await s.events.decode(wc)).data as { body: string }).body, ERASED_PLACEHOLDER);
      assert.deepEqual(await s.events.decode(wb), bob, 'another user is untouched');
      await assert.rejects(s.events.encode(TOPIC_OF.CommentPosted, comment('usr_ada', 'late')), { code: 'KEY_ERASED' });
    } finally {
      await s.close();
    }
  });

  test('a codec on another key store refuses to decode rather than show [erased]', async () => {
    const s = await setup();
    const otherDir = mkdtempSync(join(tmpdir(), 'sw-pd-other-'));
    const other = await createEmbeddedDataKeyStore({ dir: otherDir });
    try {
      const wire = await s.events.encode(TOPIC_OF.UserRegistered, user('usr_gus', 'gus'));
      // The same schema ids: decode through the first registry, only the key store differs.
      const foreign = createAvroEventCodec({ registry: s.api, personalData: createPersonalDataCipher(other) });
      await assert.rejects(foreign.decode(wire), { code: 'KEY_STORE_IO' });
    } finally {
      await other.close();
      rmSync(otherDir, { recursive: true, force: true });
      await s.close();
    }
  });

  test('plaintext written before issue 13 still decodes; a body that looks encrypted is encrypted too', async () => {
    const s = await setup();
    try {
      const old = await s.plainEvents.encode(TOPIC_OF.CommentPosted, comment('usr_carol', 'written in 2025'));
      assert.ok(contains(old, 'written in 2025'));
      assert.equal(((await s.events.decode(old)).data as { body: string }).body, 'written in 2025');
      const tricky = comment('usr_carol', 'pd1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
      const wire = await s.events.encode(TOPIC_OF.CommentPosted, tricky);
      assert.ok(!contains(wire, 'pd1.AAAAAAAA'));
      assert.deepEqual(await s.events.decode(wire), tricky);
    } finally {
      await s.close();
    }
  });

  test('commands: RegisterUser and PostComment carry no plaintext on the commands topic', async () => {
    const s = await setup();
    try {
      const register = await s.commands.encode({
        command: { type: 'RegisterUser', data: { userId: 'usr_dan', username: 'dan_the_man', email: 'dan@example.org', passwordHash: '$scrypt$dan' }, metadata: { now: 1 } },
        commandId: 'c1', replyTo: null,
      });
      for (const text of ['dan_the_man', 'dan@example.org', '$scrypt$dan']) assert.ok(!contains(register, text), text);
      const post = await s.commands.encode({
        command: { type: 'PostComment', data: { commentId: 'cmt_9', videoId: 'vid_9', authorId: 'usr_dan', body: 'my phone is 555-0199' }, metadata: { now: 2, actorId: 'usr_dan' } },
        commandId: 'c2', replyTo: 'gw-1',
      });
      assert.ok(!contains(post, '555-0199'));
      const back = await s.commands.decode(post);
      assert.equal((back.command.data as { body: string }).body, 'my phone is 555-0199');
    } finally {
      await s.close();
    }
  });
});
