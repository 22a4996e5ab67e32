import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainEvent } from '../../../domain/events.ts';
import type { LogRecord } from '../../../platform/log/event-log.port.ts';
import { sharedAvroTestCodec } from '../../../test/support/avro-test-codec.ts';
import { TOPICS } from '../../../schemas/topics.ts';
import { DLQ_HEADERS } from '../processor.runtime.ts';
import { processorNode, type ProjectionBatch, type ProjectionNode } from '../topology.port.ts';
import { createTopologyTestDriver } from './topology-test-driver.ts';

const codec = await sharedAvroTestCodec();
const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const upload = (videoId: string, title: string): DomainEvent => ({
  type: 'UploadStarted',
  data: { videoId, ownerId: 'o', uploadId: `up-${videoId}`, objectKey: `raw/${videoId}`, filename: 'a.mp4', sizeBytes: 1, contentType: 'video/mp4', title, description: '', tags: [], partSizeBytes: 1, startedAt: T0 },
});

/** A projection node keeping the titles it saw, with its checkpoint, in memory. */
function titles(): ProjectionNode<{ all(): string[] }> & { batches: ProjectionBatch[] } {
  const seen: string[] = [];
  const checkpoint = new Map<string, number>();
  const batches: ProjectionBatch[] = [];
  return {
    kind: 'projection', name: 'titles', inputs: [TOPICS.videos], guarantee: 'effectively-once', output: 'memory',
    queries: { all: () => [...seen] },
    batches,
    async loadCheckpoint() { return new Map(checkpoint); },
    async apply(batch) {
      batches.push(batch);
      for (const { event } of batch.records) if (event?.type === 'UploadStarted') seen.push(event.data.title);
      for (const [k, v] of batch.checkpoint) checkpoint.set(k, v);
    },
    async close() {},
  };
}

describe('topology test driver', () => {
  test('delivers nothing until process(), then every record once, in offset order per partition', async () => {
    const node = titles();
    const driver = await createTopologyTestDriver({ nodes: [node], codec, partitions: 1 });
    await driver.pipe([upload('v1', 'one'), upload('v2', 'two')]);
    assert.deepEqual(node.queries.all(), []);
    await driver.process();
    assert.deepEqual(node.queries.all(), ['one', 'two']);
    await driver.process();
    assert.deepEqual(node.queries.all(), ['one', 'two'], 'a second process() has nothing to deliver');
  });

  test('a redelivered batch is dropped before apply: the step skips what the checkpoint covers', async () => {
    const node = titles();
    const driver = await createTopologyTestDriver({ nodes: [node], codec, partitions: 1, redeliver: true });
    await driver.pipe([upload('v1', 'one')]);
    await driver.process();
    assert.deepEqual(node.queries.all(), ['one']);
    assert.equal(node.batches.length, 1, 'the redelivered copy was dropped before apply');
  });

  test('a processor retries a failing record without waiting, dead-letters it with headers, and the partition flows on', async () => {
    const handled: string[] = [];
    const deadLettered: string[] = [];
    let attempts = 0;
    const proc = processorNode({
      name: 'picky', inputs: [TOPICS.videos], retry: { retries: 3, minTimeoutMs: 60_000, maxTimeoutMs: 60_000 },
      async handle(r: LogRecord) {
        const e = await codec.decode(r.value!);
        if (e.type === 'UploadStarted' && e.data.title === 'poison') { attempts++; throw Object.assign(new Error('refused'), { code: 'POISON' }); }
        if (e.type === 'UploadStarted') handled.push(e.data.title);
      },
      async onDeadLetter(r) { deadLettered.push(String(r.offset)); },
    });
    const driver = await createTopologyTestDriver({ nodes: [proc], codec, partitions: 1 });
    await driver.pipe([upload('a', 'first'), upload('b', 'poison'), upload('c', 'last')]);
    await driver.process();
    assert.deepEqual(handled, ['first', 'last']);
    assert.equal(attempts, 4, 'the first attempt and 3 retries');
    assert.deepEqual(deadLettered, ['1']);
    const [dlq] = driver.log.records(`${TOPICS.videos}.picky.dlq`);
    assert.equal(dlq.headers[DLQ_HEADERS.errorCode], 'POISON');
    assert.equal(dlq.headers[DLQ_HEADERS.offset], '1');
  });

  test('records a processor appends are delivered to the other nodes in the same process()', async () => {
    const node = titles();
    const echo = processorNode({
      name: 'echo', inputs: [TOPICS.comments],
      async handle(r) {
        const e = await codec.decode(r.value!);
        if (e.type === 'CommentPosted') await driver.pipe([upload(`from-${e.data.commentId}`, e.data.body)]);
      },
    });
    const driver = await createTopologyTestDriver({ nodes: [echo, node], codec });
    await driver.pipe([{ type: 'CommentPosted', data: { commentId: 'c1', videoId: 'v', authorId: 'u', parentId: null, body: 'echoed', postedAt: T0 } }]);
    await driver.process();
    assert.deepEqual(node.queries.all(), ['echoed']);
  });
});
