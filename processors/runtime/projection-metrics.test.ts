/**
 * The projection metrics, scraped from the real registry text while the real video-detail
 * projection runs on an in-memory log through the projection runtime.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry, register } from 'prom-client';
import type { DomainEvent } from '../../domain/events.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { sampleSum, sampleValue, samplesOf } from '../../test/support/prometheus-text.ts';
import { appendEvents, createScriptedLog, duplicatingLog, within } from '../../projections/testing/projection-test-kit.ts';
import { createInMemoryKeyValueStore } from '../../projections/stores/in-memory-key-value-store.adapter.ts';
import { createVideoDetailProjection } from '../../projections/video-detail/video-detail.projection.ts';
import { runProjection } from './projection.runtime.ts';
import { projectionMetricsOn } from './projection-metrics.ts';
import type { LogRecord } from '../../platform/log/event-log.port.ts';
import type { ProjectionNode } from './topology.port.ts';

const codec = await sharedAvroTestCodec();
const T0 = Date.UTC(2026, 0, 10);
const GROUP = 'streamwave.projection.video-detail';
const ID = { projection: 'video-detail', instance: 'primary' };

const upload = (videoId: string): DomainEvent => ({
  type: 'UploadStarted', data: { videoId, ownerId: 'u1', uploadId: `up-${videoId}`, objectKey: `raw/${videoId}`, filename: 'a.mp4', sizeBytes: 10, contentType: 'video/mp4', title: `Video ${videoId}`, description: '', tags: [], partSizeBytes: 5 << 20, startedAt: T0 },
});
const view = (videoId: string, sessionId: string): DomainEvent => ({
  type: 'VideoViewed', data: { videoId, sessionId, viewerId: null, watchedSeconds: 30, positionSeconds: 30, videoDurationSeconds: 60, viewedAt: T0 },
});

/** The video-detail node whose `apply` waits while `held`, and throws while `failing`. */
function controllable(node: ProjectionNode) {
  let release: (() => void) | undefined;
  let held: Promise<void> | undefined;
  const ctl = {
    failing: false,
    hold() { held = new Promise<void>((r) => { release = r; }); },
    release() { release?.(); held = undefined; },
    node: {
      ...node,
      async apply(batch) {
        await held;
        if (ctl.failing) throw new Error('store unavailable');
        await node.apply(batch);
      },
    } satisfies ProjectionNode,
  };
  return ctl;
}

/** Polls `check` (bounded: a test must not hang), for states reached by a background consumer. */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  await within((async () => { while (!(await check())) await new Promise((r) => setTimeout(r, 5)); })(), 10_000, what);
}

describe('projection metrics', () => {
  test('events applied, batches and their durations, the consumer lag per group and partition, and consecutive failures, as the projection runs', async () => {
    const log = await createScriptedLog(2);
    const registry = new Registry();
    const ctl = controllable(createVideoDetailProjection({ store: createInMemoryKeyValueStore() }));
    await appendEvents(log, codec, [upload('v1'), upload('v2'), view('v1', 's1')]);
    const h = await runProjection(ctl.node, { log, codec, registry });
    try {
      await within(h.caughtUp(), 10_000, 'catch-up');
      let text = await registry.metrics();
      assert.equal(sampleValue(text, 'streamwave_projection_events_total', ID), 3);
      const ok = sampleValue(text, 'streamwave_projection_batches_total', { projection: 'video-detail', outcome: 'ok' }) ?? 0;
      assert.ok(ok >= 2, `ok batches: ${ok}`); // two topics at least (videos, views)
      assert.equal(sampleValue(text, 'streamwave_projection_batches_total', { projection: 'video-detail', outcome: 'error' }), undefined);
      assert.equal(sampleValue(text, 'streamwave_projection_batch_duration_seconds_count', { projection: 'video-detail' }), ok);
      // One end-to-end latency per record applied.
      assert.equal(sampleValue(text, 'streamwave_projection_record_e2e_latency_seconds_count', { projection: 'video-detail' }), 3);
      // One lag series per input partition (each input topic × 2 partitions), all caught up.
      const lag = samplesOf(text, 'streamwave_consumer_lag', { projection: 'video-detail', group: GROUP });
      assert.equal(lag.length, ctl.node.inputs.length * 2);
      assert.deepEqual(new Set(lag.map((s) => s.labels.topic)), new Set(ctl.node.inputs));
      assert.equal(sampleSum(text, 'streamwave_consumer_lag', { group: GROUP }), 0);
      assert.equal(sampleValue(text, 'streamwave_projection_failures', ID), 0);

      // Records appended while the projection is held are lag, not events.
      ctl.hold();
      await appendEvents(log, codec, [upload('v3'), view('v2', 's2')]);
      const fastBefore = sampleValue(text, 'streamwave_projection_record_e2e_latency_seconds_bucket', { projection: 'video-detail', le: '0.2' });
      text = await registry.metrics();
      assert.equal(sampleSum(text, 'streamwave_consumer_lag', { group: GROUP }), 2);
      assert.equal(sampleValue(text, 'streamwave_projection_events_total', ID), 3);
      // Held for 300 ms after their append, they cannot have reached the read model within 200 ms of it.
      await new Promise((r) => setTimeout(r, 300));
      ctl.release();
      await within(h.caughtUp(), 10_000, 'catch-up after release');
      text = await registry.metrics();
      assert.equal(sampleSum(text, 'streamwave_consumer_lag', { group: GROUP }), 0);
      assert.equal(sampleValue(text, 'streamwave_projection_events_total', ID), 5);
      assert.equal(sampleValue(text, 'streamwave_projection_record_e2e_latency_seconds_count', { projection: 'video-detail' }), 5);
      assert.equal(sampleValue(text, 'streamwave_projection_record_e2e_latency_seconds_bucket', { projection: 'video-detail', le: '0.2' }), fastBefore, 'the held records are slower than 0.2 s');

      // A failing store: error batches and consecutive failures grow, nothing is applied; then it recovers.
      ctl.failing = true;
      await appendEvents(log, codec, [upload('v4')]);
      await until(() => h.failures().consecutive >= 2, 'two failed batches');
      text = await registry.metrics();
      assert.ok((sampleValue(text, 'streamwave_projection_batches_total', { projection: 'video-detail', outcome: 'error' }) ?? 0) >= 2);
      assert.ok((sampleValue(text, 'streamwave_projection_failures', ID) ?? 0) >= 2);
      assert.equal(sampleValue(text, 'streamwave_projection_events_total', ID), 5);
      assert.equal(sampleSum(text, 'streamwave_consumer_lag', { group: GROUP }), 1);
      ctl.failing = false;
      await within(h.caughtUp(), 10_000, 'catch-up after the failures');
      await until(() => h.failures().consecutive === 0, 'failures reset');
      text = await registry.metrics();
      assert.equal(sampleValue(text, 'streamwave_projection_failures', ID), 0);
      assert.equal(sampleValue(text, 'streamwave_projection_events_total', ID), 6);
      assert.equal(sampleValue(text, 'streamwave_projection_record_e2e_latency_seconds_count', { projection: 'video-detail' }), 6, 'failed batches observe nothing');
    } finally {
      ctl.release();
      ctl.failing = false;
      await h.stop();
    }
    // A stopped instance leaves no series behind (replay swaps retire instances).
    const text = await registry.metrics();
    assert.equal(samplesOf(text, 'streamwave_consumer_lag').length, 0);
    assert.equal(samplesOf(text, 'streamwave_projection_failures').length, 0);
    assert.equal(samplesOf(text, 'streamwave_projection_events_total').length, 0);
    await ctl.node.close();
  });

  test('a redelivered batch counts as a batch but applies no event again', async () => {
    const log = await createScriptedLog(1);
    const registry = new Registry();
    const node = createVideoDetailProjection({ store: createInMemoryKeyValueStore() });
    await appendEvents(log, codec, [upload('v1'), upload('v2')]);
    // Every batch delivered twice, as after a lost offset commit.
    const h = await runProjection(node, { log: duplicatingLog(log), codec, registry });
    try {
      await within(h.caughtUp(), 10_000, 'catch-up');
      const text = await registry.metrics();
      assert.equal(sampleValue(text, 'streamwave_projection_events_total', ID), 2);
      const ok = sampleValue(text, 'streamwave_projection_batches_total', { projection: 'video-detail', outcome: 'ok' }) ?? 0;
      assert.ok(ok >= 2 && ok % 2 === 0, `ok batches: ${ok}`);
      assert.equal(sampleValue(text, 'streamwave_projection_record_e2e_latency_seconds_count', { projection: 'video-detail' }), 2, 'the redelivered records are not observed again');
    } finally {
      await h.stop();
      await node.close();
    }
  });

  test('the end-to-end latency of a batch\'s records: the applied ones (its tail), from their timestamps, none for a record without one', () => {
    const registry = new Registry();
    const metrics = projectionMetricsOn(registry);
    const now = T0 + 10_000;
    const rec = (offset: number, timestamp: number): LogRecord => ({ topic: 't', partition: 0, offset, key: null, value: null, headers: {}, timestamp });
    // Offset 0 is below the checkpoint (redelivered), offset 2 has no timestamp, offset 3 is stamped after `now` (another clock).
    metrics.observeApplied('p', [rec(0, now - 9_000), rec(1, now - 450), rec(2, 0), rec(3, now + 50)], 3, now);
    return registry.metrics().then((text) => {
      assert.equal(sampleValue(text, 'streamwave_projection_record_e2e_latency_seconds_count', { projection: 'p' }), 2);
      assert.equal(sampleValue(text, 'streamwave_projection_record_e2e_latency_seconds_sum', { projection: 'p' }), 0.45);
      assert.equal(sampleValue(text, 'streamwave_projection_record_e2e_latency_seconds_bucket', { projection: 'p', le: '0.4' }), 1, 'the one stamped later counts as 0');
      assert.equal(sampleValue(text, 'streamwave_projection_record_e2e_latency_seconds_bucket', { projection: 'p', le: '0.5' }), 2);
    });
  });

  test('without a registry nothing is recorded (not even on prom-client\'s global registry)', async () => {
    const log = await createScriptedLog(1);
    const node = createVideoDetailProjection({ store: createInMemoryKeyValueStore() });
    const h = await runProjection(node, { log, codec });
    await appendEvents(log, codec, [upload('v1')]);
    await within(h.caughtUp(), 10_000, 'catch-up');
    await h.stop();
    await node.close();
    assert.equal(register.getSingleMetric('streamwave_projection_events_total'), undefined);
    assert.equal(register.getSingleMetric('streamwave_consumer_lag'), undefined);
  });
});
