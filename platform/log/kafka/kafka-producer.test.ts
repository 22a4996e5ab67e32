/**
 * The idempotent producer's recovery from lost sequence state (kafka-producer.ts): kafkajs cannot
 * bump its producer epoch (KIP-360), so once the broker answers OUT_OF_ORDER_SEQUENCE_NUMBER every
 * later batch of that producer is refused. The append that meets it fails (not acknowledged) and the
 * next one goes through a fresh producer. The broker-crash failure proof exercises this against a
 * real broker; here the kafkajs producers are stand-ins so the error can be produced on demand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Kafka, Producer } from 'kafkajs';
import { append } from './kafka-producer.ts';
import { namespaceOf, settingsOf, type KafkaContext } from './kafka-client.ts';
import { EventLogError } from '../event-log.errors.ts';

/** A stand-in producer: `send` fails with `failWith` (a kafkajs protocol error type) or acknowledges. */
function standIn(id: number, failWith?: string) {
  const p = {
    id,
    sends: 0,
    connected: false,
    disconnected: false,
    async connect() { p.connected = true; },
    async disconnect() { p.disconnected = true; },
    async send({ messages }: { messages: { partition: number }[] }) {
      p.sends++;
      if (failWith) throw Object.assign(new Error('The broker received an out of order sequence number'), { name: 'KafkaJSProtocolError', type: failWith, retriable: false });
      return [...new Set(messages.map((m) => m.partition))].map((partition) => ({ topicName: 't', partition, errorCode: 0, baseOffset: '0' }));
    },
  };
  return p;
}

function contextWith(first: ReturnType<typeof standIn>, next: () => ReturnType<typeof standIn>): KafkaContext {
  const client = { producer: () => next() } as unknown as Kafka;
  const ctx = {
    settings: { ...settingsOf({ brokers: [], clientId: 'test' }), deliveryTimeoutMs: 50 },
    logger: pino({ level: 'silent' }),
    client,
    producer: first as unknown as Producer,
    ns: namespaceOf(undefined),
    partitionCounts: new Map([['events', 3]]),
    roundRobin: new Map(),
    members: new Map(),
    handles: new Set(),
    retired: new Set(),
    closed: false,
  } as unknown as KafkaContext;
  return ctx;
}

const records = [{ key: 'a', value: Buffer.from('1') }, { key: 'b', value: Buffer.from('2') }];

for (const type of ['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID']) {
  test(`${type}: the append fails unacknowledged, the next goes through a fresh producer`, async () => {
    const broken = standIn(1, type);
    const made: ReturnType<typeof standIn>[] = [];
    const ctx = contextWith(broken, () => { const p = standIn(2 + made.length); made.push(p); return p; });

    await assert.rejects(append(ctx, 'events', records), (e: unknown) => e instanceof EventLogError && e.code === 'IO_FAILED');
    // Concurrent appends that also meet the error replace the producer once, not once each.
    await Promise.allSettled([append(ctx, 'events', records), append(ctx, 'events', records)]);
    const positions = await append(ctx, 'events', records);

    assert.equal(made.length, 1, 'one fresh producer');
    assert.equal(made[0].connected, true);
    assert.equal(ctx.producer as unknown, made[0], 'the adapter now sends through the fresh producer');
    assert.equal(positions.length, records.length);
    assert.ok(made[0].sends >= 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(broken.disconnected, true, 'the broken producer is disconnected after the delivery timeout');
    assert.equal(ctx.retired.size, 0);
  });
}

test('other failures keep the producer', async () => {
  const flaky = standIn(1, 'REQUEST_TIMED_OUT');
  let made = 0;
  const ctx = contextWith(flaky, () => { made++; return standIn(2); });
  await assert.rejects(append(ctx, 'events', records), (e: unknown) => e instanceof EventLogError && e.code === 'IO_FAILED');
  assert.equal(made, 0);
  assert.equal(ctx.producer as unknown, flaky);
});

test('the broker error wrapped by the kafkajs retrier in `cause` replaces the producer too', async () => {
  const refusal = Object.assign(new Error('The broker received an out of order sequence number'), { name: 'KafkaJSProtocolError', type: 'OUT_OF_ORDER_SEQUENCE_NUMBER', retriable: false });
  const broken = standIn(1);
  broken.send = async () => { broken.sends++; throw Object.assign(new Error(refusal.message), { name: 'KafkaJSNonRetriableError', retriable: false, cause: refusal }); };
  let made = 0;
  const ctx = contextWith(broken, () => { made++; return standIn(2); });
  await assert.rejects(append(ctx, 'events', records), (e: unknown) => e instanceof EventLogError && e.code === 'IO_FAILED');
  await append(ctx, 'events', records);
  assert.equal(made, 1);
  assert.notEqual(ctx.producer as unknown, broken);
});
