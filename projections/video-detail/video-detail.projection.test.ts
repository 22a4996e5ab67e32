import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainEvent, RenditionInfo } from '../../domain/events.ts';
import { TOPICS } from '../../schemas/topics.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import { createJsonEventCodec } from '../../test/support/json-event-codec.ts';
import { createEmbeddedKeyValueStore } from '../stores/embedded-key-value-store.adapter.ts';
import { InvalidCursorError } from '../read-model.port.ts';
import { appendEvents, createScriptedLog, duplicatingLog, within } from '../testing/projection-test-kit.ts';
import { createVideoDetailProjection, WATCH_HISTORY_CAP } from './video-detail.projection.ts';

const codec = createJsonEventCodec();
const root = await mkdtemp(join(tmpdir(), 'sw-vd-'));
after(() => rm(root, { recursive: true, force: true }));

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const rung = (name: string, height: number, bandwidth: number): RenditionInfo => ({
  name, width: Math.round((height * 16) / 9 / 2) * 2, height, bandwidth, codecs: 'avc1.64001f,mp4a.40.2', playlist: `${name}/index.m3u8`,
});
const ladder = [rung('360p', 360, 800_000), rung('720p', 720, 2_800_000)];

function videoHistory(videoId: string, ownerId: string, at: number, title = 'Dinosaur documentary'): DomainEvent[] {
  return [
    { type: 'UploadStarted', data: { videoId, ownerId, uploadId: `up-${videoId}`, objectKey: `raw/${videoId}`, filename: 'a.mp4', sizeBytes: 1000, contentType: 'video/mp4', title, description: 'd', tags: ['t'], partSizeBytes: 5 << 20, startedAt: at } },
    { type: 'UploadCompleted', data: { videoId, uploadId: `up-${videoId}`, objectKey: `raw/${videoId}`, sizeBytes: 1234, completedAt: at + 1 } },
  ];
}
const hb = (videoId: string, sessionId: string, watchedSeconds: number, viewerId: string | null, viewedAt: number, videoDurationSeconds = 60): DomainEvent => ({
  type: 'VideoViewed', data: { videoId, sessionId, viewerId, watchedSeconds, positionSeconds: watchedSeconds, videoDurationSeconds, viewedAt },
});

async function open(name: string) {
  const store = await createEmbeddedKeyValueStore({ dir: join(root, name) });
  return createVideoDetailProjection({ store, codec });
}

async function runToEnd(log: EventLog, name: string) {
  const p = await open(name);
  const h = await p.start(log);
  await within(h.caughtUp(), 5_000, 'caughtUp');
  return { p, h };
}

describe('video-detail projection', () => {
  test('status, progress and renditions follow the processing events', async () => {
    const log = await createScriptedLog();
    const { p, h } = await runToEnd(log, 'lifecycle');
    try {
      await appendEvents(log, codec, videoHistory('v1', 'u1', T0));
      let pos = await appendEvents(log, codec, [{ type: 'VideoProcessingProgressed', data: { videoId: 'v1', progress: 5, at: T0 + 2 } }]);
      assert.equal(await h.waitFor(pos, 5_000), true);
      assert.equal((await p.queries.getVideo('v1'))!.status, 'uploaded');
      assert.equal((await p.queries.getVideo('v1'))!.progress, 5);

      pos = await appendEvents(log, codec, [
        { type: 'VideoProcessingStarted', data: { videoId: 'v1', ladder, durationSeconds: 42, startedAt: T0 + 3 } },
        { type: 'VideoProcessingProgressed', data: { videoId: 'v1', progress: 30, at: T0 + 4 } },
        { type: 'VideoProcessingProgressed', data: { videoId: 'v1', progress: 20, at: T0 + 5 } },
      ]);
      assert.equal(await h.waitFor(pos, 5_000), true);
      let v = (await p.queries.getVideo('v1'))!;
      assert.equal(v.status, 'processing');
      assert.equal(v.plannedRenditions, 2);
      assert.equal(v.progress, 30, 'a lower progress report never lowers progress');

      pos = await appendEvents(log, codec, [
        { type: 'RenditionEncoded', data: { videoId: 'v1', rendition: ladder[0], at: T0 + 6 } },
        { type: 'VideoPublished', data: { videoId: 'v1', masterPlaylistKey: 'hls/v1/master.m3u8', thumbnailKey: 'thumb/v1.jpg', durationSeconds: 42, publishedAt: T0 + 7 } },
      ]);
      assert.equal(await h.waitFor(pos, 5_000), true);
      v = (await p.queries.getVideo('v1'))!;
      assert.equal(v.status, 'ready');
      assert.ok(v.progress < 100);
      assert.deepEqual(v.renditions.map((r) => r.name), ['360p']);
      assert.equal(v.publishedAt, T0 + 7);

      pos = await appendEvents(log, codec, [{ type: 'RenditionEncoded', data: { videoId: 'v1', rendition: ladder[1], at: T0 + 8 } }]);
      assert.equal(await h.waitFor(pos, 5_000), true);
      v = (await p.queries.getVideo('v1'))!;
      assert.equal(v.progress, 100);
      assert.deepEqual(v.renditions.map((r) => r.name), ['360p', '720p']);
      assert.equal((await p.queries.getVideoByUploadId('up-v1'))!.videoId, 'v1');

      pos = await appendEvents(log, codec, [
        ...videoHistory('v2', 'u1', T0 + 100),
        { type: 'VideoProcessingFailed', data: { videoId: 'v2', reason: 'no video stream', code: 'NO_VIDEO_STREAM', failedAt: T0 + 101 } },
        { type: 'VideoMetadataUpdated', data: { videoId: 'v1', title: 'New title', description: null, tags: ['x', 'y'], updatedBy: 'u1', updatedAt: T0 + 102 } },
      ]);
      assert.equal(await h.waitFor(pos, 5_000), true);
      const v2 = (await p.queries.getVideo('v2'))!;
      assert.equal(v2.status, 'failed');
      assert.equal(v2.errorCode, 'NO_VIDEO_STREAM');
      v = (await p.queries.getVideo('v1'))!;
      assert.equal(v.title, 'New title');
      assert.equal(v.description, 'd');
      assert.deepEqual(v.tags, ['x', 'y']);
      assert.deepEqual((await p.queries.listUserVideos('u1')).map((x) => x.videoId), ['v2', 'v1']);

      pos = await appendEvents(log, codec, [{ type: 'VideoDeleted', data: { videoId: 'v2', deletedBy: 'u1', deletedAt: T0 + 200 } }]);
      assert.equal(await h.waitFor(pos, 5_000), true);
      assert.equal((await p.queries.getVideo('v2'))!.status, 'deleted');
      assert.deepEqual((await p.queries.listUserVideos('u1')).map((x) => x.videoId), ['v1']);
      assert.equal(await p.queries.getVideo('nope'), undefined);
    } finally {
      await h.stop();
      await p.close();
    }
  });

  test('VideoProcessingCompleted ends processing at 100 with the omitted renditions', async () => {
    const log = await createScriptedLog();
    const { p, h } = await runToEnd(log, 'completed');
    try {
      let pos = await appendEvents(log, codec, [
        ...videoHistory('v1', 'u1', T0),
        { type: 'VideoProcessingStarted', data: { videoId: 'v1', ladder, durationSeconds: 42, startedAt: T0 + 3 } },
        { type: 'RenditionEncoded', data: { videoId: 'v1', rendition: ladder[0], at: T0 + 4 } },
        { type: 'VideoPublished', data: { videoId: 'v1', masterPlaylistKey: 'hls/v1/master.m3u8', thumbnailKey: 'thumb/v1.jpg', durationSeconds: 42, publishedAt: T0 + 5 } },
        // The transcoder's last report: capped below 100 while a planned rung is missing.
        { type: 'VideoProcessingProgressed', data: { videoId: 'v1', progress: 100, at: T0 + 6 } },
      ]);
      assert.equal(await h.waitFor(pos, 5_000), true);
      let v = (await p.queries.getVideo('v1'))!;
      assert.equal(v.status, 'ready');
      assert.ok(v.progress < 100, `progress ${v.progress} before completion`);
      assert.deepEqual(v.omittedRenditions, []);

      const omitted = [{ name: '720p', reason: 'Encoding failed while producing renditions 720p.' }];
      pos = await appendEvents(log, codec, [
        { type: 'VideoProcessingCompleted', data: { videoId: 'v1', renditions: ['360p'], omitted, completedAt: T0 + 7 } },
      ]);
      assert.equal(await h.waitFor(pos, 5_000), true);
      v = (await p.queries.getVideo('v1'))!;
      assert.equal(v.progress, 100);
      assert.equal(v.status, 'ready');
      assert.equal(v.error, null);
      assert.deepEqual(v.renditions.map((r) => r.name), ['360p']);
      assert.deepEqual(v.omittedRenditions, omitted);
      assert.equal(v.updatedAt, T0 + 7);

      // A redelivered job that encodes the omitted rung after all: it is no longer omitted.
      pos = await appendEvents(log, codec, [{ type: 'RenditionEncoded', data: { videoId: 'v1', rendition: ladder[1], at: T0 + 8 } }]);
      assert.equal(await h.waitFor(pos, 5_000), true);
      v = (await p.queries.getVideo('v1'))!;
      assert.equal(v.progress, 100);
      assert.deepEqual(v.omittedRenditions, []);
    } finally {
      await h.stop();
      await p.close();
    }
  });

  test('users by lowercased username; comments newest first with cursor paging', async () => {
    const log = await createScriptedLog();
    await appendEvents(log, codec, [
      { type: 'UserRegistered', data: { userId: 'u1', username: 'Alice', email: 'a@x', passwordHash: '$scrypt$x', registeredAt: T0 } },
      { type: 'UserRegistered', data: { userId: 'u2', username: 'ALICE', email: 'b@x', passwordHash: '$scrypt$y', registeredAt: T0 + 1 } },
      ...videoHistory('v1', 'u1', T0),
      ...[0, 1, 2, 3, 4].map((i): DomainEvent => ({ type: 'CommentPosted', data: { commentId: `c${i}`, videoId: 'v1', authorId: 'u1', body: `comment ${i}`, postedAt: T0 + 10 + i } })),
    ]);
    const { p, h } = await runToEnd(log, 'comments');
    try {
      assert.equal((await p.queries.findUserByUsername('alice'))!.userId, 'u1', 'first registration of a username wins');
      assert.equal((await p.queries.findUserByUsername('aLiCe'))!.email, 'a@x');
      assert.equal(await p.queries.findUserByUsername('bob'), undefined);

      const seen: string[] = [];
      let cursor: string | undefined;
      for (let i = 0; i < 10; i++) {
        const page = await p.queries.listComments('v1', 2, cursor);
        seen.push(...page.comments.map((c) => c.commentId));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      assert.deepEqual(seen, ['c4', 'c3', 'c2', 'c1', 'c0']);
      assert.equal((await p.queries.getVideo('v1'))!.commentCount, 5);

      const first = await p.queries.listComments('v1', 2);
      await assert.rejects(p.queries.listComments('v2', 2, first.nextCursor!), InvalidCursorError);
      await assert.rejects(p.queries.listComments('v1', 2, 'not!base64'), InvalidCursorError);
      await assert.rejects(p.queries.listComments('v1', 2, Buffer.from('[1]').toString('base64url')), InvalidCursorError);
    } finally {
      await h.stop();
      await p.close();
    }
  });

  test('view counter follows rule v1; watch history is per user, newest first, capped', async () => {
    const log = await createScriptedLog();
    const events: DomainEvent[] = [
      ...videoHistory('v1', 'owner', T0),
      ...videoHistory('short', 'owner', T0),
      hb('v1', 's1', 4, 'u1', T0 + 1_000), hb('v1', 's1', 11, 'u1', T0 + 2_000), hb('v1', 's1', 25, 'u1', T0 + 3_000), // one view
      hb('v1', 's2', 15, 'u1', T0 + 4_000), // same viewer, second session: a second view
      hb('v1', 's3', 9, null, T0 + 5_000), hb('v1', 's3', 3, null, T0 + 6_000), // never reaches 10 s
      hb('short', 's4', 5.6, null, T0 + 7_000, 6), // 6 s video, ≥ 6 − 0.5: whole
      hb('short', 's5', 5.4, null, T0 + 8_000, 6), // not whole
    ];
    // Watch history: 205 distinct videos watched by u9, 1 s apart.
    for (let i = 0; i < WATCH_HISTORY_CAP + 5; i++) events.push(hb(`h${i}`, `hs${i}`, 1, 'u9', T0 + 10_000 + i * 1000));
    await appendEvents(log, codec, events);
    const { p, h } = await runToEnd(log, 'views');
    try {
      assert.equal((await p.queries.getVideo('v1'))!.views, 2);
      assert.equal((await p.queries.getVideo('short'))!.views, 1);
      const u1 = await p.queries.getWatchHistory('u1');
      assert.deepEqual(u1.map((e) => [e.videoId, e.watchedAt]), [['v1', T0 + 4_000]]);
      const u9 = await p.queries.getWatchHistory('u9');
      assert.equal(u9.length, WATCH_HISTORY_CAP);
      assert.equal(u9[0].videoId, `h${WATCH_HISTORY_CAP + 4}`);
      assert.equal(u9[u9.length - 1].videoId, 'h5', 'the five oldest were evicted');
      assert.deepEqual(await p.queries.getWatchHistory('nobody'), []);
    } finally {
      await h.stop();
      await p.close();
    }
  });

  test('a batch delivered twice is applied once', async () => {
    const events: DomainEvent[] = [
      ...videoHistory('v1', 'o', T0),
      { type: 'CommentPosted', data: { commentId: 'c1', videoId: 'v1', authorId: 'o', body: 'hi', postedAt: T0 + 5 } },
      hb('v1', 's1', 12, 'u1', T0 + 6), hb('v1', 's2', 12, 'u1', T0 + 7),
    ];
    const once = await createScriptedLog();
    const twice = await createScriptedLog();
    await appendEvents(once, codec, events);
    await appendEvents(twice, codec, events);
    const a = await runToEnd(once, 'dup-once');
    const b = await runToEnd(duplicatingLog(twice), 'dup-twice');
    try {
      const va = (await a.p.queries.getVideo('v1'))!;
      const vb = (await b.p.queries.getVideo('v1'))!;
      assert.equal(va.views, 2);
      assert.equal(va.commentCount, 1);
      assert.deepEqual(vb, va);
      assert.deepEqual(await b.p.queries.listComments('v1', 10), await a.p.queries.listComments('v1', 10));
    } finally {
      await a.h.stop(); await a.p.close();
      await b.h.stop(); await b.p.close();
    }
  });

  test('restart resumes from the stored checkpoint; undecodable records are skipped', async () => {
    const log = await createScriptedLog();
    await appendEvents(log, codec, [...videoHistory('v1', 'o', T0), hb('v1', 's1', 12, null, T0 + 1)]);
    const bad = await log.append(TOPICS.comments, [{ key: 'v1', value: Buffer.from('{not json') }]);
    let { p, h } = await runToEnd(log, 'restart');
    assert.equal(await h.waitFor(bad, 1_000), true, 'an undecodable record is still checkpointed');
    assert.equal((await p.queries.getVideo('v1'))!.views, 1);
    await h.stop();
    await p.close();

    // While stopped: more events, including a further heartbeat of the already counted session.
    await appendEvents(log, codec, [hb('v1', 's1', 30, null, T0 + 2), hb('v1', 's2', 10, null, T0 + 3),
      { type: 'CommentPosted', data: { commentId: 'c1', videoId: 'v1', authorId: 'o', body: 'hi', postedAt: T0 + 5 } }]);
    ({ p, h } = await runToEnd(log, 'restart'));
    try {
      const v = (await p.queries.getVideo('v1'))!;
      assert.equal(v.views, 2);
      assert.equal(v.commentCount, 1);
      assert.equal(v.status, 'uploaded');
      // A position this projection has not reached yet: waitFor gives up with false, no throw.
      assert.equal(await h.waitFor([{ topic: TOPICS.videos, partition: 0, offset: 10_000 }], 20), false);
    } finally {
      await h.stop();
      await p.close();
    }
  });

  test('the store checkpoint, not the group offset, decides where to resume', async () => {
    const log = await createScriptedLog();
    await appendEvents(log, codec, videoHistory('v1', 'o', T0));
    // The group claims everything is consumed, but this (fresh) read model has applied nothing.
    const p0 = await open('group-ahead');
    const ends = new Map<string, number>();
    for (const t of p0.topics) (await log.endOffsets(t)).forEach((end, i) => ends.set(`${t}:${i}`, end));
    await log.commitOffsets(p0.groupId, ends);
    await p0.close();
    const { p, h } = await runToEnd(log, 'group-ahead');
    try {
      assert.equal((await p.queries.getVideo('v1'))!.status, 'uploaded');
    } finally {
      await h.stop();
      await p.close();
    }
  });
});
