import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventLog } from './event-log.port.ts';
import { createInMemoryEventLog } from './in-memory/in-memory-event-log.adapter.ts';
import { createEmbeddedEventLog } from './embedded/embedded-event-log.adapter.ts';
import { describeLog, formatLogOverview } from './log-overview.ts';

const root = await mkdtemp(join(tmpdir(), 'sw-overview-'));
after(() => rm(root, { recursive: true, force: true }));

async function scenario(log: EventLog) {
  await log.createTopic({ name: 'b.events', partitions: 2 });
  await log.createTopic({ name: 'a.schemas', partitions: 1, compacted: true });
  await log.append('b.events', [
    { key: null, value: Buffer.from('1'), partition: 0 },
    { key: null, value: Buffer.from('2'), partition: 0 },
    { key: null, value: Buffer.from('3'), partition: 1 },
  ]);
  await log.commitOffsets('g2', new Map([['b.events:0', 1], ['b.events:1', 1]]));
  await log.commitOffsets('g1', new Map([['b.events:0', 2], ['gone.topic:0', 7]]));
  const o = await describeLog(log);
  assert.deepEqual(await log.listGroups(), ['g1', 'g2']);
  assert.deepEqual(o.topics.map((t) => [t.name, t.partitions, t.compacted, t.endOffsets, t.records]), [
    ['a.schemas', 1, true, [0], 0],
    ['b.events', 2, false, [2, 1], 3],
  ]);
  assert.deepEqual(o.groups.map((g) => [g.groupId, g.lag, g.partitions.map((p) => [p.topic, p.partition, p.committed, p.end, p.lag])]), [
    ['g1', 0, [['b.events', 0, 2, 2, 0]]],
    ['g2', 1, [['b.events', 0, 1, 2, 1], ['b.events', 1, 1, 1, 0]]],
  ]);
  const text = formatLogOverview(o);
  assert.match(text, /^TOPIC\s+PARTITIONS/m);
  assert.match(text, /^g2\s+b\.events\s+1\s+0:1 1:0$/m);
}

test('describeLog on the in-memory log: topics, end offsets and lag per group', async () => {
  await scenario(createInMemoryEventLog());
});

test('describeLog on the embedded log (listGroups survives a reopen)', async () => {
  const log = await createEmbeddedEventLog({ dataDir: root, fsync: false });
  try {
    await scenario(log);
  } finally {
    await log.close();
  }
  const reopened = await createEmbeddedEventLog({ dataDir: root, fsync: false });
  try {
    assert.deepEqual(await reopened.listGroups(), ['g1', 'g2']);
  } finally {
    await reopened.close();
  }
});
