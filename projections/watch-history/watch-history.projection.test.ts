import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainEvent } from '../../domain/events.ts';
import { driveReadModel } from '../testing/projection-test-kit.ts';
import { WATCH_HISTORY_CAP } from './watch-history.port.ts';

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const hb = (videoId: string, sessionId: string, viewerId: string | null, viewedAt: number, positionSeconds = 1): DomainEvent => ({
  type: 'VideoViewed', data: { videoId, sessionId, viewerId, watchedSeconds: positionSeconds, positionSeconds, videoDurationSeconds: 60, viewedAt },
});

describe('watch-history projection', () => {
  test('one entry per video, the latest heartbeat wins, newest first; anonymous heartbeats are nobody\'s history', async () => {
    const { apply, queries } = await driveReadModel('watch-history');
    await apply([hb('v1', 's1', 'u1', T0 + 1_000, 4), hb('v2', 's2', 'u1', T0 + 2_000), hb('v1', 's1', 'u1', T0 + 3_000, 25), hb('v3', 's3', null, T0 + 4_000)]);
    assert.deepEqual(await queries.getWatchHistory('u1'), [
      { videoId: 'v1', watchedAt: T0 + 3_000, positionSeconds: 25 },
      { videoId: 'v2', watchedAt: T0 + 2_000, positionSeconds: 1 },
    ]);
    assert.deepEqual(await queries.getWatchHistory('nobody'), []);
  });

  test('a stale, reordered heartbeat does not move a video back in the history', async () => {
    const { apply, queries } = await driveReadModel('watch-history');
    await apply([hb('v1', 's1', 'u1', T0 + 5_000, 30), hb('v1', 's1', 'u1', T0 + 1_000, 3)]);
    assert.deepEqual(await queries.getWatchHistory('u1'), [{ videoId: 'v1', watchedAt: T0 + 5_000, positionSeconds: 30 }]);
  });

  test(`capped at ${WATCH_HISTORY_CAP} videos; the oldest are evicted`, async () => {
    const { apply, queries } = await driveReadModel('watch-history');
    await apply(Array.from({ length: WATCH_HISTORY_CAP + 5 }, (_, i) => hb(`h${i}`, `hs${i}`, 'u9', T0 + i * 1000)));
    const history = await queries.getWatchHistory('u9');
    assert.equal(history.length, WATCH_HISTORY_CAP);
    assert.equal(history[0].videoId, `h${WATCH_HISTORY_CAP + 4}`);
    assert.equal(history[history.length - 1].videoId, 'h5', 'the five oldest were evicted');
  });

  test('erasure (issue 13): the history is deleted, and heartbeats of the erased viewer read later are not recorded', async () => {
    const { apply, queries } = await driveReadModel('watch-history');
    await apply([hb('v1', 's1', 'u1', T0 + 1_000), hb('v1', 's2', 'u2', T0 + 1_000)]);
    await apply([{ type: 'UserErased', data: { userId: 'u1', erasedAt: T0 + 2_000 } }, hb('v2', 's3', 'u1', T0 + 3_000)]);
    await apply([hb('v3', 's4', 'u1', T0 + 4_000)]);
    assert.deepEqual(await queries.getWatchHistory('u1'), []);
    assert.equal((await queries.getWatchHistory('u2')).length, 1);
  });
});
