/** Playback session ids (issue 8): round trip, binding to the video and the secret, expiry, malformed input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createPlaybackSessions } from './playback-session.ts';

const SECRET = 'a-playback-secret-of-at-least-32-characters';

test('an issued session verifies for its video until it expires, with its issue time', () => {
  let now = 1_700_000_000_000;
  const ps = createPlaybackSessions({ secret: SECRET, ttlSeconds: 60, now: () => now });
  const s = ps.issue('vid_1');
  assert.equal(s.issuedAt, now);
  assert.equal(s.expiresAt, now + 60_000);
  assert.deepEqual(ps.verify('vid_1', s.sessionId), { ok: true, issuedAt: s.issuedAt, expiresAt: s.expiresAt });
  now += 59_999;
  assert.equal(ps.verify('vid_1', s.sessionId).ok, true);
  now += 1;
  assert.deepEqual(ps.verify('vid_1', s.sessionId), { ok: false, reason: 'expired' });
});

test('another video, another secret, or any changed field → bad_signature; a future issue time → not_yet_valid', () => {
  const now = 1_700_000_000_000;
  const ps = createPlaybackSessions({ secret: SECRET, ttlSeconds: 60, now: () => now });
  const s = ps.issue('vid_1');
  assert.deepEqual(ps.verify('vid_2', s.sessionId), { ok: false, reason: 'bad_signature' });
  const other = createPlaybackSessions({ secret: `${SECRET}!`, ttlSeconds: 60, now: () => now });
  assert.deepEqual(other.verify('vid_1', s.sessionId), { ok: false, reason: 'bad_signature' });
  const [p, iat, exp, nonce, mac] = s.sessionId.split('.');
  for (const forged of [[p, String(Number(iat) - 1), exp, nonce, mac], [p, iat, String(Number(exp) + 1), nonce, mac], [p, iat, exp, `${nonce.slice(0, -1)}${nonce.endsWith('A') ? 'B' : 'A'}`, mac]]) {
    assert.deepEqual(ps.verify('vid_1', forged.join('.')), { ok: false, reason: 'bad_signature' });
  }
  const early = createPlaybackSessions({ secret: SECRET, ttlSeconds: 600, now: () => now + 120_000 }).issue('vid_1');
  assert.deepEqual(ps.verify('vid_1', early.sessionId), { ok: false, reason: 'not_yet_valid' });
});

test('arbitrary strings never verify and never throw', () => {
  const ps = createPlaybackSessions({ secret: SECRET, ttlSeconds: 60, now: () => 1_700_000_000_000 });
  fc.assert(fc.property(fc.string({ maxLength: 200 }), (id) => {
    const r = ps.verify('vid_1', id);
    assert.equal(r.ok, false);
  }), { numRuns: 2000 });
});

test('a session that verified once is remembered only for its own video and id; forged variants still fail', () => {
  const now = 1_700_000_000_000;
  const ps = createPlaybackSessions({ secret: SECRET, ttlSeconds: 60, now: () => now });
  const s = ps.issue('vid_1');
  assert.equal(ps.verify('vid_1', s.sessionId).ok, true);
  assert.equal(ps.verify('vid_1', s.sessionId).ok, true, 'again, from the remembered verification');
  assert.deepEqual(ps.verify('vid_2', s.sessionId), { ok: false, reason: 'bad_signature' });
  const [p, iat, exp, nonce, mac] = s.sessionId.split('.');
  assert.deepEqual(ps.verify('vid_1', [p, iat, String(Number(exp) + 1), nonce, mac].join('.')), { ok: false, reason: 'bad_signature' });
});
