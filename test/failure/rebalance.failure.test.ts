/**
 * Failure proof — REBALANCE: consumer instances (projection runtime processes, as the
 * projector role runs them) are added to and removed from one consumer group while a load is
 * produced, and one is killed with SIGKILL (no leave-group: its partitions move only when its
 * session times out). Each instance has its own store file; the checkpoint an instance seeks to on
 * assignment is read from all of them (the shared read-model store of cluster mode). Across the
 * union, every record is applied EXACTLY once: no (partition, offset) twice, none missing — which
 * fails if two members ever own a partition at once, if a revoked member commits or applies after
 * losing it, or if a new owner starts anywhere but the checkpoint.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaRequirement, startKafkaBroker } from '../support/kafka-broker.ts';
import { createKafkaEventLog } from '../../platform/log/kafka/kafka-event-log.adapter.ts';
import { readSink } from './support/rebalance-member.ts';
import { ROOT, waitUntil, sleep } from './support/cluster-harness.ts';

const skip = await kafkaRequirement();
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => { for (const f of cleanups.reverse()) await f().catch(() => {}); });

const TOPIC = 'rebalance.events';
const PARTITIONS = 6;
const TOTAL = 30_000;
const PER_APPEND = 250;

interface Member { id: string; child: ChildProcess; exited: Promise<unknown>; ready: Promise<void> }

test('rebalance: members join and leave during the load; every record applied exactly once across instances', { timeout: 600_000, skip }, async (t) => {
  const broker = await startKafkaBroker();
  cleanups.push(() => broker.stop());
  const sinkDir = await mkdtemp(join(tmpdir(), 'streamwave-rebalance-'));
  cleanups.push(() => rm(sinkDir, { recursive: true, force: true }));
  const log = await createKafkaEventLog({ brokers: [broker.bootstrap], clientId: 'rebalance-loader', replicationFactor: 1 });
  cleanups.push(() => log.close());
  await log.createTopic({ name: TOPIC, partitions: PARTITIONS });

  const members = new Map<string, Member>();
  cleanups.push(async () => { for (const m of members.values()) { m.child.kill('SIGKILL'); await m.exited; } });
  let n = 0;
  const add = (): Member => {
    const id = `m${n++}`;
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/failure/support/rebalance-member.ts'), broker.bootstrap, TOPIC, 'rebalance-proof', sinkDir, id], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => { err = (err + b.toString()).slice(-4000); });
    const exited = new Promise((r) => child.once('exit', r));
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (b: Buffer) => { if (b.toString().includes('ready')) resolve(); });
      void exited.then(() => reject(new Error(`member ${id} exited before ready: ${err}`)));
    });
    ready.catch(() => {});
    const m = { id, child, exited, ready };
    members.set(id, m);
    return m;
  };
  const remove = async (id: string) => {
    const m = members.get(id)!;
    m.child.kill('SIGTERM');
    const t0 = Date.now();
    await Promise.race([m.exited, sleep(30_000)]);
    if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
    await m.exited;
    members.delete(id);
    return (Date.now() - t0) / 1000;
  };

  /** A crash: SIGKILL, no leave-group; the coordinator notices only when the session times out. */
  const kill9 = async (id: string) => {
    const m = members.get(id)!;
    m.child.kill('SIGKILL');
    await m.exited;
    members.delete(id);
  };

  await add().ready;
  // Membership changes at fixed points of the load: +1, +1, -first, +1, -second, +1, then a crash of the third.
  const plan = new Map<number, () => Promise<unknown>>([
    [20, async () => add().ready],
    [35, async () => add().ready],
    [50, () => remove('m0')],
    [65, async () => add().ready],
    [80, () => remove('m1')],
    [95, async () => add().ready],
    [105, () => kill9('m2')],
  ]);
  const changes: string[] = [];
  const started = Date.now();
  let seq = 0;
  for (let a = 0; a < TOTAL / PER_APPEND; a++) {
    const change = plan.get(a);
    // Membership changes run concurrently with the load (not awaited here).
    if (change) { const at = a; void change().then(() => changes.push(`append ${at}: ok`), (e: unknown) => changes.push(`append ${at}: ${(e as Error).message}`)); }
    await log.append(TOPIC, Array.from({ length: PER_APPEND }, () => { const s = seq++; return { key: `k${s % 97}`, value: Buffer.from(String(s)) }; }));
    await sleep(40);
  }
  const ends = await log.endOffsets(TOPIC);
  const total = ends.reduce((a, b) => a + b, 0);
  await waitUntil('every member change done', 120_000, async () => changes.length === plan.size);
  await waitUntil('the union of the sinks to cover every record', 240_000, async () => new Set(readSink(sinkDir).map((r) => `${r.partition}:${r.offset}`)).size >= total, 500);
  const loadSeconds = (Date.now() - started) / 1000;
  for (const id of [...members.keys()]) await remove(id);

  const applied = readSink(sinkDir);
  const seen = new Map<string, number>();
  for (const r of applied) seen.set(`${r.partition}:${r.offset}`, (seen.get(`${r.partition}:${r.offset}`) ?? 0) + 1);
  const duplicated = [...seen.values()].filter((c) => c > 1).length;
  let missing = 0;
  for (let p = 0; p < PARTITIONS; p++) for (let o = 0; o < ends[p]; o++) if (!seen.has(`${p}:${o}`)) missing++;
  const perMember = new Map<string, number>();
  for (const r of applied) perMember.set(r.member, (perMember.get(r.member) ?? 0) + 1);
  t.diagnostic(`records ${total}; applied ${applied.length}; duplicated ${duplicated}; missing ${missing}; ${loadSeconds.toFixed(1)} s until all applied`);
  t.diagnostic(`members ${n} (4 joins after the first, 2 graceful leaves, 1 kill -9); applied per member ${[...perMember].map(([m, c]) => `${m}=${c}`).join(' ')}; changes ${changes.join('; ')}`);

  assert.ok(changes.every((c) => c.endsWith('ok')), changes.join('; '));
  assert.ok(perMember.size >= 3, 'partitions really moved between members');
  assert.equal(missing, 0);
  assert.equal(duplicated, 0);
  assert.equal(applied.length, total);
});
