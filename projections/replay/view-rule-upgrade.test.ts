/**
 * Issue 8, view rule v2: "the switch is applied by replay into a shadow and swap". A data
 * directory whose video-detail and analytics read models were built by the previous StreamWave
 * (view rule v1: it did not know `sessionStartedAt`, so even heartbeats carrying it were counted
 * uncapped; no content version in its pointers; the analytics table without the
 * session_started_at column) is started with the current code: both read models keep serving their
 * old numbers while shadows are rebuilt from the log, then the shadows are swapped in and every
 * video answers what the rule's tables of cases say (v1 cases stay v1, v2 cases are capped) — the
 * oracle is domain/view/view-rule.cases.ts, not production's fold. A restart rebuilds nothing more,
 * and a fresh data directory is never rebuilt.
 * JSON codec: `sessionStartedAt` joins the Avro schema with the playback-session change (issue 8).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import type { DomainEvent, VideoViewed } from '../../domain/events.ts';
import { ALL_VIEW_RULE_CASES, caseHeartbeats } from '../../domain/view/view-rule.cases.ts';
import { createFileCurrentInstanceStore, embeddedReadModels } from '../../deploy/shared/embedded-read-models.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { runProjection } from '../../processors/runtime/projection.runtime.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { createJsonEventCodec } from '../../test/support/json-event-codec.ts';
import { appendEvents, createScriptedLog, within } from '../testing/projection-test-kit.ts';
import { createProjectionManager } from './projection-manager.ts';
import { READ_MODEL_CONTENT_VERSIONS } from '../read-models.ts';

const root = await mkdtemp(join(tmpdir(), 'sw-vr-upgrade-'));
after(() => rm(root, { recursive: true, force: true }));
const exists = (p: string) => stat(p).then(() => true, () => false);
const codec = createJsonEventCodec();
const T0 = Date.UTC(2026, 10, 24, 9, 0, 0);

/** What a v1 StreamWave decoded: its VideoViewed schema had no sessionStartedAt, so the field was dropped. */
const v1Codec: EventCodec = {
  encode: (topic, e) => codec.encode(topic, e),
  async decode(value) {
    const e = await codec.decode(value);
    if (e.type === 'VideoViewed') delete e.data.sessionStartedAt;
    return e;
  },
};

/** The analytics table as the previous release created it (no session_started_at column). */
const V1_TABLE = `CREATE TABLE streamwave.view_heartbeats (
  video_id String, session_id String, viewer_id String, watched_seconds Float64, video_duration_seconds Float64,
  viewed_at DateTime64(3, 'UTC'), topic LowCardinality(String), partition UInt32, offset UInt64
) ENGINE = ReplacingMergeTree ORDER BY (video_id, session_id, topic, partition, offset)`;

/** A log whose replay consumer groups get no batch until `open()` (shadows held mid-way). */
function gatedLog(log: EventLog) {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const wrapped: EventLog = new Proxy(log, {
    get(t, prop) {
      if (prop === 'subscribe') {
        return (sub: Parameters<EventLog['subscribe']>[0]) => t.subscribe(/\.replay-\d+$/.test(sub.groupId) ? { ...sub, eachBatch: async (b) => { await gate; await sub.eachBatch(b); } } : sub);
      }
      const v = Reflect.get(t, prop, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
  return { log: wrapped, open: () => release() };
}

const videoOf = (i: number) => `case-${i}`;
function caseEvents(): DomainEvent[] {
  return ALL_VIEW_RULE_CASES.flatMap((c, i): DomainEvent[] => [
    { type: 'UploadStarted', data: { videoId: videoOf(i), ownerId: 'o', uploadId: `up-${i}`, objectKey: `raw/${i}`, filename: 'a.mp4', sizeBytes: 1, contentType: 'video/mp4', title: c.name.slice(0, 90), description: '', tags: [], partSizeBytes: 5 << 20, startedAt: T0 } },
    ...caseHeartbeats(c).map((hb): VideoViewed => ({ type: 'VideoViewed', data: { videoId: videoOf(i), positionSeconds: 0, ...hb } })),
  ]);
}

const ATTACK = ALL_VIEW_RULE_CASES.findIndex((c) => c.name.includes('the issue 8 attack'));

test('view rule v1 → v2: the read models that count views are rebuilt into shadows and swapped in; results equal the tables of cases', { timeout: 180_000 }, async (t) => {
  const dataDir = join(root, 'upgraded');
  const base = await createScriptedLog();
  await appendEvents(base, codec, caseEvents());
  const slots = embeddedReadModels({ dataDir, searchCursorSecret: 's' });
  const projections = { 'video-detail': slots['video-detail'], analytics: slots.analytics, 'watch-history': slots['watch-history'] };

  // --- The previous release's data directory: v1 read models, no content version anywhere.
  const chdbPath = join(dataDir, 'projections', 'analytics');
  await mkdir(chdbPath, { recursive: true });
  const old = new Session(chdbPath);
  await old.queryAsync('CREATE DATABASE streamwave');
  await old.queryAsync(V1_TABLE);
  old.close();
  for (const s of Object.values(projections)) {
    const node = await s.open('primary');
    const h = await runProjection(node, { log: base, codec: v1Codec });
    await within(h.caughtUp(), 60_000, `v1 build of ${s.name}`);
    await h.stop();
    await node.close();
  }

  const { log, open } = gatedLog(base);
  const pointers = createFileCurrentInstanceStore(dataDir);
  const manager = createProjectionManager({ log, codec, projections, pointers, progressIntervalMs: 50 });
  await manager.start();
  try {
    const vd = manager.get('video-detail');
    const an = manager.get('analytics');
    // Rebuilds started on their own, for the two read models that count views only.
    const started = manager.listReplays();
    assert.deepEqual(started.map((s) => [s.projection, s.status, s.contentVersion]).sort(), [['analytics', 'running', READ_MODEL_CONTENT_VERSIONS.analytics], ['video-detail', 'running', READ_MODEL_CONTENT_VERSIONS['video-detail']]]);
    for (const s of started) assert.match(s.reason ?? '', /content version unrecorded .* → view-rule\/v2/);

    // Shadows held: the old instances keep serving their v1 numbers (the attack counted in full).
    assert.equal(vd.current().instanceId, 'primary');
    assert.equal(an.current().instanceId, 'primary');
    const before = await an.queries.videoAnalytics(videoOf(ATTACK));
    assert.equal(before.watch_time_seconds, 25 * 1e7, 'v1 counted 250,000,000 s of a 2 s video');

    open();
    const final = await within(manager.settled(), 120_000, 'content-version rebuilds');
    assert.deepEqual(final.map((s) => s.status), ['swapped', 'swapped']);
    for (const s of final) {
      assert.equal(s.consumed, s.total);
      assert.equal(manager.get(s.projection as keyof typeof projections).current().instanceId, s.instanceId);
      assert.equal((await pointers.load(s.projection))?.contentVersion, READ_MODEL_CONTENT_VERSIONS[s.projection as 'analytics']);
    }
    assert.equal(await exists(join(dataDir, 'projections', 'video-detail')), false, 'the v1 key-value store is deleted after the swap');

    let replayed = 0;
    for (const [i, c] of ALL_VIEW_RULE_CASES.entries()) {
      const analytics = await an.queries.videoAnalytics(videoOf(i));
      assert.deepEqual(analytics, c.expected, `analytics of "${c.name}"`);
      assert.equal((await vd.queries.getVideo(videoOf(i)))?.views, c.expected.views, `view counter of "${c.name}"`);
    }
    for (const s of final) replayed += s.total;
    t.diagnostic(`${ALL_VIEW_RULE_CASES.length} cases (v1 + v2) equal after the swap; ${replayed} records replayed; attack watch time ${before.watch_time_seconds} s → ${(await an.queries.videoAnalytics(videoOf(ATTACK))).watch_time_seconds} s`);
  } finally {
    open();
    await manager.close();
  }

  // A restart opens the swapped-in instances and rebuilds nothing.
  const again = createProjectionManager({ log: base, codec, projections, pointers });
  await again.start();
  try {
    assert.deepEqual(again.listReplays(), []);
    assert.deepEqual(await again.get('analytics').queries.videoAnalytics(videoOf(ATTACK)), ALL_VIEW_RULE_CASES[ATTACK].expected);
  } finally {
    await again.close();
  }
});

test('a fresh data directory is built under the current view rule and not rebuilt for it; a pointer of an earlier rule version is', async () => {
  const dataDir = join(root, 'fresh');
  const log = await createScriptedLog();
  await appendEvents(log, codec, caseEvents());
  const slots = embeddedReadModels({ dataDir, searchCursorSecret: 's' });
  const pointers = createFileCurrentInstanceStore(dataDir);
  const manager = createProjectionManager({ log, codec, projections: { 'video-detail': slots['video-detail'] }, pointers });
  await manager.start();
  try {
    assert.deepEqual(manager.listReplays(), []);
    assert.equal((await pointers.load('video-detail'))?.contentVersion, 'view-rule/v2');
    await within(manager.get('video-detail').handle.caughtUp(), 60_000, 'build');
    assert.equal((await manager.get('video-detail').queries.getVideo(videoOf(ATTACK)))?.views, ALL_VIEW_RULE_CASES[ATTACK].expected.views);
  } finally {
    await manager.close();
  }

  // The same instance recorded as built under an earlier rule version is rebuilt on the next start.
  const ptr = (await pointers.load('video-detail'))!;
  await pointers.save('video-detail', { ...ptr, contentVersion: 'view-rule/v1' });
  const later = createProjectionManager({ log, codec, projections: { 'video-detail': slots['video-detail'] }, pointers });
  await later.start();
  try {
    const [rebuild] = later.listReplays();
    assert.equal(rebuild?.reason, 'content version view-rule/v1 → view-rule/v2');
    // A full replay asked for meanwhile (`streamwave replay --offline`) joins the rebuild; a partial one is refused.
    assert.throws(() => later.startReplay('video-detail', { fromTimestamp: T0 }), { code: 'REPLAY_IN_PROGRESS' });
    const joined = await within(later.replay('video-detail', { fromBeginning: true }), 60_000, 'joined rebuild');
    assert.equal(joined.replayId, rebuild.replayId);
    assert.deepEqual((await within(later.settled(), 60_000, 'rebuild')).map((s) => s.status), []);
    assert.equal(later.replayStatus(rebuild.replayId)?.status, 'swapped');
    assert.equal((await pointers.load('video-detail'))?.contentVersion, 'view-rule/v2');
    assert.equal((await later.get('video-detail').queries.getVideo(videoOf(ATTACK)))?.views, ALL_VIEW_RULE_CASES[ATTACK].expected.views);
  } finally {
    await later.close();
  }
});
