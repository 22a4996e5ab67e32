/** Per-user storage quota (issue 8): the command side's storage index, rebuilt from the videos topic. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCommandBus } from './command-handler.ts';
import { createInMemoryEventLog } from '../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { sharedAvroTestCodec } from '../test/support/avro-test-codec.ts';
import { DomainError } from '../domain/shared/event.ts';
import { OWNER, STRANGER, T0, videoCommands } from '../domain/video/video.fixtures.ts';

const codec = await sharedAvroTestCodec();
const MiB = 1024 * 1024;
const QUOTA = 10 * MiB;

const quotaExceeded = (e: unknown) => e instanceof DomainError && e.code === 'STORAGE_QUOTA_EXCEEDED' && e.kind === 'forbidden';

describe('storage quota', () => {
  test('declarations add up per user; past the quota StartUpload is refused; failed and deleted videos free their bytes', async () => {
    const log = createInMemoryEventLog();
    const bus = createCommandBus({ log, codec, userStorageQuotaBytes: QUOTA });
    await bus.start();
    await bus.send(videoCommands('v1').startUpload({ uploadId: 'up-1', sizeBytes: 6 * MiB }));
    await bus.send(videoCommands('v2').startUpload({ uploadId: 'up-2', sizeBytes: 4 * MiB }));
    assert.equal(bus.storageUsedBy(OWNER), QUOTA);
    // One byte over: refused, and nothing appended.
    const before = log.records('streamwave.videos').length;
    await assert.rejects(bus.send(videoCommands('v3').startUpload({ uploadId: 'up-3', sizeBytes: 1 })), quotaExceeded);
    assert.equal(log.records('streamwave.videos').length, before);
    // Another user has a quota of their own.
    await bus.send(videoCommands('v4').startUpload({ uploadId: 'up-4', ownerId: STRANGER, sizeBytes: 5 * MiB }, { now: T0, actorId: STRANGER }));
    // An idempotent retry of an upload already counted is not refused.
    assert.deepEqual((await bus.send(videoCommands('v2').startUpload({ uploadId: 'up-2', sizeBytes: 4 * MiB }))).events, []);
    // A failed upload frees its declaration, a deleted video too.
    await bus.send({ type: 'FailUpload', data: { videoId: 'v1', uploadId: 'up-1', code: 'UPLOAD_ABANDONED', reason: 'expired' }, metadata: { now: T0 + 1 } });
    assert.equal(bus.storageUsedBy(OWNER), 4 * MiB);
    await bus.send(videoCommands('v2').delete());
    assert.equal(bus.storageUsedBy(OWNER), 0);
    await bus.send(videoCommands('v5').startUpload({ uploadId: 'up-5', sizeBytes: QUOTA }));

    // Rebuilt from the log by a new process: the same figures, so the quota survives a restart.
    const again = createCommandBus({ log, codec, userStorageQuotaBytes: QUOTA });
    await again.start();
    assert.equal(again.storageUsedBy(OWNER), QUOTA);
    assert.equal(again.storageUsedBy(STRANGER), 5 * MiB);
    await assert.rejects(again.send(videoCommands('v6').startUpload({ uploadId: 'up-6', sizeBytes: 1 })), quotaExceeded);
    assert.deepEqual(again.pendingUploads(T0).map((p) => p.videoId).sort(), ['v4', 'v5']);
    assert.deepEqual(again.pendingUploads(T0 - 1), []);
  });
});
