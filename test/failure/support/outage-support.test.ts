/**
 * The outage proof's judgement of the gateway's answers (outage-support.ts): a request is held too
 * long by its time less the stalls of the test process in it (a host pausing the VM), never by
 * the stalls alone.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { probeProblems, stallMonitor, type Probe } from './outage-support.ts';

const T = Date.UTC(2026, 11, 2, 13, 41, 20);
const probe = (ms: number, over: Partial<Probe> = {}): Probe => ({ what: 'GET video', startedAt: T, ms, status: 200, retryAfter: null, ...over });
/** A stall of 13 s from T + 1 s. */
const stalled = (from: number, to: number) => Math.max(0, Math.min(to, T + 14_000) - Math.max(from, T + 1_000));

describe('probeProblems: a request held longer than the bound', () => {
  test('given an answer after 17 s with no stall, when judged against 16 s, then it was held too long', () => {
    const got = probeProblems([probe(17_000)], 16_000);
    assert.equal(got.length, 1);
    assert.match(got[0]!, /held 17000 ms \(> 16000 ms\)/);
  });

  test('given an answer after 17 s of which 13 s the test process stalled, when judged against 16 s, then nothing is wrong', () => {
    assert.deepEqual(probeProblems([probe(17_000)], 16_000, stalled), []);
  });

  test('given an answer after 31 s of which 13 s stalled, when judged, then 18 s ran and it was held too long, the stall said', () => {
    const got = probeProblems([probe(31_000)], 16_000, stalled);
    assert.equal(got.length, 1);
    assert.match(got[0]!, /held 31000 ms \(> 16000 ms; 13000 ms of it this process stalled\)/);
  });

  test('given the client gave up at 16 s with 13 s stalled, when judged, then it is not an answer missing', () => {
    assert.deepEqual(probeProblems([probe(16_000, { status: 0, error: 'timeout' })], 16_000, stalled), []);
  });

  test('given the client gave up at 16 s with no stall, or a connection refused in a stall, when judged, then each is no answer', () => {
    const got = probeProblems([probe(16_000, { status: 0, error: 'timeout' }), probe(2_000, { startedAt: T + 2_000, status: 0, error: 'ECONNREFUSED' })], 16_000, (from, to) => (from === T ? 0 : stalled(from, to)));
    assert.equal(got.length, 2);
    assert.match(got[0]!, /no answer \(timeout\)/);
    assert.match(got[1]!, /no answer \(ECONNREFUSED; 2000 ms of it this process stalled\)/);
  });

  test('given a 500 and a 503 without Retry-After during a stall, when judged, then both are problems still', () => {
    const got = probeProblems([probe(100, { status: 500 }), probe(100, { status: 503 })], 16_000, stalled);
    assert.deepEqual(got.map((g) => g.replace(/^\S+ /, '')), ['GET video: 500', 'GET video: 503 without Retry-After']);
  });
});

describe('stallMonitor', () => {
  test('given the event loop blocked for 300 ms, when watched with a 10 ms tick and a 150 ms minimum, then one stall covers the block', async () => {
    const m = stallMonitor(10, 150);
    try {
      await new Promise((r) => setTimeout(r, 50));
      const from = Date.now();
      while (Date.now() - from < 300) { /* block the event loop */ }
      const to = Date.now();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(m.stalls.length, 1, JSON.stringify(m.stalls));
      assert.ok(m.stalledWithin(from, to) >= 150, `stalled ${m.stalledWithin(from, to)} ms of the block`);
      assert.equal(m.stalledWithin(from - 10_000, from - 50), 0, 'nothing stalled before the block');
    } finally {
      m.stop();
    }
  });
});
