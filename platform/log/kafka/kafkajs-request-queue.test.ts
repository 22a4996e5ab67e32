/**
 * kafkajs' per-connection request queue (src/network/requestQueue, what every broker connection of
 * every producer, consumer and admin client sends through) with patches/kafkajs+2.2.4.patch: an
 * idle queue schedules nothing (kafkajs#1556: unpatched, every answered request left a timer with a
 * negative delay that re-armed itself for as long as the connection lived, a 1 ms loop per idle
 * connection), and requests held back by the in-flight limit or by broker throttling are still
 * sent. The queue is kafkajs' own class; only the socket is a stand-in (`send` records the call).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

interface RequestQueue {
  push(r: { entry: { correlationId: number; apiName: string; resolve: (v: unknown) => void; reject: (e: unknown) => void }; expectResponse: boolean; sendRequest: () => void }): void;
  fulfillRequest(r: { correlationId: number; payload: Buffer | null; size: number }): void;
  maybeThrottle(ms: number): void;
  destroy(): void;
  pending: unknown[];
  throttleCheckTimeoutId: unknown;
}
const RequestQueueClass = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as new (o: object) => RequestQueue;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** A queue on a stand-in socket: `sent` lists the correlation ids written, in order; `written(id)` resolves once `id` is; `answer(id)` answers it. */
function queue(maxInFlightRequests: number | null) {
  const q = new RequestQueueClass({ maxInFlightRequests, requestTimeout: 30_000, enforceRequestTimeout: false, clientId: 'test', broker: 'b:9092', logger: silent });
  const sent: number[] = [];
  const waiters = new Map<number, () => void>();
  const send = (correlationId: number) => new Promise<unknown>((resolve, reject) => {
    q.push({ entry: { correlationId, apiName: 'Fetch', resolve, reject }, expectResponse: true, sendRequest: () => { sent.push(correlationId); waiters.get(correlationId)?.(); } });
  });
  /** Resolves once `id` has been written to the socket. */
  const written = (id: number) => new Promise<void>((r) => (sent.includes(id) ? r() : waiters.set(id, r)));
  const answer = (correlationId: number) => q.fulfillRequest({ correlationId, payload: Buffer.alloc(0), size: 0 });
  return { q, sent, send, written, answer };
}

test('given an unthrottled connection, when a request is sent and answered, then its caller has the answer and no timer is left scheduled', async (t) => {
  const { q, sent, send, answer } = queue(null);
  t.after(() => q.destroy());
  const reply = send(1);
  assert.deepEqual(sent, [1], 'sent at once');
  answer(1);
  assert.ok(await reply);
  assert.equal(q.pending.length, 0);
  assert.equal(q.throttleCheckTimeoutId, null, 'an idle queue must not keep a timer (kafkajs#1556)');
});

test('given one request in flight on a connection allowing one, when a second is pushed, then it waits, is sent when the first is answered, and the queue goes idle after', async (t) => {
  const { q, sent, send, written, answer } = queue(1);
  t.after(() => q.destroy());
  const first = send(1);
  const second = send(2);
  assert.deepEqual(sent, [1], 'the second waits for the in-flight limit');
  answer(1);
  await written(2);
  assert.deepEqual(sent, [1, 2]);
  answer(2);
  await Promise.all([first, second]);
  assert.equal(q.throttleCheckTimeoutId, null);
});

test('given a connection the broker throttles, when a request is pushed, then it is held and sent once the throttle ends, leaving no timer', async (t) => {
  const { q, sent, send, written, answer } = queue(null);
  t.after(() => q.destroy());
  q.maybeThrottle(20); // the broker's throttle_time_ms on an earlier answer (KIP-219)
  const reply = send(7);
  assert.deepEqual(sent, [], 'held while throttled');
  assert.notEqual(q.throttleCheckTimeoutId, null, 'a pending request needs its check scheduled');
  await written(7);
  answer(7);
  await reply;
  assert.equal(q.throttleCheckTimeoutId, null);
});
