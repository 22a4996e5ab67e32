import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { emptySession, foldPlaybackEvent, foldPlaybackRows, playbackSessionCache, sessionKey, type PlaybackSessionState } from './playback-sessions.ts';
import { concurrentParams } from './concurrent.sql.ts';
import type { PlaybackRow } from './analytics-store.port.ts';

const row = (offset: number, type: string, extra: Partial<PlaybackRow> = {}): PlaybackRow => ({
  video_id: 'v', session_id: 's', type, position_seconds: 0, startup_time_ms: null, rendition_height: null, rebuffer_ms: null, error_code: '',
  at: 0, topic: 'streamwave.playback', partition: 2, offset, ...extra,
});

describe('foldPlaybackEvent: a session\'s running totals', () => {
  test('given a session, when its events are folded in, then each rule of the re-scan holds and the version is the last offset', () => {
    const events = [
      row(1, 'PlaybackStarted', { startup_time_ms: 300, rendition_height: 720 }),
      row(2, 'PlaybackStarted', { startup_time_ms: Number.NaN, rendition_height: 720 }), // no sample; 720 already there
      row(3, 'RenditionSwitched', { rendition_height: 360.7 }),
      row(4, 'RebufferStarted'), row(5, 'RebufferEnded', { rebuffer_ms: 250 }), row(6, 'RebufferEnded', { rebuffer_ms: Number.POSITIVE_INFINITY }),
      row(7, 'PlaybackFailed', { error_code: 'x' }), row(8, 'PlaybackFailed', { error_code: 'y' }), row(9, 'PlaybackFailed', { error_code: 'x' }),
      row(10, 'PlaybackEnded'),
    ];
    const got = events.reduce(foldPlaybackEvent, emptySession(events[0]!));
    assert.deepEqual(
      { startup: got.startup_ms, rebuffers: got.rebuffers, stalled: got.rebuffer_ms, heights: got.heights, errors: got.errors, offset: got.offset },
      { startup: [300], rebuffers: 1, stalled: 250, heights: [360, 720], errors: [['x', 2], ['y', 1]], offset: 10 },
    );
  });

  test('given totals at offset 5, when an event at or below 5 of the same partition comes again, then the same state object comes back', () => {
    const state = { ...emptySession(row(0, 'x')), rebuffers: 1, offset: 5 };
    assert.equal(foldPlaybackEvent(state, row(5, 'RebufferStarted')), state);
    assert.equal(foldPlaybackEvent(state, row(3, 'RebufferStarted')), state);
    assert.equal(foldPlaybackEvent(state, row(6, 'RebufferStarted')).rebuffers, 2);
  });

  test('given totals, when an event is folded in, then the totals before are left as they were (a failed insert commits nothing)', () => {
    const state = { ...emptySession(row(0, 'x')), offset: 0, startup_ms: [1], errors: [['x', 1]] as [string, number][] };
    const copy = structuredClone(state);
    foldPlaybackEvent(state, row(1, 'PlaybackStarted', { startup_time_ms: 2 }));
    foldPlaybackEvent(state, row(2, 'PlaybackFailed', { error_code: 'x' }));
    assert.deepEqual(state, copy);
  });
});

describe('foldPlaybackRows', () => {
  test('given rows out of order, skip markers and two sessions, when folded over known totals, then only moved sessions come back, folded in offset order', () => {
    const known = new Map<string, PlaybackSessionState>([[sessionKey('v', 's'), { ...emptySession(row(0, 'x')), rebuffers: 1, offset: 4 }]]);
    const got = foldPlaybackRows([
      row(6, 'RebufferStarted'), row(4, 'RebufferStarted'), row(5, 'RebufferStarted'), // 4 is in the known totals
      row(7, '', { session_id: '', video_id: '' }), // a skip marker
      row(8, 'PlaybackFailed', { session_id: 't', error_code: 'e' }),
    ], known);
    assert.deepEqual([...got.keys()], [sessionKey('v', 's'), sessionKey('v', 't')]);
    assert.deepEqual([got.get(sessionKey('v', 's'))!.rebuffers, got.get(sessionKey('v', 's'))!.offset], [3, 6]);
    assert.equal(known.get(sessionKey('v', 's'))!.rebuffers, 1, 'known is not modified');
    assert.equal(foldPlaybackRows([row(3, 'RebufferStarted')], known).size, 0, 'nothing moved');
  });

  test('given ids that would join alike, when keyed, then they stay apart', () => {
    assert.notEqual(sessionKey('a\u0000b', 'c'), sessionKey('a', 'b\u0000c'));
  });
});

describe('playbackSessionCache', () => {
  const state = (offset: number) => ({ ...emptySession(row(0, 'x')), offset });
  test('given a batch begun before a clear, when it commits, then its states are dropped', () => {
    const cache = playbackSessionCache();
    const epoch = cache.epoch;
    cache.clear();
    cache.commit(new Map([['k', state(1)]]), epoch);
    assert.equal(cache.get('k'), undefined);
    cache.commit(new Map([['k', state(1)]]), cache.epoch);
    assert.equal(cache.get('k')?.offset, 1);
  });

  test('given a full cache, when more sessions commit, then the least recently committed go first', () => {
    const cache = playbackSessionCache(2);
    cache.commit(new Map([['a', state(1)], ['b', state(1)]]), cache.epoch);
    cache.commit(new Map([['a', state(2)]]), cache.epoch); // a is now the most recent
    cache.commit(new Map([['c', state(1)]]), cache.epoch);
    assert.deepEqual(['a', 'b', 'c'].map((k) => cache.get(k)?.offset), [2, undefined, 1]);
    assert.equal(cache.size, 2);
  });
});

describe('concurrentParams: the whole minutes of a window and its edges', () => {
  const M = 60_000;
  test('given a window from mid-minute to mid-minute, then the whole minutes are those strictly inside', () => {
    assert.deepEqual(concurrentParams('v', 10 * M + 500, 13 * M + 100), { video_id: 'v', since_ms: 10 * M + 500, now_ms: 13 * M + 100, full_from_ms: 11 * M, full_to_ms: 13 * M, full_from_s: 660, full_to_s: 780 });
  });
  test('given a window starting on a minute, then that minute is an edge (its first millisecond is outside)', () => {
    assert.equal(concurrentParams('v', 10 * M, 12 * M).full_from_ms, 11 * M);
  });
  test('given now on the last millisecond of a minute, then that minute is whole', () => {
    assert.equal(concurrentParams('v', 10 * M, 13 * M - 1).full_to_ms, 13 * M);
  });
  test('given a window inside one minute, then no minute is whole and the edges cover it', () => {
    const p = concurrentParams('v', 10 * M + 1, 10 * M + 30_000);
    assert.equal(p.full_from_ms, p.full_to_ms);
  });
});
