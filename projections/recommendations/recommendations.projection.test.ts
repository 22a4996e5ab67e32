/** Recommendations (issue 14) given watch sessions and tags, when asked for up next. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainEvent } from '../../domain/events.ts';
import { historyUpTo } from '../../domain/video/video.fixtures.ts';
import { driveReadModel } from '../testing/projection-test-kit.ts';

const T0 = Date.UTC(2026, 11, 1);
let session = 0;
/** A heartbeat of `viewerId` (null: anonymous) on `videoId` with `watched` seconds. */
const watch = (viewerId: string | null, videoId: string, watched = 12): DomainEvent => ({
  type: 'VideoViewed',
  data: { videoId, sessionId: `s${++session}`, viewerId, watchedSeconds: watched, positionSeconds: watched, videoDurationSeconds: 60, viewedAt: T0 + session, sessionStartedAt: null },
});
const tagged = (videoId: string, tags: string[]): DomainEvent[] =>
  historyUpTo(videoId, 'ready').map((e) => (e.type === 'UploadStarted' ? { ...e, data: { ...e.data, tags } } : e));
const upNext = (r: { videoId: string; reason: string; score: number }[]) => r.map((x) => `${x.videoId}:${x.reason}:${x.score}`);

describe('recommendations projection', () => {
  test('given viewers who watched several videos, up next ranks the co-watched videos by viewers in common, both ways', async () => {
    const { apply, queries } = await driveReadModel('recommendations');
    await apply([watch('u1', 'A'), watch('u1', 'B'), watch('u2', 'A'), watch('u2', 'B'), watch('u2', 'C'), watch('u2', 'A')]);
    assert.deepEqual(upNext(await queries.upNext('A', 5)), ['B:co-watch:2', 'C:co-watch:1']);
    assert.deepEqual(upNext(await queries.upNext('C', 5)), ['B:co-watch:1', 'A:co-watch:1']);
    assert.deepEqual(upNext(await queries.upNext('A', 1)), ['B:co-watch:2']);
  });

  test('short watches and anonymous sessions add nothing', async () => {
    const { apply, queries } = await driveReadModel('recommendations');
    await apply([watch('u1', 'A'), watch('u1', 'B', 9), watch(null, 'A'), watch(null, 'B')]);
    assert.deepEqual(await queries.upNext('A', 5), []);
  });

  test('a video nobody co-watched gets the videos sharing most of its tags; a deleted one leaves them', async () => {
    const { apply, queries } = await driveReadModel('recommendations');
    await apply([...tagged('new', ['cats', 'Funny']), ...tagged('both', ['funny', 'cats']), ...tagged('one', ['cats']), ...tagged('none', ['cars'])]);
    assert.deepEqual(upNext(await queries.upNext('new', 5)), ['both:tags:2', 'one:tags:1']);
    await apply([{ type: 'VideoDeleted', data: { videoId: 'both', deletedBy: 'o', deletedAt: T0 } }]);
    assert.deepEqual(upNext(await queries.upNext('new', 5)), ['one:tags:1']);
    // Co-watch first, then tags fill the rest.
    await apply([watch('u9', 'new'), watch('u9', 'none')]);
    assert.deepEqual(upNext(await queries.upNext('new', 5)), ['none:co-watch:1', 'one:tags:1']);
  });

  test('an erased viewer\'s window is gone and their later heartbeats add nothing (issue 13)', async () => {
    const { apply, queries } = await driveReadModel('recommendations');
    await apply([watch('gone', 'A'), { type: 'UserErased', data: { userId: 'gone', erasedAt: T0 } }]);
    await apply([watch('gone', 'B')]);
    assert.deepEqual(await queries.upNext('A', 5), []);
  });
});
