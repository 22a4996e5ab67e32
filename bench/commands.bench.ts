/**
 * Command round trip benchmark (issue 10): a command sent through the command processor (remote
 * bus → `streamwave.commands` → the processor's transaction → `streamwave.command-replies` → the
 * bus) against the same command decided in-process (standalone's handler, appending to the same
 * Kafka broker), side by side in one run, on one real single-node broker (deploy/local/kafka.sh,
 * started and stopped here).
 *
 *   npm run bench:commands -- [--rate 200] [--seconds 20] [--processors 1]
 *
 * Load: commands paced at `--rate` per second for `--seconds`, each on its own video in a cycle
 * StartUpload → CompleteUpload → UpdateVideoMetadata (three commands per video, in order, the next
 * sent only after the previous one's outcome, as a client does). Latency is send → outcome (the
 * events durable, their positions known), ms; HTTP is the same for both paths and left out.
 * Goal (issue 10): p99 ≤ 100 ms on a 2-core box at 200 commands/s. A benchmark, not a test: exit 0
 * when the goal is missed (1 only when the setup breaks, e.g. no broker).
 */
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { cpus, loadavg } from 'node:os';
import { randomUUID } from 'node:crypto';
import { createKafkaEventLog, type KafkaEventLog } from '../platform/log/kafka/kafka-event-log.adapter.ts';
import { createInMemoryEventLog } from '../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { createSchemaRegistry } from '../schemas/registry/schema-registry.ts';
import { createInProcessSchemaRegistryApi } from '../schemas/codec/schema-registry-api.ts';
import { createAvroEventCodec } from '../schemas/codec/avro-event-codec.ts';
import { createAvroCommandCodec } from '../schemas/codec/avro-command-codec.ts';
import { createCommandBus } from '../commands/command-handler.ts';
import { createUsernameDigest } from '../commands/command-keys.ts';
import { createRemoteCommandBus } from '../commands/remote-command-bus.ts';
import type { Command, CommandBus } from '../commands/command-bus.port.ts';
import { runCommandProcessor } from '../processors/commands/command-processor.ts';
import { kafkaAvailable, startKafkaBroker } from '../test/support/kafka-broker.ts';

/** Goal: command round trip p99 ≤ 100 ms at 200 commands/s (issue 10). */
const P99_GOAL_MS = 100;

const { values: args } = parseArgs({ options: { rate: { type: 'string', default: '200' }, seconds: { type: 'string', default: '20' }, processors: { type: 'string', default: '1' } } });
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const PROCESSORS = Number(args.processors);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

/** The three commands of video `v`, in order. */
function commandsOf(prefix: string, v: number, now: number): Command[] {
  const videoId = `${prefix}_${v}`;
  return [
    { type: 'StartUpload', data: { videoId, ownerId: 'owner', uploadId: `u${v}`, objectKey: `uploads/${videoId}/source`, filename: 'c.mp4', sizeBytes: 1000, contentType: 'video/mp4', title: `v${v}`, description: '', tags: [], partSizeBytes: 5_242_880 }, metadata: { now, actorId: 'owner' } },
    { type: 'CompleteUpload', data: { videoId, uploadId: `u${v}`, sizeBytes: 1000 }, metadata: { now: now + 1 } },
    { type: 'UpdateVideoMetadata', data: { videoId, title: `v${v}, edited` }, metadata: { now: now + 2, actorId: 'owner' } },
  ];
}

/** Sends at RATE commands/s for SECONDS: one video's three commands in sequence per chain. */
async function drive(name: string, bus: CommandBus): Promise<{ name: string; sent: number; failed: number; p50: number; p99: number; max: number; perSecond: number }> {
  const latencies: number[] = [];
  let failed = 0;
  const chains: Promise<void>[] = [];
  const videos = Math.ceil((RATE * SECONDS) / 3);
  const start = performance.now();
  for (let v = 0; v < videos; v++) {
    // A new chain every 3/RATE s keeps RATE commands/s once the chains overlap.
    const due = start + (v * 3 * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    chains.push((async () => {
      for (const c of commandsOf(name, v, Date.now())) {
        const t = performance.now();
        try {
          await bus.send(c);
          latencies.push(performance.now() - t);
        } catch {
          failed++;
        }
      }
    })());
  }
  await Promise.all(chains);
  const took = (performance.now() - start) / 1000;
  return { name, sent: videos * 3, failed, p50: pct(latencies, 50), p99: pct(latencies, 99), max: Math.max(...latencies), perSecond: (videos * 3) / took };
}

/** Mean ms per batch of each phase of streamwave_command_batch_phase_seconds, and the batches and commands per batch. */
async function phaseMeans(metrics: Registry): Promise<string> {
  const { values } = await metrics.getSingleMetric('streamwave_command_batch_phase_seconds')!.get();
  const of = (phase: string, name: string) => (values as Array<{ labels: Record<string, unknown>; value: number; metricName?: string }>).find((v) => v.labels.phase === phase && v.metricName === name)?.value ?? 0;
  const batches = of('commit', 'streamwave_command_batch_phase_seconds_count');
  const decided = (await metrics.getSingleMetric('streamwave_commands_total')!.get()).values.reduce((a, v) => a + v.value, 0);
  const parts = ['decide', 'commit'].map((p) => `${p} ${((of(p, 'streamwave_command_batch_phase_seconds_sum') / Math.max(1, of(p, 'streamwave_command_batch_phase_seconds_count'))) * 1000).toFixed(1)}`);
  return `${parts.join(', ')}; ${batches} batches, ${(decided / Math.max(1, batches)).toFixed(1)} commands per batch`;
}

async function main(): Promise<number> {
  if (!(await kafkaAvailable())) { console.error('no Java/Maven: cannot start a Kafka broker'); return 1; }
  console.log(`command round trip, ${RATE} commands/s for ${SECONDS} s, ${PROCESSORS} command processor(s); ${cpus().length} cores, load ${loadavg()[0].toFixed(2)}`);
  const broker = await startKafkaBroker();
  const logs: KafkaEventLog[] = [];
  try {
    const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
    await registry.start();
    const api = createInProcessSchemaRegistryApi(registry);
    const codec = createAvroEventCodec({ registry: api });
    const commands = createAvroCommandCodec({ registry: api });
    await codec.registerAll();
    await commands.registerAll();
    const open = async (clientId: string, namespace: string) => {
      const log = await createKafkaEventLog({ brokers: [broker.bootstrap], clientId, namespace, replicationFactor: 1, maxWaitTimeMs: 5 });
      logs.push(log);
      return log;
    };
    const ns = randomUUID().slice(0, 8);

    // Baseline: decided in-process (standalone's handler) on the same broker.
    const handler = createCommandBus({ log: await open('bench-in-process', `inproc-${ns}`), codec });
    await handler.start();
    const baseline = await drive('in-process', handler);

    // Through the command processor.
    const digest = createUsernameDigest('bench-username-key-secret-0123456789');
    const stops: Array<() => Promise<void>> = [];
    const metrics = new Registry();
    for (let i = 0; i < PROCESSORS; i++) {
      const p = await runCommandProcessor({ log: await open(`bench-processor-${i}`, `remote-${ns}`), codec, commands, usernameDigest: digest, registry: metrics });
      stops.push(() => p.stop());
    }
    const bus = createRemoteCommandBus({ log: await open('bench-gateway', `remote-${ns}`), codec, commands, usernameDigest: digest, instanceId: 'bench-gateway' });
    await bus.start();
    const remote = await drive('command processor', bus);
    await bus.stop();
    for (const s of stops) await s();

    console.log('\npath                 sent   failed  done/s   p50 ms  p99 ms  max ms');
    for (const r of [baseline, remote]) {
      console.log(`${r.name.padEnd(20)} ${String(r.sent).padStart(5)} ${String(r.failed).padStart(8)} ${r.perSecond.toFixed(0).padStart(7)} ${r.p50.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(7)} ${r.max.toFixed(1).padStart(7)}`);
    }
    console.log(`\nwhere a batch's time goes (mean per batch, ms): ${await phaseMeans(metrics)}`);
    console.log(`\ncommand processor p99 ${remote.p99.toFixed(1)} ms vs in-process ${baseline.p99.toFixed(1)} ms (×${(remote.p99 / baseline.p99).toFixed(2)}); goal p99 ≤ ${P99_GOAL_MS} ms: ${remote.p99 <= P99_GOAL_MS ? 'met' : 'MISSED'}`);
    return 0;
  } finally {
    for (const l of logs) await l.close().catch(() => {});
    await broker.stop();
  }
}

process.exitCode = await main().catch((e: unknown) => { console.error(e); return 1; });
