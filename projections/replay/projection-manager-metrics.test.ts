/**
 * The projection manager with a metrics registry: the live instance's series, then a replay's
 * shadow under its own instance and consumer group, and after the swap only the new instance's.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import type { DomainEvent } from '../../domain/events.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { sampleSum, sampleValue, samplesOf } from '../../test/support/prometheus-text.ts';
import { createFileCurrentInstanceStore, embeddedReadModels } from '../../deploy/shared/embedded-read-models.ts';
import { appendEvents, createScriptedLog, within } from '../testing/projection-test-kit.ts';
import { createProjectionManager } from './projection-manager.ts';
import { createVideoDetailProjection } from '../video-detail/video-detail.projection.ts';
import { createInMemoryKeyValueStore } from '../stores/in-memory-key-value-store.adapter.ts';

const codec = await sharedAvroTestCodec();
const root = await mkdtemp(join(tmpdir(), 'sw-replay-metrics-'));
after(() => rm(root, { recursive: true, force: true }));
const T0 = Date.UTC(2026, 0, 10);
/** Consumer-lag series of one video-detail instance: one per partition (2) of each input topic. */
const LAG_SERIES = 2 * createVideoDetailProjection({ store: createInMemoryKeyValueStore() }).inputs.length;
const upload = (videoId: string): DomainEvent => ({
  type: 'UploadStarted', data: { videoId, ownerId: 'u1', uploadId: `up-${videoId}`, objectKey: `raw/${videoId}`, filename: 'a.mp4', sizeBytes: 10, contentType: 'video/mp4', title: `Video ${videoId}`, description: '', tags: [], partSizeBytes: 5 << 20, startedAt: T0 },
});

test('projection manager metrics follow the current instance: primary, then the replay shadow that replaced it', async () => {
  const log = await createScriptedLog();
  await appendEvents(log, codec, [upload('v1'), upload('v2'), upload('v3')]);
  const registry = new Registry();
  const slots = embeddedReadModels({ dataDir: root, searchCursorSecret: 's' });
  const manager = createProjectionManager({
    log, codec, projections: { 'video-detail': slots['video-detail'] }, pointers: createFileCurrentInstanceStore(root), progressIntervalMs: 20, registry,
  });
  await manager.start();
  try {
    const vd = manager.get('video-detail');
    await within(vd.handle.caughtUp(), 30_000, 'live catch-up');
    let text = await registry.metrics();
    assert.equal(sampleValue(text, 'streamwave_projection_events_total', { projection: 'video-detail', instance: 'primary' }), 3);
    assert.equal(samplesOf(text, 'streamwave_consumer_lag', { group: 'streamwave.projection.video-detail' }).length, LAG_SERIES);
    assert.equal(sampleValue(text, 'streamwave_projection_failures', { projection: 'video-detail', instance: 'primary' }), 0);

    const final = await within(manager.replay('video-detail', { fromBeginning: true }), 30_000, 'replay');
    assert.equal(final.status, 'swapped');
    text = await registry.metrics();
    // The shadow applied the whole log again under its own instance; the retired instance's series are gone.
    assert.equal(sampleValue(text, 'streamwave_projection_events_total', { projection: 'video-detail', instance: final.instanceId }), 3);
    assert.equal(samplesOf(text, 'streamwave_projection_events_total', { instance: 'primary' }).length, 0);
    assert.equal(samplesOf(text, 'streamwave_consumer_lag', { group: 'streamwave.projection.video-detail' }).length, 0);
    assert.equal(samplesOf(text, 'streamwave_consumer_lag', { projection: 'video-detail', group: final.groupId }).length, LAG_SERIES);
    assert.deepEqual(samplesOf(text, 'streamwave_projection_failures').map((s) => s.labels.instance), [final.instanceId]);

    await appendEvents(log, codec, [upload('v4')]);
    await within(vd.handle.caughtUp(), 30_000, 'catch-up after the swap');
    text = await registry.metrics();
    assert.equal(sampleValue(text, 'streamwave_projection_events_total', { projection: 'video-detail', instance: final.instanceId }), 4);
    assert.equal(sampleSum(text, 'streamwave_consumer_lag', { group: final.groupId }), 0);
  } finally {
    await manager.close();
  }
  assert.equal(samplesOf(await registry.metrics(), 'streamwave_consumer_lag').length, 0, 'a closed manager leaves no lag series');
});
