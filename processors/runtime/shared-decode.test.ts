/** decodeShared (issue 12): one decode per record for all the projections of a process. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainEvent } from '../../domain/events.ts';
import { CodecError, type EventCodec } from '../../schemas/event-codec.port.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeShared, SHARED_TOPIC } from './shared-decode.ts';

/** A codec that decodes `{"type":…,"data":…}` JSON and counts its decodes; `fail` makes the next one throw. */
function countingCodec() {
  const c = {
    decodes: 0,
    fail: undefined as Error | undefined,
    encode: async (_topic: string, e: DomainEvent) => Buffer.from(JSON.stringify(e)),
    async decode(value: Buffer) {
      c.decodes++;
      if (c.fail) { const err = c.fail; c.fail = undefined; throw err; }
      return JSON.parse(value.toString()) as DomainEvent;
    },
  };
  return c;
}
const record = (value: Buffer, offset = 7) => ({ topic: 'streamwave.views', partition: 0, offset, key: 'v1', value, timestamp: 0 });
const viewed = (watchedSeconds: number) => Buffer.from(JSON.stringify({ type: 'VideoViewed', data: { videoId: 'v1', tags: ['a'], watchedSeconds } }));

test('given one record read by several consumers, when each decodes it, then the codec decodes it once and all get the same frozen event', async () => {
  const codec = countingCodec();
  const bytes = viewed(12);
  const events = await Promise.all([1, 2, 3].map(() => decodeShared(codec as unknown as EventCodec, record(Buffer.from(bytes)))));
  assert.equal(codec.decodes, 1);
  assert.ok(events.every((e) => e === events[0]));
  assert.ok(Object.isFrozen(events[0]) && Object.isFrozen(events[0]!.data) && Object.isFrozen((events[0]!.data as { tags: string[] }).tags));
  assert.throws(() => { (events[0]!.data as { watchedSeconds: number }).watchedSeconds = 1; }, TypeError, 'a node cannot change what the others see');
});

test('given the same position with other bytes (another log in the process), then it is decoded again; a failed decode is not kept', async () => {
  const codec = countingCodec();
  await decodeShared(codec as unknown as EventCodec, record(viewed(12), 9));
  const other = await decodeShared(codec as unknown as EventCodec, record(viewed(30), 9));
  assert.equal((other.data as { watchedSeconds: number }).watchedSeconds, 30);
  assert.equal(codec.decodes, 2);
  codec.fail = new CodecError('AVRO_DECODE', 'bad');
  await assert.rejects(decodeShared(codec as unknown as EventCodec, record(viewed(5), 10)), CodecError);
  const retried = await decodeShared(codec as unknown as EventCodec, record(viewed(5), 10));
  assert.equal((retried.data as { watchedSeconds: number }).watchedSeconds, 5, 'the retry decodes');
  assert.equal(codec.decodes, 4);
});

test('another codec never shares a decode', async () => {
  const a = countingCodec();
  const b = countingCodec();
  await decodeShared(a as unknown as EventCodec, record(viewed(1), 11));
  await decodeShared(b as unknown as EventCodec, record(viewed(1), 11));
  assert.deepEqual([a.decodes, b.decodes], [1, 1]);
});

test('only the views topic is shared, and its event carries no personal data (a shared decode would outlive an erasure)', async () => {
  const codec = countingCodec();
  const comment = { topic: 'streamwave.comments', partition: 0, offset: 1, value: Buffer.from(JSON.stringify({ type: 'CommentPosted', data: {} })) };
  const [a, b] = [await decodeShared(codec as unknown as EventCodec, comment), await decodeShared(codec as unknown as EventCodec, comment)];
  assert.equal(codec.decodes, 2);
  assert.notEqual(a, b);
  assert.equal(SHARED_TOPIC, 'streamwave.views');
  const schema = readFileSync(join(import.meta.dirname, '..', '..', 'schemas', 'view', 'VideoViewed.avsc'), 'utf8');
  assert.doesNotMatch(schema, /personal-data/, 'VideoViewed gained a personal-data field: stop sharing its decodes');
});
