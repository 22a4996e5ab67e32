import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainEvent } from '../domain/events.ts';
import { createJsonEventCodec } from '../test/support/json-event-codec.ts';
import { appendEvents, createScriptedLog } from './testing/projection-test-kit.ts';
import { openStandaloneProjections } from './standalone-projections.ts';

const root = await mkdtemp(join(tmpdir(), 'sw-proj-'));
after(() => rm(root, { recursive: true, force: true }));

test('standalone wiring: one write is readable from all three read models after waitFor', async () => {
  const codec = createJsonEventCodec();
  const log = await createScriptedLog();
  const ps = await openStandaloneProjections({ dataDir: root, codec, searchCursorSecret: 's' });
  const handles = await Promise.all([ps.videoDetail.start(log), ps.analytics.start(log), ps.search.start(log)]);
  try {
    const t = Date.UTC(2026, 0, 1);
    const events: DomainEvent[] = [
      { type: 'UploadStarted', data: { videoId: 'v1', ownerId: 'o', uploadId: 'u', objectKey: 'k', filename: 'f', sizeBytes: 1, contentType: 'video/mp4', title: 'Dinosaur', description: '', tags: [], partSizeBytes: 1, startedAt: t } },
      { type: 'VideoPublished', data: { videoId: 'v1', masterPlaylistKey: 'm', thumbnailKey: 't', durationSeconds: 60, publishedAt: t + 1 } },
      { type: 'VideoViewed', data: { videoId: 'v1', sessionId: 's1', viewerId: 'u1', watchedSeconds: 10, positionSeconds: 10, videoDurationSeconds: 60, viewedAt: t + 2 } },
    ];
    const positions = await appendEvents(log, codec, events);
    for (const h of handles) assert.equal(await h.waitFor(positions, 5_000), true);
    assert.equal((await ps.videoDetail.queries.getVideo('v1'))!.views, 1);
    assert.equal((await ps.analytics.queries.videoAnalytics('v1')).views, 1);
    assert.deepEqual((await ps.search.queries.search('dinosuar', 10)).videos.map((v) => v.videoId), ['v1']);
  } finally {
    for (const h of handles) await h.stop();
    await ps.close();
  }
});
