import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainEvent, RenditionInfo, VideoViewed } from '../../domain/events.ts';
import { historyUpTo } from '../../domain/video/video.fixtures.ts';
import { caseHeartbeats, VIEW_RULE_CASES, VIEW_RULE_V2_CASES } from '../../domain/view/view-rule.cases.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { driveReadModel, inMemoryStores } from '../testing/projection-test-kit.ts';
import type { KeyValueStore } from '../stores/key-value-store.port.ts';
import { EXPIRY_BUCKET_MS, SESSION_STATE_HORIZON_MS } from './video-detail.projection.ts';

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
const comment = (videoId: string, commentId: string, postedAt: number): DomainEvent => ({
  type: 'CommentPosted', data: { commentId, videoId, authorId: 'u1', parentId: null, body: `comment ${commentId}`, postedAt },
});

describe('video-detail projection', () => {
  test('visibility: from UploadStarted (absent → public), changed by VideoMetadataUpdated; a deleted video is a tombstone (issue 8)', async () => {
    const { apply, queries } = await driveReadModel('video-detail');
    const [started, completed] = videoHistory('pv', 'u1', T0);
    await apply([{ ...started, data: { ...started!.data, visibility: 'private' } } as DomainEvent, completed!, ...videoHistory('old', 'u1', T0)]);
    assert.equal((await queries.getVideo('pv'))!.visibility, 'private');
    assert.equal((await queries.getVideo('old'))!.visibility, 'public', 'events from before issue 8 carry no visibility');
    await apply([{ type: 'VideoMetadataUpdated', data: { videoId: 'pv', visibility: 'unlisted', updatedBy: 'u1', updatedAt: T0 + 9 } }]);
    assert.equal((await queries.getVideo('pv'))!.visibility, 'unlisted');
    await apply([{ type: 'VideoDeleted', data: { videoId: 'pv', deletedBy: 'u1', deletedAt: T0 + 10 } }]);
    assert.equal((await queries.getVideo('pv'))!.status, 'deleted', 'kept as a tombstone that media delivery checks');
  });

  test('captions: CaptionsPublished lists a language (a new file replaces its key), CaptionsRemoved drops it; absent before any', async () => {
    const { apply, queries } = await driveReadModel('video-detail');
    await apply(videoHistory('cv', 'u1', T0));
    assert.deepEqual((await queries.getVideo('cv'))!.captions ?? [], [], 'documents without captions list none');
    const published = (language: string, key: string, at: number): DomainEvent => ({
      type: 'CaptionsPublished', data: { videoId: 'cv', language, key, sizeBytes: 10, durationSeconds: 42, publishedBy: 'u1', publishedAt: at },
    });
    await apply([published('fr', 'k-fr-1', T0 + 10), published('en', 'k-en-1', T0 + 11), published('fr', 'k-fr-2', T0 + 12)]);
    let v = (await queries.getVideo('cv'))!;
    assert.deepEqual(v.captions, [{ language: 'en', key: 'k-en-1' }, { language: 'fr', key: 'k-fr-2' }]);
    assert.equal(v.updatedAt, T0 + 12);
    await apply([{ type: 'CaptionsRemoved', data: { videoId: 'cv', language: 'en', removedBy: 'u1', removedAt: T0 + 13 } }]);
    v = (await queries.getVideo('cv'))!;
    assert.deepEqual(v.captions, [{ language: 'fr', key: 'k-fr-2' }]);
  });

  test('status, progress and renditions follow the processing events', async () => {
    const { apply, queries } = await driveReadModel('video-detail');
    await apply([...videoHistory('v1', 'u1', T0), { type: 'VideoProcessingProgressed', data: { videoId: 'v1', progress: 5, at: T0 + 2 } }]);
    let v = (await queries.getVideo('v1'))!;
    assert.equal(v.status, 'uploaded');
    assert.equal(v.progress, 5);

    await apply([
      { type: 'VideoProcessingStarted', data: { videoId: 'v1', ladder, durationSeconds: 42, startedAt: T0 + 3 } },
      { type: 'VideoProcessingProgressed', data: { videoId: 'v1', progress: 30, at: T0 + 4 } },
      { type: 'VideoProcessingProgressed', data: { videoId: 'v1', progress: 20, at: T0 + 5 } },
    ]);
    v = (await queries.getVideo('v1'))!;
    assert.equal(v.status, 'processing');
    assert.equal(v.plannedRenditions, 2);
    assert.equal(v.progress, 30, 'a lower progress report never lowers progress');

    await apply([
      { type: 'RenditionEncoded', data: { videoId: 'v1', rendition: ladder[0], at: T0 + 6 } },
      { type: 'VideoPublished', data: { videoId: 'v1', masterPlaylistKey: 'hls/v1/master.m3u8', thumbnailKey: 'thumb/v1.jpg', durationSeconds: 42, publishedAt: T0 + 7 } },
    ]);
    v = (await queries.getVideo('v1'))!;
    assert.equal(v.status, 'ready');
    assert.ok(v.progress < 100);
    assert.deepEqual(v.renditions.map((r) => r.name), ['360p']);
    assert.equal(v.publishedAt, T0 + 7);

    await apply([{ type: 'RenditionEncoded', data: { videoId: 'v1', rendition: ladder[1], at: T0 + 8 } }]);
    v = (await queries.getVideo('v1'))!;
    assert.equal(v.progress, 100);
    assert.deepEqual(v.renditions.map((r) => r.name), ['360p', '720p']);
    assert.equal((await queries.getVideoByUploadId('up-v1'))!.videoId, 'v1');

    await apply([
      ...videoHistory('v2', 'u1', T0 + 100),
      { type: 'VideoProcessingFailed', data: { videoId: 'v2', reason: 'no video stream', code: 'NO_VIDEO_STREAM', failedAt: T0 + 101 } },
      { type: 'VideoMetadataUpdated', data: { videoId: 'v1', title: 'New title', description: null, tags: ['x', 'y'], updatedBy: 'u1', updatedAt: T0 + 102 } },
    ]);
    const v2 = (await queries.getVideo('v2'))!;
    assert.equal(v2.status, 'failed');
    assert.equal(v2.errorCode, 'NO_VIDEO_STREAM');
    v = (await queries.getVideo('v1'))!;
    assert.equal(v.title, 'New title');
    assert.equal(v.description, 'd');
    assert.deepEqual(v.tags, ['x', 'y']);
    assert.deepEqual((await queries.listUserVideos('u1')).map((x) => x.videoId), ['v2', 'v1']);

    await apply([{ type: 'VideoDeleted', data: { videoId: 'v2', deletedBy: 'u1', deletedAt: T0 + 200 } }]);
    assert.equal((await queries.getVideo('v2'))!.status, 'deleted');
    assert.deepEqual((await queries.listUserVideos('u1')).map((x) => x.videoId), ['v1']);
    assert.equal(await queries.getVideo('nope'), undefined);
  });

  test('given a published video, when StoryboardGenerated arrives, then the document has its storyboard key (none before)', async () => {
    const { apply, queries } = await driveReadModel('video-detail');
    await apply([
      ...videoHistory('v1', 'u1', T0),
      { type: 'VideoProcessingStarted', data: { videoId: 'v1', ladder, durationSeconds: 42, startedAt: T0 + 3 } },
      { type: 'VideoPublished', data: { videoId: 'v1', masterPlaylistKey: 'hls/v1/master.m3u8', thumbnailKey: 'thumb/v1.jpg', durationSeconds: 42, publishedAt: T0 + 4, renditions: ladder } },
    ]);
    assert.equal((await queries.getVideo('v1'))!.storyboardKey ?? null, null, 'no storyboard before its event');
    const key = 'videos/v1/storyboard/storyboard.vtt';
    await apply([{ type: 'StoryboardGenerated', data: { videoId: 'v1', storyboardKey: key, intervalSeconds: 1, tiles: 42, tileWidth: 160, tileHeight: 90, generatedAt: T0 + 9 } }]);
    const v = (await queries.getVideo('v1'))!;
    assert.equal(v.storyboardKey, key);
    assert.equal(v.updatedAt, T0 + 9);
  });

  test('given a custom thumbnail, then it is the thumbnail, before and after VideoPublished, until another replaces it', async () => {
    const { apply, queries } = await driveReadModel('video-detail');
    const custom = 'videos/v1/thumbnail-0123456789abcdef.jpg';
    const set = (key: string, at: number) => ({ type: 'CustomThumbnailSet' as const, data: { videoId: 'v1', key, width: 640, height: 360, sizeBytes: 9_000, setBy: 'u1', setAt: at } });
    await apply([...videoHistory('v1', 'u1', T0), set(custom, T0 + 2)]);
    assert.equal((await queries.getVideo('v1'))!.thumbnailKey, custom, 'before publication');
    await apply([
      { type: 'VideoProcessingStarted', data: { videoId: 'v1', ladder, durationSeconds: 42, startedAt: T0 + 3 } },
      { type: 'VideoPublished', data: { videoId: 'v1', masterPlaylistKey: 'hls/v1/master.m3u8', thumbnailKey: 'thumb/v1.jpg', durationSeconds: 42, publishedAt: T0 + 4, renditions: ladder } },
    ]);
    assert.equal((await queries.getVideo('v1'))!.thumbnailKey, custom, 'the generated one does not replace it');
    const next = 'videos/v1/thumbnail-fedcba9876543210.jpg';
    await apply([set(next, T0 + 9)]);
    const v = (await queries.getVideo('v1'))!;
    assert.equal(v.thumbnailKey, next);
    assert.equal(v.updatedAt, T0 + 9);
  });

  test('VideoProcessingCompleted ends processing at 100 with the omitted renditions', async () => {
    const { apply, queries } = await driveReadModel('video-detail');
    await apply([
      ...videoHistory('v1', 'u1', T0),
      { type: 'VideoProcessingStarted', data: { videoId: 'v1', ladder, durationSeconds: 42, startedAt: T0 + 3 } },
      { type: 'RenditionEncoded', data: { videoId: 'v1', rendition: ladder[0], at: T0 + 4 } },
      { type: 'VideoPublished', data: { videoId: 'v1', masterPlaylistKey: 'hls/v1/master.m3u8', thumbnailKey: 'thumb/v1.jpg', durationSeconds: 42, publishedAt: T0 + 5 } },
      // The transcoder's last report: capped below 100 while a planned rung is missing.
      { type: 'VideoProcessingProgressed', data: { videoId: 'v1', progress: 100, at: T0 + 6 } },
    ]);
    let v = (await queries.getVideo('v1'))!;
    assert.equal(v.status, 'ready');
    assert.ok(v.progress < 100, `progress ${v.progress} before completion`);
    assert.deepEqual(v.omittedRenditions, []);

    const omitted = [{ name: '720p', reason: 'Encoding failed while producing renditions 720p.' }];
    await apply([{ type: 'VideoProcessingCompleted', data: { videoId: 'v1', renditions: ['360p'], omitted, completedAt: T0 + 7 } }]);
    v = (await queries.getVideo('v1'))!;
    assert.equal(v.progress, 100);
    assert.equal(v.status, 'ready');
    assert.equal(v.error, null);
    assert.deepEqual(v.renditions.map((r) => r.name), ['360p']);
    assert.deepEqual(v.omittedRenditions, omitted);
    assert.equal(v.updatedAt, T0 + 7);

    // A redelivered job that encodes the omitted rung after all: it is no longer omitted.
    await apply([{ type: 'RenditionEncoded', data: { videoId: 'v1', rendition: ladder[1], at: T0 + 8 } }]);
    v = (await queries.getVideo('v1'))!;
    assert.equal(v.progress, 100);
    assert.deepEqual(v.omittedRenditions, []);
  });

  test('progressive publishing (ADR 0007): ready with every listed rung growing; progress capped until each is complete; an omitted rung leaves the list', async () => {
    const { apply, queries } = await driveReadModel('video-detail');
    await apply([
      ...videoHistory('v1', 'u1', T0),
      { type: 'VideoProcessingStarted', data: { videoId: 'v1', ladder, durationSeconds: 42, startedAt: T0 + 3 } },
      { type: 'VideoPublished', data: { videoId: 'v1', masterPlaylistKey: 'hls/v1/master.m3u8', thumbnailKey: 'thumb/v1.jpg', durationSeconds: 42, publishedAt: T0 + 4, renditions: ladder } },
      { type: 'VideoProcessingProgressed', data: { videoId: 'v1', progress: 100, at: T0 + 5 } },
    ]);
    let v = (await queries.getVideo('v1'))!;
    assert.equal(v.status, 'ready');
    assert.deepEqual(v.renditions.map((r) => [r.name, r.complete]), [['360p', false], ['720p', false]]);
    assert.ok(v.progress < 100, `progress ${v.progress} while no rung is complete`);

    await apply([{ type: 'RenditionEncoded', data: { videoId: 'v1', rendition: ladder[0], at: T0 + 6 } }]);
    v = (await queries.getVideo('v1'))!;
    assert.deepEqual(v.renditions.map((r) => [r.name, r.complete]), [['360p', true], ['720p', false]]);
    assert.ok(v.progress < 100);

    const omitted = [{ name: '720p', reason: 'The rendition could not be encoded.' }];
    await apply([{ type: 'VideoProcessingCompleted', data: { videoId: 'v1', renditions: ['360p'], omitted, completedAt: T0 + 7 } }]);
    v = (await queries.getVideo('v1'))!;
    assert.equal(v.progress, 100);
    assert.deepEqual(v.renditions.map((r) => r.name), ['360p'], 'the final master without the omitted rung');
  });

  test('comment count counts each comment once, even when its event is on the log twice', async () => {
    const { apply, queries } = await driveReadModel('video-detail');
    await apply([...videoHistory('v1', 'u1', T0), comment('v1', 'c1', T0 + 10), comment('v1', 'c2', T0 + 11), comment('v1', 'c1', T0 + 10)]);
    assert.equal((await queries.getVideo('v1'))!.commentCount, 2);
  });

  test('given comments, when one is deleted (its event on the log twice, or before a redelivered post), then it no longer counts (issue 14)', async () => {
    const { apply, queries } = await driveReadModel('video-detail');
    const deleted = (commentId: string): DomainEvent => ({ type: 'CommentDeleted', data: { commentId, videoId: 'v1', deletedBy: 'u1', deletedAt: T0 + 20 } });
    await apply([...videoHistory('v1', 'u1', T0), comment('v1', 'c1', T0 + 10), comment('v1', 'c2', T0 + 11), comment('v1', 'c3', T0 + 12)]);
    await apply([deleted('c2'), deleted('c2'), comment('v1', 'c2', T0 + 11)]);
    assert.equal((await queries.getVideo('v1'))!.commentCount, 2, 'c2 counted once, uncounted once, and its redelivered post changes nothing');
    await apply([deleted('c9'), comment('v1', 'c9', T0 + 13)]);
    assert.equal((await queries.getVideo('v1'))!.commentCount, 2, 'a deletion met before its post: the post never counts');
  });

  test('given likes and unlikes, the like count is the standing likes and each user\'s like is answered (issue 14)', async () => {
    const { apply, queries } = await driveReadModel('video-detail');
    const liked = (userId: string, at: number): DomainEvent => ({ type: 'VideoLiked', data: { videoId: 'v1', userId, likedAt: at } });
    const unliked = (userId: string, at: number): DomainEvent => ({ type: 'VideoUnliked', data: { videoId: 'v1', userId, unlikedAt: at } });
    await apply([...historyUpTo('v1', 'ready'), liked('a', T0), liked('b', T0 + 1), liked('c', T0 + 2), unliked('b', T0 + 3)]);
    assert.equal((await queries.getVideo('v1'))!.likeCount, 2);
    assert.deepEqual(await Promise.all(['a', 'b', 'c', 'd'].map((u) => queries.likes('v1', u))), [true, false, true, false]);
    // The same facts on the log twice (a producer retry) count once; an unlike without a like takes nothing.
    await apply([liked('a', T0), unliked('b', T0 + 3), unliked('d', T0 + 4), liked('b', T0 + 5)]);
    assert.equal((await queries.getVideo('v1'))!.likeCount, 3);
    assert.equal((await queries.getVideo('v1'))!.views, 0, 'likes are not views');
    assert.deepEqual((await queries.likedBy('a')).map((l) => l.videoId), ['v1']);
  });

  test('an erased user\'s likes leave the count and their export, whether the likes are met before or after the erasure', async () => {
    const liked = (userId: string, videoId: string): DomainEvent => ({ type: 'VideoLiked', data: { videoId, userId, likedAt: T0 } });
    const erased: DomainEvent = { type: 'UserErased', data: { userId: 'gone', erasedAt: T0 + 9 } };
    const videos = [...historyUpTo('v1', 'ready'), ...historyUpTo('v2', 'ready')];
    const likes = [liked('gone', 'v1'), liked('gone', 'v2'), liked('kept', 'v1')];
    const before = await driveReadModel('video-detail');
    await before.apply([...videos, ...likes]);
    assert.equal((await before.queries.likedBy('gone')).length, 2);
    await before.apply([erased]);
    const after = await driveReadModel('video-detail');
    await after.apply([...videos, erased]);
    await after.apply(likes);
    for (const { queries } of [before, after]) {
      assert.deepEqual([(await queries.getVideo('v1'))!.likeCount, (await queries.getVideo('v2'))!.likeCount], [1, 0]);
      assert.deepEqual([await queries.likes('v1', 'gone'), (await queries.likedBy('gone')).length, await queries.likes('v1', 'kept')], [false, 0, true]);
    }
  });

  describe('the view counter passes the view rule v1 and v2 tables of cases (domain/view/view-rule.cases.ts)', () => {
    // v2 cases through the JSON codec until `sessionStartedAt` is in the Avro schema (issue 8, vcontract).
    for (const [c, codec] of [...VIEW_RULE_CASES.map((c) => [c, 'avro'] as const), ...VIEW_RULE_V2_CASES.map((c) => [c, 'json'] as const)]) {
      test(c.name, async () => {
        const { apply, queries } = await driveReadModel('video-detail', { codec });
        const heartbeats: VideoViewed[] = caseHeartbeats(c).map((hb) => ({
          type: 'VideoViewed', data: { videoId: 'v', positionSeconds: hb.watchedSeconds, ...hb },
        }));
        await apply([...historyUpTo('v', 'ready'), ...heartbeats]);
        assert.equal((await queries.getVideo('v'))!.views, c.expected.views);
      });
    }
  });

  test('a batch delivered twice is applied once', async () => {
    const events: DomainEvent[] = [
      ...videoHistory('v1', 'o', T0), comment('v1', 'c1', T0 + 5),
      { type: 'VideoViewed', data: { videoId: 'v1', sessionId: 's1', viewerId: 'u1', watchedSeconds: 12, positionSeconds: 12, videoDurationSeconds: 60, viewedAt: T0 + 6 } },
      { type: 'VideoViewed', data: { videoId: 'v1', sessionId: 's2', viewerId: 'u1', watchedSeconds: 12, positionSeconds: 12, videoDurationSeconds: 60, viewedAt: T0 + 7 } },
    ];
    const once = await driveReadModel('video-detail');
    const twice = await driveReadModel('video-detail', { redeliver: true });
    await once.apply(events);
    await twice.apply(events);
    const va = (await once.queries.getVideo('v1'))!;
    assert.equal(va.views, 2);
    assert.equal(va.commentCount, 1);
    assert.deepEqual(await twice.queries.getVideo('v1'), va);
  });

  test('signed sessions\' state expires 48 h after their last heartbeat (event time); legacy sessions stay; counts unchanged (issue 8)', async () => {
    let kv!: KeyValueStore;
    const base = inMemoryStores();
    const stores = { ...base, keyValue: async (...a: Parameters<typeof base.keyValue>) => (kv = await base.keyValue(...a)) };
    const hb = (sessionId: string, at: number, watchedSeconds: number, sessionStartedAt: number | null = at - 60_000): DomainEvent => ({
      type: 'VideoViewed', data: { videoId: 'v1', sessionId, viewerId: null, watchedSeconds, positionSeconds: watchedSeconds, videoDurationSeconds: 60, viewedAt: at, sessionStartedAt },
    });
    const sessionKeys = async () => (await kv.scan('view-session', { limit: 1000 })).map((e) => e.key).filter((k) => k.startsWith('view-session:'));
    const run = async (batches: DomainEvent[][]) => {
      const m = await driveReadModel('video-detail', { stores });
      for (const b of batches) await m.apply(b);
      return { views: (await m.queries.getVideo('v1'))!.views, sessions: await sessionKeys() };
    };
    const sessions = 200;
    const day1 = Array.from({ length: sessions }, (_, i) => hb(`s${i}`, T0 + 10_000 + i, i % 2 ? 12 : 3));
    const legacy = hb('legacy', T0 + 5_000, 12, null);
    // Within the horizon nothing is dropped; one heartbeat 48 h after the end of the sessions'
    // expiry bucket sweeps the old ones.
    const later = T0 - (T0 % EXPIRY_BUCKET_MS) + EXPIRY_BUCKET_MS + SESSION_STATE_HORIZON_MS;
    assert.ok(T0 + 10_000 + sessions < T0 - (T0 % EXPIRY_BUCKET_MS) + EXPIRY_BUCKET_MS, 'the old sessions share one bucket');
    const lateBeats = Array.from({ length: 10 }, (_, k) => hb(`late${k}`, later + k, 1));
    const live = await run([videoHistory('v1', 'o', T0), [legacy, ...day1.slice(0, 50)], day1.slice(50), lateBeats.slice(0, 3), lateBeats.slice(3, 6), lateBeats.slice(6)]);
    assert.equal(live.views, 101, '100 signed sessions and the legacy one qualified');
    // 10 late heartbeats (3 batches after the old sessions') each sweep ≤ 32 expired sessions: all 200 gone.
    assert.deepEqual(live.sessions.sort(), ['legacy', ...lateBeats.map((_, k) => `late${k}`)].map((s) => `view-session:v1:${s}`).sort());
    // A replay in one batch sweeps only committed state (later heartbeats finish the job), but counts the same.
    const replay = await run([[...videoHistory('v1', 'o', T0), legacy, ...day1, ...lateBeats]]);
    assert.equal(replay.views, live.views);
    // A heartbeat just inside the horizon keeps its session.
    const kept = await run([[...videoHistory('v1', 'o', T0), hb('a', T0 + 1_000, 3)], [hb('b', T0 + 1_000 + SESSION_STATE_HORIZON_MS - 1, 3)]]);
    assert.deepEqual(kept.sessions.sort(), ['view-session:v1:a', 'view-session:v1:b']);
  });

  test('given a signed session heartbeating across an expiry bucket boundary, when applied, then its one expiry entry moved to the later bucket (issue 12: moved once per bucket, not per heartbeat)', async () => {
    let kv!: KeyValueStore;
    const base = inMemoryStores();
    const stores = { ...base, keyValue: async (...a: Parameters<typeof base.keyValue>) => (kv = await base.keyValue(...a)) };
    const bucket0 = T0 - (T0 % EXPIRY_BUCKET_MS);
    const hb = (at: number, watchedSeconds: number): DomainEvent => ({
      type: 'VideoViewed', data: { videoId: 'v1', sessionId: 's1', viewerId: null, watchedSeconds, positionSeconds: watchedSeconds, videoDurationSeconds: 60, viewedAt: at, sessionStartedAt: bucket0 },
    });
    const m = await driveReadModel('video-detail', { stores });
    await m.apply(videoHistory('v1', 'o', T0));
    const expiryKeys = async () => (await kv.scan('view-session-expiry:', { limit: 100 })).map((e) => e.key);
    await m.apply([hb(bucket0 + EXPIRY_BUCKET_MS - 20_000, 3), hb(bucket0 + EXPIRY_BUCKET_MS - 10_000, 8)]);
    assert.deepEqual(await expiryKeys(), [`view-session-expiry:v1:${String(bucket0).padStart(15, '0')}:s1`]);
    await m.apply([hb(bucket0 + EXPIRY_BUCKET_MS + 1, 13)]);
    assert.deepEqual(await expiryKeys(), [`view-session-expiry:v1:${String(bucket0 + EXPIRY_BUCKET_MS).padStart(15, '0')}:s1`]);
    assert.equal((await m.queries.getVideo('v1'))!.views, 1, 'one session, one view');
  });

  test('given heartbeats of signed sessions over many batches, when none has expired, then the expiry index is scanned once, and a heartbeat past the horizon still sweeps (issue 12)', async () => {
    let expiryScans = 0;
    let kv!: KeyValueStore;
    const base = inMemoryStores();
    const stores = {
      ...base,
      keyValue: async (...a: Parameters<typeof base.keyValue>) => {
        const inner = await base.keyValue(...a);
        kv = inner;
        return { ...inner, scan: ((prefix, o) => { if (prefix.startsWith('view-session-expiry:')) expiryScans++; return inner.scan(prefix, o); }) as KeyValueStore['scan'] };
      },
    };
    const hb = (sessionId: string, at: number): DomainEvent => ({
      type: 'VideoViewed', data: { videoId: 'v1', sessionId, viewerId: null, watchedSeconds: 12, positionSeconds: 12, videoDurationSeconds: 60, viewedAt: at, sessionStartedAt: at - 30_000 },
    });
    const m = await driveReadModel('video-detail', { stores });
    await m.apply(videoHistory('v1', 'o', T0));
    for (let b = 0; b < 10; b++) await m.apply(Array.from({ length: 5 }, (_, i) => hb(`s${b}-${i}`, T0 + 1_000 * b + i)));
    assert.equal(expiryScans, 1, 'the first heartbeat scans; the others know the oldest entry has not expired');
    assert.equal((await m.queries.getVideo('v1'))!.views, 50);
    const later = T0 - (T0 % EXPIRY_BUCKET_MS) + EXPIRY_BUCKET_MS + SESSION_STATE_HORIZON_MS;
    await m.apply([hb('late-1', later), hb('late-2', later + 1)]);
    const left = (await kv.scan('view-session:', { limit: 100 })).map((e) => e.key);
    assert.deepEqual(left.sort(), ['view-session:v1:late-1', 'view-session:v1:late-2'], 'the 50 expired sessions were swept');
  });

  test('given a signed session with an unsigned heartbeat in between, when it is seen again past the horizon, then it counts again as under layout 5', async () => {
    const hb = (at: number, watchedSeconds: number, sessionStartedAt: number | null): DomainEvent => ({
      type: 'VideoViewed', data: { videoId: 'v1', sessionId: 's1', viewerId: null, watchedSeconds, positionSeconds: watchedSeconds, videoDurationSeconds: 60, viewedAt: at, sessionStartedAt },
    });
    const m = await driveReadModel('video-detail');
    await m.apply(videoHistory('v1', 'o', T0));
    await m.apply([hb(T0 + 40_000, 30, T0)]);
    await m.apply([hb(T0 + 47 * 3600_000, 31, null)]);
    await m.apply([hb(T0 + 49 * 3600_000, 30, T0 + 49 * 3600_000 - 40_000)]);
    assert.equal((await m.queries.getVideo('v1'))!.views, 2, 'the unsigned heartbeat did not refresh the signed session\'s last heartbeat');
  });

  test('an undecodable record is skipped and checkpointed; the rest applies', async () => {
    const { driver, apply, queries, node } = await driveReadModel('video-detail');
    await apply(videoHistory('v1', 'o', T0));
    const [bad] = await driver.pipeRaw(TOPICS.comments, [{ key: 'v1', value: Buffer.from('{not json') }]);
    await apply([comment('v1', 'c1', T0 + 5)]);
    assert.equal((await queries.getVideo('v1'))!.commentCount, 1);
    const cp = await node.loadCheckpoint();
    assert.ok((cp.get(`${bad.topic}:${bad.partition}`) ?? 0) > bad.offset, 'the checkpoint moved past the bad record');
  });
});
