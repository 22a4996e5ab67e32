/** The live-events feed (issue 14) given a video's events, when a client listens or resumes. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainEvent } from '../../domain/events.ts';
import { historyUpTo } from '../../domain/video/video.fixtures.ts';
import { createTopologyTestDriver } from '../../processors/runtime/testing/topology-test-driver.ts';
import { testCodec } from '../../test/support/test-world.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { tpKey } from '../../platform/log/event-log.port.ts';
import { COMMENTS_RETAINED, createLiveEventsProjection, type LiveEventsDeps } from './live-events.projection.ts';
import type { LiveSignal } from './live-events.port.ts';

const T0 = Date.UTC(2026, 11, 1);
let n = 0;
const comment = (videoId: string): DomainEvent => ({ type: 'CommentPosted', data: { commentId: `c${++n}`, videoId, authorId: 'u1', parentId: null, body: 'hello', postedAt: T0 + n } });
const view = (videoId: string): DomainEvent => ({
  type: 'VideoViewed',
  data: { videoId, sessionId: `s${++n}`, viewerId: null, watchedSeconds: 12, positionSeconds: 12, videoDurationSeconds: 60, viewedAt: T0 + n, sessionStartedAt: null },
});
const like = (videoId: string): DomainEvent => ({ type: 'VideoLiked', data: { videoId, userId: `u${++n}`, likedAt: T0 + n } });

async function feed(deps: LiveEventsDeps = {}) {
  const node = createLiveEventsProjection(deps);
  const driver = await createTopologyTestDriver({ nodes: [node], codec: await testCodec() });
  return {
    live: node.queries,
    driver,
    async apply(events: DomainEvent[]) {
      await driver.pipe(events);
      await driver.process();
    },
  };
}
const kinds = (signals: readonly LiveSignal[]) => signals.map((s) => s.kind);

describe('live-events feed', () => {
  test('given a listener on a video, each status, comment, view and like of that video reaches it in order, and nothing of another video', async () => {
    const { live, apply } = await feed();
    const got: LiveSignal[] = [];
    live.subscribe('A', (s) => got.push(s));
    await apply([...historyUpTo('A', 'ready'), ...historyUpTo('B', 'ready'), comment('A'), comment('B'), view('A'), like('A')]);
    assert.deepEqual(kinds(got), ['status', 'status', 'status', 'status', 'status', 'comment', 'views', 'likes']);
    const c = got.find((s) => s.kind === 'comment')!;
    assert.equal(c.topic, TOPICS.comments);
    assert.match(c.commentId!, /^c\d+$/);
    assert.equal(typeof c.postedAt, 'number');
    // Ids are positions: each one at least as far on every topic as the one before.
    assert.equal(new Set(got.map((s) => s.id)).size, got.length, 'every signal has its own id');
    assert.equal(live.positionOf('A'), got.at(-1)!.id);
    assert.equal(live.positionOf('nobody'), '');
  });

  test('given a client that saw the second status, since() gives what it missed, one latest state per kind and every comment', async () => {
    const { live, apply } = await feed();
    const got: LiveSignal[] = [];
    live.subscribe('A', (s) => got.push(s));
    await apply([...historyUpTo('A', 'uploaded'), view('A'), comment('A'), view('A'), comment('A'), ...historyUpTo('A', 'ready').slice(2)]);
    const arrival = got;
    const seen = got[1].id;
    const missed = live.since('A', seen);
    assert.ok(Array.isArray(missed));
    assert.deepEqual(kinds(missed).sort(), ['comment', 'comment', 'status', 'views']);
    assert.deepEqual(missed.map((s) => arrival.indexOf(s)), [...missed.map((s) => arrival.indexOf(s))].sort((a, b) => a - b), 'in arrival order');
    assert.equal(missed.filter((s) => s.kind === 'views').length, 1, 'two views reduced to the latest');
    assert.equal(missed.find((s) => s.kind === 'views')!.offset, got.filter((s) => s.kind === 'views').at(-1)!.offset);
    assert.equal(missed.filter((s) => s.kind === 'status').length, 1);
    // A client that saw everything misses nothing.
    assert.deepEqual(live.since('A', got.at(-1)!.id), []);
  });

  test('a position the feed cannot vouch for is a gap: garbage, from before the feed started, or past the retained comments', async () => {
    const { live, apply } = await feed();
    await apply([...historyUpTo('A', 'ready')]);
    const early = live.positionOf('A');
    for (const bad of ['x', '9:0:1', '0:0:1.0:0:2', '0:0:-1']) assert.deepEqual(live.since('A', bad), { gap: 'POSITION_UNKNOWN' }, bad);
    await apply(Array.from({ length: COMMENTS_RETAINED + 1 }, () => comment('A')));
    assert.deepEqual(live.since('A', early), { gap: 'POSITION_NOT_RETAINED' }, 'the first comment after `early` is no longer retained');

    // A feed that starts at the log's end (a gateway started later) cannot vouch for older positions.
    const { live: later, apply: applyLater, driver } = await feed({ startAt: async () => new Map([[tpKey(TOPICS.videos, 0), 1_000], [tpKey(TOPICS.videos, 1), 1_000]]) });
    await driver.process();
    await applyLater([]);
    assert.deepEqual(later.since('A', '0:0:5'), { gap: 'POSITION_NOT_RETAINED' });
    assert.deepEqual(later.since('A', '0:0:1000'), []);
  });

  test('a video no longer retained (too many others changed since) is a gap for a client below its last position, not a silent []', async () => {
    const { live, apply } = await feed({ videosRetained: 2 });
    await apply([comment('A')]);
    const seen = live.positionOf('A');
    await apply([comment('A'), comment('B'), comment('C'), comment('D')]);
    assert.deepEqual(live.since('A', seen), { gap: 'POSITION_NOT_RETAINED' });
    const d = live.positionOf('D');
    assert.deepEqual(live.since('D', d), [], 'a retained video resumes as before');
  });
});
