/**
 * The user-erasure processor's order of work (issue 13): the key is shredded first, then it waits
 * until video detail has read the videos topic to its end, then it lists and deletes the user's
 * videos as their owner; a video deleted meanwhile is skipped; anything but UserErased is ignored.
 * Real embedded key store and Avro codec; the command bus and the read model are recorded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command, CommandBus } from '../../commands/command-bus.port.ts';
import type { DomainEvent } from '../../domain/events.ts';
import { DomainError } from '../../domain/shared/event.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { buildUserErasure } from './user-erasure.processor.ts';

test('user erasure: shred the key, wait for video detail, then delete every video of the user as its owner', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sw-erasure-'));
  const keys = await createEmbeddedDataKeyStore({ dir });
  const codec = await sharedAvroTestCodec();
  const steps: string[] = [];
  const sent: Command[] = [];
  const bus = {
    async send(c: Command) {
      sent.push(c);
      steps.push(`delete ${(c.data as { videoId: string }).videoId}`);
      if ((c.data as { videoId: string }).videoId === 'v-gone') throw new DomainError('VIDEO_DELETED', 'deleted', 'not_found');
      return { events: [], positions: [] };
    },
  } as unknown as CommandBus;
  const node = buildUserErasure({
    codec, keys, commandBus: bus, now: () => 42,
    endOffsets: async (topic) => { steps.push(`end offsets of ${topic}`); return [3, 0, 5]; },
    videoDetailCovers: async (positions) => { steps.push(`covers ${positions.map((p) => `${p.partition}@${p.offset}`).join(',')}`); },
    videosOf: async (userId) => {
      steps.push(`key of ${userId} erased: ${await keys.isErased(userId)}`);
      return ['v1', 'v-gone', 'v2'];
    },
  });
  const record = async (e: DomainEvent, topic: string = TOPICS.users): Promise<LogRecord> => ({
    topic, partition: 0, offset: 0, key: 'k', value: await codec.encode(topic, e), headers: {}, timestamp: 1,
  });
  try {
    await keys.getOrCreate('u1');
    await node.handle(await record({ type: 'UserRegistered', data: { userId: 'u9', username: 'x', email: 'x@x', passwordHash: '$s', registeredAt: 1 } }));
    assert.deepEqual(steps, [], 'a registration is not an erasure');
    await node.handle(await record({ type: 'UserErased', data: { userId: 'u1', erasedAt: 2 } }));
    assert.deepEqual(steps, [`end offsets of ${TOPICS.videos}`, 'covers 0@2,2@4', 'key of u1 erased: true', 'delete v1', 'delete v-gone', 'delete v2']);
    assert.ok(sent.every((c) => c.type === 'DeleteVideo' && c.metadata.actorId === 'u1' && c.metadata.now === 42));
    await assert.rejects(keys.getOrCreate('u1'), { code: 'KEY_ERASED' });
    // Redelivered: runs again without harm.
    await node.handle(await record({ type: 'UserErased', data: { userId: 'u1', erasedAt: 2 } }));
  } finally {
    await keys.close();
    await rm(dir, { recursive: true, force: true });
  }
});
