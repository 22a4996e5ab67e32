/** The gateway's query-only read models in cluster mode: follow the current-instance pointer, read-your-writes by the stored checkpoint. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { READ_MODELS, type ReadModelName } from '../../projections/read-model.port.ts';
import type { CurrentInstance, CurrentInstanceStore, ReplayableProjection } from '../../projections/replay/replay.port.ts';
import type { ProjectionNode } from '../../processors/runtime/topology.port.ts';
import { openReadModelReader, type ReadModelReaderOptions } from './read-model-reader.ts';
import { checkpointCovers } from '../../processors/runtime/projection.runtime.ts';

/** A fake read model per name whose queries say which instance answered, with a settable stored checkpoint. */
function fakes() {
  const checkpoints = new Map<string, Map<string, number>>();
  const closed: string[] = [];
  const projection = (name: string): ReplayableProjection<unknown> => ({
    name,
    async open(instanceId) {
      const id = `${name}/${instanceId}`;
      checkpoints.set(id, checkpoints.get(id) ?? new Map());
      const node: ProjectionNode<unknown> = {
        kind: 'projection', name, inputs: ['t', 'streamwave.comments'], guarantee: 'effectively-once', output: 'fake',
        queries: { whoAnswers: async () => id },
        loadCheckpoint: async () => new Map(checkpoints.get(id)!),
        apply: async () => {},
        close: async () => { closed.push(id); },
      };
      return node;
    },
    async destroy() {},
  });
  const pointers = new Map<string, CurrentInstance>();
  const store: CurrentInstanceStore = { load: async (n) => pointers.get(n), save: async (n, c) => { pointers.set(n, c); } };
  const projections = Object.fromEntries(READ_MODELS.map((n) => [n, projection(n)])) as unknown as ReadModelReaderOptions['projections'];
  return { checkpoints, closed, pointers: store, projections };
}

const ask = (readModels: unknown, name: ReadModelName) => (readModels as Record<string, { whoAnswers(): Promise<string> }>)[name]!.whoAnswers();

test('checkpointCovers: every position strictly below the next offset of its partition', () => {
  const cp = new Map([['t:0', 5], ['t:1', 1]]);
  const inputs = new Set(['t']);
  assert.equal(checkpointCovers(cp, [{ topic: 't', partition: 0, offset: 4 }], inputs), true);
  assert.equal(checkpointCovers(cp, [{ topic: 't', partition: 0, offset: 5 }], inputs), false);
  assert.equal(checkpointCovers(cp, [{ topic: 't', partition: 0, offset: 0 }, { topic: 't', partition: 2, offset: 0 }], inputs), false);
  assert.equal(checkpointCovers(cp, [], inputs), true);
});

test('queries follow the pointer: primary first, the replay instance after a swap, the old instance closed', async () => {
  const f = fakes();
  const reader = await openReadModelReader({ projections: f.projections, pointers: f.pointers, pointerPollMs: 20, logger: pino({ level: 'silent' }) });
  try {
    assert.equal(await ask(reader.readModels, 'comments'), 'comments/primary');
    await f.pointers.save('comments', { instanceId: 'replay-1', groupId: 'g', since: 1 });
    while ((await ask(reader.readModels, 'comments')) !== 'comments/replay-1') await new Promise((r) => setTimeout(r, 10));
    assert.equal(reader.instances().comments, 'replay-1');
    assert.equal(await ask(reader.readModels, 'video-detail'), 'video-detail/primary', 'other read models stay');
  } finally { await reader.close(); }
  assert.ok(f.closed.includes('comments/replay-1') && f.closed.includes('video-detail/primary'), 'close() closes what it opened');
});

test('read-your-writes resolves once the checkpoint stored with the read model passes the write', async () => {
  const f = fakes();
  const reader = await openReadModelReader({ projections: f.projections, pointers: f.pointers, checkpointPollMs: 5, readYourWritesTimeoutMs: 60_000, logger: pino({ level: 'silent' }) });
  try {
    let done = false;
    const waiting = reader.readYourWrites('comments', [{ topic: 'streamwave.comments', partition: 2, offset: 7 }]).then(() => { done = true; });
    f.checkpoints.get('comments/primary')!.set('streamwave.comments:2', 7);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(done, false, 'offset 7 is not covered by next offset 7');
    f.checkpoints.get('comments/primary')!.set('streamwave.comments:2', 8);
    await waiting;
    assert.equal(done, true);
  } finally { await reader.close(); }
});

test('read-your-writes answers anyway after its timeout (the write is durable; the read model lags)', async () => {
  const f = fakes();
  const reader = await openReadModelReader({ projections: f.projections, pointers: f.pointers, checkpointPollMs: 5, readYourWritesTimeoutMs: 30, logger: pino({ level: 'silent' }) });
  try {
    await reader.readYourWrites('comments', [{ topic: 'streamwave.comments', partition: 0, offset: 1_000 }]);
  } finally { await reader.close(); }
});

test('a hot video: concurrent getVideo calls share one read, reused for hotCacheMs; a write through this gateway clears it', async () => {
  const f = fakes();
  let reads = 0;
  const projections = { ...f.projections };
  const vd = projections['video-detail'];
  projections['video-detail'] = {
    ...vd,
    async open(id) {
      const node = await vd.open(id);
      return { ...node, queries: { getVideo: async (v: string) => { reads++; return { id: v, reads } as never; } } as never };
    },
  };
  const reader = await openReadModelReader({ projections, pointers: f.pointers, hotCacheMs: 60_000, checkpointPollMs: 5, logger: pino({ level: 'silent' }) });
  try {
    const answers = await Promise.all(Array.from({ length: 50 }, () => reader.readModels['video-detail'].getVideo('vid_1')));
    assert.equal(reads, 1, '50 concurrent requests, one read');
    assert.ok(answers.every((a) => a === answers[0]));
    await reader.readModels['video-detail'].getVideo('vid_1');
    assert.equal(reads, 1, 'reused within the period');
    await reader.readModels['video-detail'].getVideo('vid_2');
    assert.equal(reads, 2, 'another id is another read');
    await reader.readYourWrites('video-detail', []);
    await reader.readModels['video-detail'].getVideo('vid_1');
    assert.equal(reads, 3, 'read again after a write through this gateway');
  } finally { await reader.close(); }
});

test('read-your-writes is not held up by writes on topics the read model does not consume', async () => {
  const f = fakes();
  const reader = await openReadModelReader({ projections: f.projections, pointers: f.pointers, checkpointPollMs: 5, readYourWritesTimeoutMs: 600_000, logger: pino({ level: 'silent' }) });
  try {
    await reader.readYourWrites('comments', [{ topic: 'streamwave.users', partition: 0, offset: 99 }]);
  } finally { await reader.close(); }
});
