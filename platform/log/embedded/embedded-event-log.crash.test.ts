/**
 * Real crash test of the embedded log: a child process appends and consumes, is SIGKILLed at a
 * random moment (twice), restarted, and run to completion. Asserts the log's guarantee (every
 * acknowledged record is present exactly once) and the consumer pattern's guarantee (state
 * stored atomically with its checkpoint has no gap and no double-applied record).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmbeddedEventLog } from './embedded-event-log.adapter.ts';
import { tpKey } from '../event-log.port.ts';
import type { ConsumerState } from './testing/crash-child.ts';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'testing', 'crash-child.ts');
const TOTAL = 1200;
const RUN_BOUND_MS = 90_000;

interface RunResult { acks: number[]; done: boolean; killed: boolean }

/** Runs the child; with `killAfterAcks`, SIGKILLs it once that many ACK lines arrived (plus a random 0–15 ms). */
function runChild(dataDir: string, killAfterAcks?: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dataDir, String(TOTAL), '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acks: number[] = [];
    let done = false;
    let killed = false;
    let stderr = '';
    let pending = '';
    const bound = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child run exceeded ${RUN_BOUND_MS} ms; stderr: ${stderr}`)); }, RUN_BOUND_MS);
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (line === 'DONE') done = true;
        else if (line.startsWith('ACK ')) acks.push(Number(line.split(' ')[1]));
      }
      if (killAfterAcks !== undefined && !killed && acks.length >= killAfterAcks) {
        killed = true;
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 16));
      }
    });
    child.on('error', reject);
    child.on('close', (codeNum, signal) => {
      clearTimeout(bound);
      if (pending.startsWith('ACK ')) acks.push(Number(pending.split(' ')[1]));
      if (signal !== 'SIGKILL' && codeNum !== 0) reject(new Error(`child exited ${codeNum}: ${stderr}`));
      else resolve({ acks, done, killed: signal === 'SIGKILL' });
    });
  });
}

test('embedded log: acknowledged records survive kill -9; checkpointed consumer state has no gap and no duplicate', { timeout: 4 * RUN_BOUND_MS }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'streamwave-crash-'));
  try {
    const acked: number[] = [];
    let kills = 0;
    for (const killAt of [20 + Math.floor(Math.random() * 300), 20 + Math.floor(Math.random() * 300)]) {
      const r = await runChild(dataDir, killAt);
      acked.push(...r.acks);
      if (r.killed && !r.done) kills++;
    }
    const final = await runChild(dataDir);
    acked.push(...final.acks);
    assert.equal(final.done, true, 'the restarted child finishes');

    const log = await createEmbeddedEventLog({ dataDir });
    const ends = await log.endOffsets('crash');
    const counts = new Map<number, number>();
    const inLog = new Map<string, number[]>();
    for (let p = 0; p < ends.length; p++) {
      const recs = await log.read('crash', p, 0, ends[p]);
      assert.deepEqual(recs.map((r) => r.offset), recs.map((_, i) => i), `dense offsets in partition ${p}`);
      inLog.set(tpKey('crash', p), recs.map((r) => JSON.parse(r.value!.toString()).seq));
      for (const r of recs) { const s = JSON.parse(r.value!.toString()).seq as number; counts.set(s, (counts.get(s) ?? 0) + 1); }
    }
    await log.close();

    const lost = acked.filter((s) => !counts.has(s));
    const duplicated = [...counts].filter(([, n]) => n > 1).map(([s]) => s);
    const state = JSON.parse(await readFile(join(dataDir, 'consumer-state.json'), 'utf8')) as ConsumerState;
    const appliedCounts = new Map<number, number>();
    for (const s of state.applied) appliedCounts.set(s, (appliedCounts.get(s) ?? 0) + 1);
    const doubleApplied = [...appliedCounts].filter(([, n]) => n > 1).map(([s]) => s);
    const notApplied = [...counts.keys()].filter((s) => !appliedCounts.has(s));
    t.diagnostic(`kills=${kills} acknowledged=${acked.length} found=${counts.size} lost=${lost.length} duplicated=${duplicated.length} ` +
      `applied=${state.applied.length} notApplied=${notApplied.length} doubleApplied=${doubleApplied.length}`);
    console.log(`crash test: kills=${kills} acknowledged=${acked.length} found=${counts.size} lost=${lost.length} duplicated=${duplicated.length} applied=${state.applied.length} doubleApplied=${doubleApplied.length}`);

    assert.ok(kills >= 1, 'at least one run was killed mid-flight');
    assert.equal(new Set(acked).size, acked.length, 'each seq acknowledged once');
    assert.deepEqual(lost, [], 'no acknowledged record lost');
    assert.deepEqual(duplicated, [], 'no record duplicated');
    assert.deepEqual(doubleApplied, [], 'no record applied twice');
    assert.deepEqual(notApplied, [], 'no gap in the applied state');
    for (const [k, seqs] of inLog) assert.equal(state.checkpoint[k] ?? 0, seqs.length, `checkpoint of ${k} at the end`);
    assert.ok(acked.includes(TOTAL - 1));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
