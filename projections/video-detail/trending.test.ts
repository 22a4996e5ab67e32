/** Trending (issue 14) given views, when ranked: forward decay, grace for late views, deletion, the caller's listing rule. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainEvent } from '../../domain/events.ts';
import { historyUpTo } from '../../domain/video/video.fixtures.ts';
import { driveReadModel } from '../testing/projection-test-kit.ts';
import { TRENDING_GRACE_MS, TRENDING_HALF_LIFE_MS } from './trending.ts';

const NOW = Date.UTC(2026, 11, 1, 12);
const H = TRENDING_HALF_LIFE_MS;
let session = 0;
/** `n` counted views (view rule v1: ≥ 10 s watched, one per session) of `videoId` at `at`. */
const views = (videoId: string, n: number, at: number): DomainEvent[] => Array.from({ length: n }, () => ({
  type: 'VideoViewed' as const,
  data: { videoId, sessionId: `s${++session}`, viewerId: null, watchedSeconds: 12, positionSeconds: 12, videoDurationSeconds: 60, viewedAt: at, sessionStartedAt: null },
}));
const all = () => true;
const ids = (ranked: { video: { videoId: string } }[]) => ranked.map((r) => r.video.videoId);

describe('trending', () => {
  test('given 8 views two half-lives ago and 3 views now, the recent video ranks first; scores are the decayed counts', async () => {
    const { apply, queries } = await driveReadModel('video-detail');
    await apply([...historyUpTo('old', 'ready'), ...historyUpTo('new', 'ready'), ...historyUpTo('none', 'ready')]);
    await apply([...views('old', 8, NOW - 2 * H), ...views('new', 3, NOW)]);
    const ranked = await queries.trending(10, NOW, all);
    assert.deepEqual(ids(ranked), ['new', 'old'], 'a video without counted views is not trending');
    assert.ok(Math.abs(ranked[0].score - 3) < 1e-9, `new: ${ranked[0].score}`);
    assert.ok(Math.abs(ranked[1].score - 2) < 1e-9, `old: 8 views × 2^-2 = 2, got ${ranked[1].score}`);
    // Time passing alone reorders nothing (forward decay): both scores halve together.
    const later = await queries.trending(10, NOW + H, all);
    assert.deepEqual(ids(later), ['new', 'old']);
    assert.ok(Math.abs(later[0].score - 1.5) < 1e-9);
    // More views lift the older one past the other.
    await apply(views('old', 6, NOW));
    assert.deepEqual(ids(await queries.trending(10, NOW, all)), ['old', 'new']);
  });

  test('a view later than the grace behind the video\'s newest counted view is dropped from the score, not from the view count', async () => {
    const { apply, queries } = await driveReadModel('video-detail');
    await apply([...historyUpTo('v', 'ready'), ...views('v', 1, NOW), ...views('v', 1, NOW - TRENDING_GRACE_MS - 1), ...views('v', 1, NOW - TRENDING_GRACE_MS + 1)]);
    const [top] = await queries.trending(1, NOW, all);
    assert.ok(Math.abs(top.score - (1 + 2 ** (-(TRENDING_GRACE_MS - 1) / H))) < 1e-9, `score ${top.score}`);
    assert.equal((await queries.getVideo('v'))!.views, 3);
  });

  test('a deleted video leaves the ranking; the caller\'s rule filters the rest, and the limit holds', async () => {
    const { apply, queries } = await driveReadModel('video-detail');
    for (const id of ['a', 'b', 'c', 'd']) await apply(historyUpTo(id, 'ready'));
    await apply([...views('a', 4, NOW), ...views('b', 3, NOW), ...views('c', 2, NOW), ...views('d', 1, NOW)]);
    await apply([{ type: 'VideoDeleted', data: { videoId: 'a', deletedBy: 'owner', deletedAt: NOW } }]);
    assert.deepEqual(ids(await queries.trending(10, NOW, all)), ['b', 'c', 'd']);
    assert.deepEqual(ids(await queries.trending(10, NOW, (v) => v.videoId !== 'b')), ['c', 'd']);
    assert.deepEqual(ids(await queries.trending(1, NOW, all)), ['b']);
  });
});
