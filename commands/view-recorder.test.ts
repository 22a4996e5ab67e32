/**
 * The view recorder's metrics (view-recorder.ts, docs/metrics.md) over the in-memory log: each
 * successful append counts once, with the heartbeats it carried; a refused heartbeat counts nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { historyUpTo, T0 } from '../domain/video/video.fixtures.ts';
import { createInMemoryEventLog } from '../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { ensureEventTopics, TOPIC_OF, TOPICS } from '../schemas/topics.ts';
import { sharedAvroTestCodec } from '../test/support/avro-test-codec.ts';
import { createViewRecorder } from './view-recorder.ts';

test('given a ready video, when heartbeats are recorded, then appends_total and sends_total count them by topic; a refused one counts nothing', async () => {
  const log = createInMemoryEventLog();
  await ensureEventTopics(log, { partitions: 2 });
  const codec = await sharedAvroTestCodec();
  for (const e of historyUpTo('v1', 'ready')) await log.append(TOPIC_OF[e.type], [{ key: 'v1', value: await codec.encode(TOPIC_OF[e.type], e), timestamp: T0 }]);
  const registry = new Registry();
  const views = createViewRecorder({ log, codec, registry, followIntervalMs: 60_000 });
  await views.start();
  try {
    const heartbeat = (videoId: string, sessionId: string) => views.send({ type: 'RecordView', data: { videoId, sessionId, watchedSeconds: 10, positionSeconds: 10 }, metadata: { now: T0 + 60_000 } });
    await Promise.all(['s1', 's2', 's3'].map((s) => heartbeat('v1', s)));
    await assert.rejects(heartbeat('made-up', 's4'), { code: 'VIDEO_NOT_FOUND' });
    const value = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.topic === TOPICS.views)?.value;
    const [appends, sends] = [await value('streamwave_view_recorder_appends_total'), await value('streamwave_view_recorder_sends_total')];
    assert.equal(sends, 3, 'the three accepted heartbeats');
    assert.ok(appends !== undefined && appends >= 1 && appends <= 3, `appends ${appends}`);
    assert.equal(log.records(TOPICS.views).length, 3);
  } finally {
    await views.stop();
  }
});
