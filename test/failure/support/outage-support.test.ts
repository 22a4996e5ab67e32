/**
 * The outage proof's judgement of the gateway's answers (outage-support.ts): a request is held too
 * long by its time less the stalls of the test process in it (a host pausing the VM), never by
 * the stalls alone.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { overlapMs, probe as probeUrl, probeProblems, stallMonitor, type Probe } from './outage-support.ts';

const T = Date.UTC(2026, 11, 2, 13, 41, 20);
const probe = (ms: number, over: Partial<Probe> = {}): Probe => ({ what: 'GET video', startedAt: T, ms, status: 200, retryAfter: null, ...over });
/** A stall of 13 s from T + 1 s. */
const stalled = (from: number, to: number) => overlapMs([{ from: T + 1_000, to: T + 14_000 }], from, to);

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

  test('given the probe gave up at its wall-clock cap with 13 s of it stalled, when judged, then it is not an answer missing', () => {
    const capped = (from: number, to: number) => overlapMs([{ from: T + 1_000, to: T + 40_000 }], from, to);
    assert.deepEqual(probeProblems([probe(48_000, { status: 0, error: 'timeout' })], 16_000, capped), []);
  });

  test('given the client gave up after 29 s of which 13 s stalled, or a connection refused in a stall, when judged, then each is no answer, once', () => {
    const got = probeProblems([probe(29_000, { status: 0, error: 'timeout' }), probe(2_000, { startedAt: T + 2_000, status: 0, error: 'ECONNREFUSED' })], 16_000, stalled);
    assert.equal(got.length, 2, got.join('\n'));
    assert.match(got[0]!, /no answer \(timeout; 13000 ms of it this process stalled\)/);
    assert.match(got[1]!, /no answer \(ECONNREFUSED; 2000 ms of it this process stalled\)/);
  });

  test('given a 500 and a 503 without Retry-After during a stall, when judged, then both are problems still', () => {
    const got = probeProblems([probe(100, { status: 500 }), probe(100, { status: 503 })], 16_000, stalled);
    assert.deepEqual(got.map((g) => g.replace(/^\S+ /, '')), ['GET video: 500', 'GET video: 503 without Retry-After']);
  });
});

describe('overlapMs', () => {
  test('given two spans, when a window covers one whole and the other in part, then both parts add up', () => {
    const spans = [{ from: 100, to: 200 }, { from: 300, to: 500 }];
    assert.equal(overlapMs(spans, 150, 400), 50 + 100);
    assert.equal(overlapMs(spans, 0, 1_000), 300);
    assert.equal(overlapMs(spans, 200, 300), 0);
    assert.equal(overlapMs([], 0, 1_000), 0);
  });
});

describe('probe: the client timeout counts running time', () => {
  test('given a server that never answers, when probed with 300 ms and the first 200 ms stalled, then it gives up after 300 ms that ran', async () => {
    const server = createServer(() => { /* never answers */ });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const log: Probe[] = [];
      await probeUrl(log, 'plain', url, { timeoutMs: 300 });
      // The stall is the first 200 ms of the probe itself: anchored at the start the probe reports
      // (its first question), not at a clock read before the call, which may be a millisecond earlier.
      let began: number | undefined;
      const stalledWithin = (from: number, to: number) => { began ??= from; return overlapMs([{ from: began, to: began + 200 }], from, to); };
      await probeUrl(log, 'stalled', url, { timeoutMs: 300, stalledWithin });
      assert.deepEqual(log.map((p) => [p.what, p.status, p.error]), [['plain', 0, 'timeout'], ['stalled', 0, 'timeout']]);
      assert.ok(log[0]!.ms >= 300, `plain gave up after ${log[0]!.ms} ms`);
      assert.ok(log[1]!.ms >= 500, `stalled gave up after ${log[1]!.ms} ms: the 200 ms stalled must not count`);
      assert.deepEqual(probeProblems(log, 300, stalledWithin).map((l) => l.replace(/^\S+ /, '')),
        ['plain: no answer (timeout)', 'stalled: no answer (timeout; 200 ms of it this process stalled)']);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('stallMonitor', () => {
  test('given the event loop blocked for 300 ms, when watched with a 10 ms tick and a 150 ms minimum, then a stall covers the block', async () => {
    const m = stallMonitor(10, 150);
    try {
      await new Promise((r) => setTimeout(r, 50));
      const from = Date.now();
      while (Date.now() - from < 300) { /* block the event loop */ }
      const to = Date.now();
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(m.stalls.length >= 1, JSON.stringify(m.stalls));
      assert.ok(m.stalledWithin(from, to) >= 150, `stalled ${m.stalledWithin(from, to)} ms of the block`);
      assert.equal(m.stalledWithin(from - 10_000, from - 50), 0, 'nothing stalled before the block');
    } finally {
      m.stop();
    }
  });
});
