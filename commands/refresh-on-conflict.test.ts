import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCommandBus, type CommandHandler } from './command-handler.ts';
import type { Command } from './command-bus.port.ts';
import { refreshPlanOf } from './refresh-on-conflict.ts';
import { routeCommand } from './routing.ts';
import { createInMemoryEventLog } from '../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { partitionForKey } from '../platform/log/partitioner.ts';
import type { EventLog } from '../platform/log/event-log.port.ts';
import { sharedAvroTestCodec } from '../test/support/avro-test-codec.ts';
import { TOPICS } from '../schemas/topics.ts';
import { DomainError } from '../domain/shared/event.ts';
import { OWNER, T0, videoCommands } from '../domain/video/video.fixtures.ts';

const codec = await sharedAvroTestCodec();
const partitionOf = (topic: string, key: string) => `${topic}:${partitionForKey(topic, key, 6)}`;

/** Two handlers on one log, as two processes: A (plain) and B (refresh-on-conflict), B's reads and appends counted. */
async function twoProcesses(bOptions: { refreshOnConflict?: boolean } = { refreshOnConflict: true }) {
  const log = createInMemoryEventLog();
  const reads = new Map<string, number>();
  let appends = 0;
  const logOfB: EventLog = {
    ...log,
    async read(topic, partition, from, max) {
      reads.set(`${topic}:${partition}`, (reads.get(`${topic}:${partition}`) ?? 0) + 1);
      return log.read(topic, partition, from, max);
    },
    async append(topic, records) { appends += 1; return log.append(topic, records); },
  };
  const b = createCommandBus({ log: logOfB, codec, ...bOptions });
  await b.start();
  const a = createCommandBus({ log, codec });
  await a.start();
  reads.clear();
  return { log, a, b, reads, appends: () => appends };
}

async function publish(bus: CommandHandler, videoId: string) {
  const c = videoCommands(videoId);
  for (const cmd of [c.startUpload(), c.completeUpload(), c.startProcessing(), c.renditionEncoded(), c.publish()]) await bus.send(cmd);
}

const refusedWith = (p: Promise<unknown>, code: string) =>
  assert.rejects(p, (e: unknown) => e instanceof DomainError && e.code === code);

const view = (videoId: string): Command => ({
  type: 'RecordView', data: { videoId, sessionId: 's', watchedSeconds: 2, positionSeconds: 2 }, metadata: { now: T0 + 30 },
});
const comment = (videoId: string, commentId: string, parentId?: string): Command => ({
  type: 'PostComment', data: { commentId, videoId, authorId: OWNER, parentId, body: 'hi' }, metadata: { now: T0 + 30 },
});

describe('refresh on conflict', () => {
  describe('given B started before A started an upload', () => {
    test('without the option, B refuses CompleteUpload: its state lags the log', async () => {
      const { a, b } = await twoProcesses({});
      await a.send(videoCommands('vid-1').startUpload());
      await refusedWith(b.send(videoCommands('vid-1').completeUpload()), 'VIDEO_NOT_FOUND');
    });

    test('with it, B\'s CompleteUpload succeeds after one refresh that reads the video\'s partition only', async () => {
      const { a, b, reads } = await twoProcesses();
      await a.send(videoCommands('vid-1').startUpload());
      const result = await b.send(videoCommands('vid-1').completeUpload());
      assert.deepEqual(result.events.map((e) => e.type), ['UploadCompleted']);
      assert.deepEqual([...reads], [[partitionOf(TOPICS.videos, 'vid-1'), 1]]);
      assert.equal(b.state('video', 'vid-1')?.status, 'uploaded');
      // A later command decides against the refreshed state without reading again.
      reads.clear();
      assert.equal((await b.send(videoCommands('vid-1').startProcessing())).events.length, 1);
      assert.equal(reads.size, 0);
    });

    test('a command that is invalid on fresh state is still refused, after one refresh', async () => {
      const { a, b, reads } = await twoProcesses();
      await a.send(videoCommands('vid-1').startUpload());
      await refusedWith(b.send(videoCommands('vid-1').completeUpload('another-upload')), 'UPLOAD_ID_MISMATCH');
      await refusedWith(b.send(videoCommands('vid-unknown').completeUpload()), 'VIDEO_NOT_FOUND');
      // vid-unknown's partition is empty (end offset 0): its refresh costs the offsets only, no read.
      assert.notEqual(partitionOf(TOPICS.videos, 'vid-unknown'), partitionOf(TOPICS.videos, 'vid-1'));
      assert.deepEqual([...reads], [[partitionOf(TOPICS.videos, 'vid-1'), 1]]);
    });
  });

  describe('given a video A published after B started', () => {
    test('B records a view (no lock of its own: the refresh runs under the video\'s key)', async () => {
      const { a, b, reads } = await twoProcesses();
      await publish(a, 'vid-2');
      assert.equal((await b.send(view('vid-2'))).events.length, 1);
      assert.deepEqual([...reads.keys()], [partitionOf(TOPICS.videos, 'vid-2')]);
    });

    test('B posts a reply to a comment A posted: the video and the thread are both reloaded', async () => {
      const { a, b, reads } = await twoProcesses();
      await publish(a, 'vid-3');
      await a.send(comment('vid-3', 'c1'));
      assert.equal((await b.send(comment('vid-3', 'c2', 'c1'))).events.length, 1);
      assert.deepEqual([...reads.keys()].sort(), [partitionOf(TOPICS.videos, 'vid-3'), partitionOf(TOPICS.comments, 'vid-3')].sort());
      await refusedWith(b.send(comment('vid-3', 'c3', 'no-such-comment')), 'PARENT_COMMENT_NOT_FOUND');
    });
  });

  test('refusals queued on one key share one reload', async () => {
    const { a, b, reads, log } = await twoProcesses();
    await a.send(videoCommands('vid-4').startUpload());
    const results = await Promise.all(Array.from({ length: 5 }, () => b.send(videoCommands('vid-4').completeUpload())));
    assert.equal(results.filter((r) => r.events.length === 1).length, 1);
    assert.equal(log.records(TOPICS.videos).length, 2);
    assert.deepEqual([...reads], [[partitionOf(TOPICS.videos, 'vid-4'), 1]]);
  });

  test('malformed commands and log errors are not retried', async () => {
    const { b, reads, appends } = await twoProcesses();
    await refusedWith(b.send({ type: 'Nope', data: {}, metadata: { now: 1 } } as unknown as Command), 'INVALID_COMMAND');
    assert.equal(reads.size, 0);

    const log = createInMemoryEventLog();
    let calls = 0;
    const failing: EventLog = { ...log, async append() { calls += 1; throw new Error('broker unavailable'); } };
    const bus = createCommandBus({ log: failing, codec, refreshOnConflict: true });
    await bus.start();
    await assert.rejects(bus.send(videoCommands('vid-5').startUpload()), /broker unavailable/);
    assert.equal(calls, 1);
    assert.equal(appends(), 0);
  });

  test('the refresh plan: the streams a command is decided against, under the key that protects them', () => {
    assert.deepEqual(refreshPlanOf(routeCommand(videoCommands('v').delete())), { streams: [{ kind: 'video', id: 'v' }], lock: 'video:v' });
    assert.deepEqual(refreshPlanOf(routeCommand(comment('v', 'c'))), {
      streams: [{ kind: 'comment', id: 'v' }, { kind: 'video', id: 'v' }], lock: 'video:v',
    });
    assert.deepEqual(refreshPlanOf(routeCommand(view('v'))), { streams: [{ kind: 'video', id: 'v' }], lock: 'video:v' });
  });
});
