import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  effectiveWatchedSeconds, foldHeartbeat, heartbeatQualifies, heartbeatRuleVersion, summariseHeartbeats, viewThresholdSeconds, VIEW_RULE_VERSION, type Heartbeat,
} from './view-rule.ts';
import { caseHeartbeats, VIEW_RULE_CASES, VIEW_RULE_V2_CASES } from './view-rule.cases.ts';

const T = Date.UTC(2026, 10, 24, 10, 0, 0);
const hb = (sessionId: string, watchedSeconds: number, viewedAt: number, viewerId: string | null = null, videoDurationSeconds = 120): Heartbeat =>
  ({ sessionId, watchedSeconds, viewedAt, viewerId, videoDurationSeconds });

describe('view rule v1 and v2: the tables of cases, on the reference fold', () => {
  assert.ok(VIEW_RULE_V2_CASES.length >= 20, 'v2 has its own table of cases');
  for (const c of [...VIEW_RULE_CASES, ...VIEW_RULE_V2_CASES]) {
    test(c.name, () => {
      assert.deepEqual(summariseHeartbeats(caseHeartbeats(c)), c.expected);
      // Order-independent: the same heartbeats delivered in reverse give the same numbers.
      assert.deepEqual(summariseHeartbeats(caseHeartbeats(c).reverse()), c.expected);
    });
  }
});

describe('view rule v1', () => {
  test('threshold: 10 s, or the whole video (−0.5 s) when shorter', () => {
    assert.equal(viewThresholdSeconds(120), 10);
    assert.equal(viewThresholdSeconds(10), 10);
    assert.equal(viewThresholdSeconds(6), 5.5);
    assert.equal(viewThresholdSeconds(0.3), 0);
    assert.equal(viewThresholdSeconds(0), 10, 'unknown duration falls back to 10 s');
    assert.equal(viewThresholdSeconds(Number.NaN), 10);
    assert.equal(heartbeatQualifies({ watchedSeconds: 9.99, videoDurationSeconds: 60 }), false);
    assert.equal(heartbeatQualifies({ watchedSeconds: 10, videoDurationSeconds: 60 }), true);
    assert.equal(heartbeatQualifies({ watchedSeconds: 5.5, videoDurationSeconds: 6 }), true);
    assert.equal(heartbeatQualifies({ watchedSeconds: 5.4, videoDurationSeconds: 6 }), false);
    assert.equal(heartbeatQualifies({ watchedSeconds: 0, videoDurationSeconds: 0.3 }), false, 'nothing watched is never a view');
  });

  test('repeated heartbeats count once; a lower later heartbeat does not reduce watch time', () => {
    let s = foldHeartbeat(undefined, hb('s', 12, T));
    assert.equal(s.newView, true);
    assert.equal(s.watchTimeDeltaSeconds, 12);
    const again = foldHeartbeat(s.state, hb('s', 12, T));
    assert.equal(again.newView, false);
    assert.equal(again.watchTimeDeltaSeconds, 0);
    s = foldHeartbeat(again.state, hb('s', 20, T + 5000));
    assert.equal(s.newView, false);
    assert.equal(s.watchTimeDeltaSeconds, 8);
    const lower = foldHeartbeat(s.state, hb('s', 3, T + 9000));
    assert.equal(lower.watchTimeDeltaSeconds, 0);
    assert.equal(lower.state.maxWatchedSeconds, 20);
    assert.equal(lower.state.countedAt, T);
  });

  test('summary: two sessions of one viewer are 2 views and 1 unique viewer; minute of first crossing', () => {
    const m = (min: number, sec: number) => T + min * 60_000 + sec * 1000;
    const sum = summariseHeartbeats([
      hb('a', 5, m(0, 50), 'u1'), hb('a', 10, m(1, 5), 'u1'), hb('a', 40, m(2, 0), 'u1'),
      hb('b', 11, m(1, 30), 'u1'),
      hb('c', 4, m(1, 40)), // anonymous, never counted
      hb('d', 3.5, m(3, 0), null, 4), // short video, 3.5 ≥ 4 − 0.5
    ]);
    assert.deepEqual(sum, {
      views: 3,
      unique_viewers: 2,
      watch_time_seconds: 40 + 11 + 4 + 3.5,
      views_per_minute: [{ minute: '2026-11-24T10:01:00Z', views: 2 }, { minute: '2026-11-24T10:03:00Z', views: 1 }],
    });
    // Order-independent.
    assert.deepEqual(summariseHeartbeats([hb('b', 11, m(1, 30), 'u1'), hb('a', 40, m(2, 0), 'u1'), hb('a', 10, m(1, 5), 'u1')]).views_per_minute,
      [{ minute: '2026-11-24T10:01:00Z', views: 2 }]);
  });
});

describe('view rule v2', () => {
  const at = (s: number) => T + s * 1000;
  const v2 = (watchedSeconds: number, elapsedSeconds: number, videoDurationSeconds = 120): Heartbeat =>
    ({ sessionId: 's', watchedSeconds, viewedAt: at(elapsedSeconds), sessionStartedAt: T, videoDurationSeconds });

  test('is the version in force', () => {
    assert.equal(VIEW_RULE_VERSION, 'v2');
  });

  test('a heartbeat without a (finite) session start is judged by v1, uncapped', () => {
    for (const sessionStartedAt of [undefined, null, Number.NaN]) {
      const h = { ...hb('s', 1e7, T, null, 2), sessionStartedAt };
      assert.equal(heartbeatRuleVersion(h), 'v1');
      assert.equal(effectiveWatchedSeconds(h), 1e7);
    }
    assert.equal(heartbeatRuleVersion({ sessionStartedAt: 0 }), 'v2', 'the epoch is a session start like any other');
  });

  test('caps: min(watched, duration, 2 × elapsed + 5 s)', () => {
    assert.equal(effectiveWatchedSeconds(v2(1e7, 1, 2)), 2, 'the duration');
    assert.equal(effectiveWatchedSeconds(v2(1e7, 1, 120)), 7, 'the session: 2 × 1 + 5');
    assert.equal(effectiveWatchedSeconds(v2(30, 60, 120)), 30, 'honest playback is untouched');
    assert.equal(effectiveWatchedSeconds(v2(1e7, 1, 0)), 7, 'unknown duration: the session cap alone');
    assert.equal(effectiveWatchedSeconds(v2(1e7, -30, 120)), 5, 'stamped before the session start: the slack only');
    assert.equal(effectiveWatchedSeconds(v2(-3, 10, 120)), 0, 'never negative');
    assert.equal(effectiveWatchedSeconds({ ...v2(1e7, 10, 120), viewedAt: Number.NaN }), 5, 'no usable viewedAt: elapsed 0');
  });

  test('qualifies on the capped value; the fold keeps the capped max and counts once', () => {
    assert.equal(heartbeatQualifies(v2(10, 2.5, 60)), true);
    assert.equal(heartbeatQualifies(v2(10, 2.4, 60)), false);
    let s = foldHeartbeat(undefined, v2(1e7, 1, 60));
    assert.deepEqual([s.newView, s.watchTimeDeltaSeconds, s.state.maxWatchedSeconds], [false, 7, 7]);
    s = foldHeartbeat(s.state, v2(1e7, 30, 60));
    assert.deepEqual([s.newView, s.watchTimeDeltaSeconds, s.state.maxWatchedSeconds, s.state.countedAt], [true, 53, 60, at(30)]);
    s = foldHeartbeat(s.state, v2(1e7, 3000, 60));
    assert.deepEqual([s.newView, s.watchTimeDeltaSeconds], [false, 0]);
  });
});
