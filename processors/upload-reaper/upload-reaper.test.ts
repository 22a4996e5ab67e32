/** Upload reaper (issue 8): abandoned uploads are aborted and failed; orphaned temp entries removed; fresh ones kept. Injected clock, no sleeps. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createCommandBus } from '../../commands/command-handler.ts';
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { ObjectStoreError } from '../../platform/object-store/object-store.port.ts';
import { createEmbeddedObjectStore } from '../../platform/object-store/embedded/embedded-object-store.adapter.ts';
import { sharedAvroTestCodec } from '../../test/support/avro-test-codec.ts';
import { OWNER, T0, videoCommands } from '../../domain/video/video.fixtures.ts';
import { createUploadReaper } from './upload-reaper.ts';

const codec = await sharedAvroTestCodec();
const DAY_S = 86_400;
const HOUR_MS = 3_600_000;
const S3 = { endpointPath: '/s3', bucket: 'streamwave', region: 'us-east-1', accessKeyId: 'k', secretAccessKey: 'test-secret-key-0123456789' };

describe('upload reaper', () => {
  test('an upload older than the expiry is aborted and failed (UPLOAD_ABANDONED); a fresh one is kept; orphan temp entries go, fresh ones stay', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sw-reaper-'));
    try {
      const bus = createCommandBus({ log: createInMemoryEventLog(), codec });
      await bus.start();
      const store = createEmbeddedObjectStore({ dir: join(dir, 'objects'), publicBaseUrl: 'http://127.0.0.1', s3: S3 });
      const opened = async (videoId: string, startedAt: number) => {
        const key = `uploads/${videoId}/source`;
        const uploadId = await store.createMultipartUpload(key, 'video/mp4');
        await store.writePart(uploadId, 1, Buffer.alloc(1000, 1), 1000);
        await bus.send(videoCommands(videoId).startUpload({ uploadId, objectKey: key, sizeBytes: 5_000 }, { now: startedAt, actorId: OWNER }));
        return { key, uploadId };
      };
      const old = await opened('v-old', T0);
      const fresh = await opened('v-fresh', T0 + 23 * HOUR_MS);
      assert.equal(bus.storageUsedBy(OWNER), 10_000);

      // Temp entries: the transcoder's work dir and the store's scratch folders.
      const work = join(dir, 'work');
      await mkdir(join(work, 'job-old', 'hls'), { recursive: true });
      await writeFile(join(work, 'job-old', 'hls', 'seg0.ts'), 'x');
      await mkdir(join(work, 'job-live'), { recursive: true });
      await writeFile(join(work, 'job-live', 'partial.ts'), 'x');
      await writeFile(join(work, 'orphan.tmp'), 'x');
      const longAgo = new Date(T0 - HOUR_MS);
      for (const p of ['job-old/hls/seg0.ts', 'job-old/hls', 'job-old', 'orphan.tmp', 'job-live']) await utimes(join(work, p), longAgo, longAgo);
      // job-live's folder is old but a file in it was just written: it is in use, kept.

      const logger = pino({ level: 'silent' });
      const now = T0 + DAY_S * 1000 + 1000;
      const reaper = createUploadReaper({
        commandBus: bus, pendingUploads: (before) => bus.pendingUploads(before), objectStore: store,
        tempDirs: [work, join(dir, 'absent')], expirySeconds: DAY_S, now: () => now, logger,
      });
      const report = await reaper.reap();
      console.log('reap report', JSON.stringify(report));
      assert.deepEqual(report.abandonedUploads, [{ videoId: 'v-old', uploadId: old.uploadId }]);
      assert.deepEqual(report.errors, []);
      assert.equal(report.removedTempEntries, 2);
      assert.deepEqual((await readdir(work)).sort(), ['job-live']);

      const state = bus.state('video', 'v-old');
      assert.ok(state && state.status === 'failed');
      assert.equal(state.failure?.code, 'UPLOAD_ABANDONED');
      await assert.rejects(store.listParts(old.key, old.uploadId), { code: 'NoSuchUpload' });
      assert.equal(bus.state('video', 'v-fresh')?.status, 'pending_upload');
      assert.equal((await store.listParts(fresh.key, fresh.uploadId)).length, 1);
      assert.equal(bus.storageUsedBy(OWNER), 5_000);

      // A second run finds nothing more to do.
      const again = await reaper.reap();
      assert.deepEqual(again.abandonedUploads, []);
      assert.equal(again.removedTempEntries, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an upload whose multipart upload is already gone is still failed', async () => {
    const bus = createCommandBus({ log: createInMemoryEventLog(), codec });
    await bus.start();
    await bus.send(videoCommands('v-gone').startUpload({ uploadId: 'up-gone' }, { now: T0, actorId: OWNER }));
    const aborted: string[] = [];
    const reaper = createUploadReaper({
      commandBus: bus, pendingUploads: (before) => bus.pendingUploads(before),
      objectStore: {
        abortMultipartUpload: async (_key, uploadId) => { aborted.push(uploadId); throw new ObjectStoreError('NoSuchUpload', 'gone'); },
        exists: async () => false,
      },
      tempDirs: [], expirySeconds: 60, now: () => T0 + 61_000, logger: pino({ level: 'silent' }),
    });
    const report = await reaper.reap();
    assert.deepEqual(aborted, ['up-gone']);
    assert.equal(report.abandonedUploads.length, 1);
    assert.equal(bus.state('video', 'v-gone')?.status, 'failed');
  });

  test('an upload this index still sees pending but that was completed elsewhere (source exists) is left alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sw-reaper-'));
    try {
      const bus = createCommandBus({ log: createInMemoryEventLog(), codec });
      await bus.start();
      const store = createEmbeddedObjectStore({ dir, publicBaseUrl: 'http://127.0.0.1', s3: S3 });
      const key = 'uploads/v-done/source';
      const uploadId = await store.createMultipartUpload(key, 'video/mp4');
      const etag = await store.writePart(uploadId, 1, Buffer.alloc(100, 1), 100);
      await bus.send(videoCommands('v-done').startUpload({ uploadId, objectKey: key, sizeBytes: 100 }, { now: T0, actorId: OWNER }));
      // Another process completed the upload; its UploadCompleted has not reached this index.
      await store.completeMultipartUpload(key, uploadId, [{ partNumber: 1, etag }]);
      const reaper = createUploadReaper({
        commandBus: bus, pendingUploads: (before) => bus.pendingUploads(before), objectStore: store,
        tempDirs: [], expirySeconds: 60, now: () => T0 + 61_000, logger: pino({ level: 'silent' }),
      });
      const report = await reaper.reap();
      assert.deepEqual(report.abandonedUploads, []);
      assert.deepEqual(report.skipped, [{ videoId: 'v-done', uploadId }]);
      assert.equal(bus.state('video', 'v-done')?.status, 'pending_upload');
      assert.equal(await store.exists(key), true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
