/** `POST /admin/uploads/reap` (issue 8): admin-only; an upload abandoned past the expiry ends failed, a fresh one is kept. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { createTestGateway } from '../../testing/test-gateway.ts';
import { createUploadReaper } from '../../../processors/upload-reaper/upload-reaper.ts';
import type { PendingUpload } from '../../../commands/storage-index.ts';
import { adminRoutes } from './index.ts';

const TOKEN = 'admin-token-0123456789';
const EXPIRY_S = 3600;

test('POST /admin/uploads/reap: 401 without the admin token; fails the expired upload and keeps the fresh one', async () => {
  let clock = Date.now();
  const pending: PendingUpload[] = [];
  const gw = await createTestGateway({}, {
    now: () => clock,
    plugins: [{
      plugin: adminRoutes, prefix: '/admin',
      options: {
        token: TOKEN, replays: { names: () => [], startReplay: () => { throw new Error('unused'); }, replayStatus: () => undefined },
        topics: async () => ({ topics: [], groups: [] }),
        reaper: {
          // Late-bound: the reaper needs the world's command bus and store, built with the gateway.
          reap: () => reaper().reap(),
        },
      },
    }],
  });
  const reaper = () => createUploadReaper({
    commandBus: gw.world.commandBus, objectStore: gw.world.objectStore, tempDirs: [], expirySeconds: EXPIRY_S,
    // The pending uploads, as the command side's storage index lists them (StartUpload then not yet completed or failed).
    pendingUploads: (before) => pending.filter((p) => p.startedAt <= before),
    now: () => clock, logger: pino({ level: 'silent' }),
  });
  try {
    const alice = await gw.signUp('alice');
    const old = await gw.startUpload(alice.token, 100);
    pending.push({ videoId: old.video_id, uploadId: old.upload_id, ownerId: alice.id, objectKey: `uploads/${old.video_id}/source`, startedAt: clock });
    clock += (EXPIRY_S - 10) * 1000;
    const fresh = await gw.startUpload(alice.token, 100);
    pending.push({ videoId: fresh.video_id, uploadId: fresh.upload_id, ownerId: alice.id, objectKey: `uploads/${fresh.video_id}/source`, startedAt: clock });
    clock += 20_000;

    assert.equal((await gw.inject({ method: 'POST', url: '/admin/uploads/reap' })).statusCode, 401);
    assert.equal((await gw.inject({ method: 'POST', url: '/admin/uploads/reap', token: alice.token })).statusCode, 401);
    const res = await gw.inject({ method: 'POST', url: '/admin/uploads/reap', token: TOKEN });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().abandoned_uploads, [{ video_id: old.video_id, upload_id: old.upload_id }]);
    await gw.world.settle();
    const detail = await gw.world.readModels['video-detail'].getVideo(old.video_id);
    assert.equal(detail?.status, 'failed');
    assert.equal(detail?.errorCode, 'UPLOAD_ABANDONED');
    assert.equal((await gw.world.readModels['video-detail'].getVideo(fresh.video_id))?.status, 'pending_upload');
    await assert.rejects(gw.world.objectStore.listParts(`uploads/${old.video_id}/source`, old.upload_id), { code: 'NoSuchUpload' });
  } finally {
    await gw.close();
  }
});
