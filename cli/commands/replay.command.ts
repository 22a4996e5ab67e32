/**
 * `streamwave replay <projection> [--from-beginning | --from-timestamp T]`: rebuilds a read model
 * into a shadow copy and swaps it in when it has caught up (projections/replay/projection-manager.ts).
 *
 * Online (default): the running server does it (the embedded log is locked by its process), via
 * `POST /admin/replays` and polling `GET /admin/replays/{id}`. `--offline --data-dir D`: runs it
 * in this process against the embedded log of a STOPPED standalone server.
 * Exit codes: 0 swapped, 1 failed, 2 bad usage.
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { openOfflineLog } from './offline-log.ts';
import { READ_MODELS, type ReadModelName } from '../../projections/read-model.port.ts';
import { createProjectionManager } from '../../projections/replay/projection-manager.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import { dataKeysOver } from '../../deploy/shared/data-keys.ts';
import { createFileCurrentInstanceStore, embeddedReadModels } from '../../deploy/shared/embedded-read-models.ts';
import { createAdminClient, resolveAdminToken } from './admin-client.ts';

/** Wire form of `GET /admin/replays/{id}`. */
interface ReplayStatusBody {
  replay_id: string;
  projection: string;
  status: 'running' | 'swapped' | 'failed';
  instance_id: string;
  group_id: string;
  consumed: number;
  total: number;
  events_per_second: number;
  eta_seconds: number | null;
  error: string | null;
}

/** `--from-timestamp` value: ISO 8601 or ms since epoch. */
function parseTimestampOption(v: string): number {
  const t = v.trim();
  const ms = /^\d+$/.test(t) ? Number(t) : Date.parse(t);
  if (!Number.isFinite(ms) || ms < 0) throw new InvalidArgumentError('expected an ISO 8601 time (2026-01-31T12:00:00Z) or milliseconds since the epoch');
  return ms;
}

function progressBar(name: string) {
  const bar = new SingleBar({
    format: `replay ${name} [{bar}] {percentage}% | {value}/{total} events | {eps} events/s | ETA {etaText}`,
    hideCursor: true,
  }, Presets.shades_classic);
  let started = false;
  return {
    update(s: { consumed: number; total: number; eventsPerSecond: number; etaSeconds: number | null }) {
      const payload = { eps: s.eventsPerSecond.toFixed(1), etaText: s.etaSeconds === null ? '?' : `${s.etaSeconds}s` };
      if (!started) { bar.start(Math.max(s.total, 0), s.consumed, payload); started = true; }
      bar.setTotal(Math.max(s.total, 0));
      bar.update(s.consumed, payload);
    },
    stop() { if (started) bar.stop(); },
  };
}

const summary = (s: { projection: string; instanceId: string; groupId: string; consumed: number }, seconds: number) =>
  `swapped ${s.projection}: instance ${s.instanceId} (consumer group ${s.groupId}) now serves queries; ${s.consumed} log offsets replayed in ${seconds.toFixed(1)}s`;

async function replayOnline(name: string, from: { from_beginning?: true; from_timestamp?: number }, opts: { server: string; adminToken?: string; dataDir?: string; pollMs: number }): Promise<number> {
  const client = createAdminClient(opts.server, resolveAdminToken(opts));
  const t0 = Date.now();
  const { replay_id } = await client.request<{ replay_id: string }>('POST', '/admin/replays', { projection: name, ...from });
  console.log(`replay ${replay_id} started on ${opts.server}`);
  const bar = progressBar(name);
  let s: ReplayStatusBody;
  for (;;) {
    s = await client.request<ReplayStatusBody>('GET', `/admin/replays/${encodeURIComponent(replay_id)}`);
    bar.update({ consumed: s.consumed, total: s.total, eventsPerSecond: s.events_per_second, etaSeconds: s.eta_seconds });
    if (s.status !== 'running') break;
    await new Promise((r) => setTimeout(r, opts.pollMs));
  }
  bar.stop();
  if (s.status === 'failed') {
    console.error(`replay ${replay_id} failed: ${s.error ?? 'unknown error'} (the live read model is unchanged)`);
    return 1;
  }
  console.log(summary({ projection: s.projection, instanceId: s.instance_id, groupId: s.group_id, consumed: s.consumed }, (Date.now() - t0) / 1000));
  return 0;
}

async function replayOffline(name: ReadModelName, from: { fromBeginning: true } | { fromTimestamp: number }, dataDir: string): Promise<number> {
  const log = await openOfflineLog(dataDir, 'run the replay through it (drop --offline)');
  if (log === 2) return 2;
  const registry = createSchemaRegistry({ log });
  // The server's data keys (issue 13): personal fields decrypt as the server would show them.
  const dataKeys = await createEmbeddedDataKeyStore({ dir: join(dataDir, 'keys') });
  const t0 = Date.now();
  try {
    await registry.start();
    const { personalData, viewerPseudonyms } = dataKeysOver(dataKeys);
    const codec = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry), personalData });
    // Queries are never served from this process, so search cursors need no stable key here.
    const slots = embeddedReadModels({ dataDir, searchCursorSecret: randomBytes(32), viewerPseudonyms });
    const manager = createProjectionManager<Record<string, unknown>>({
      log,
      codec,
      projections: { [name]: slots[name] },
      pointers: createFileCurrentInstanceStore(dataDir),
    });
    await manager.start();
    const bar = progressBar(name);
    try {
      const s = await manager.replay(name, from, (p) => bar.update(p));
      bar.stop();
      console.log(summary(s, (Date.now() - t0) / 1000));
      return 0;
    } catch (e) {
      bar.stop();
      console.error(`replay failed: ${(e as Error).message} (the live read model is unchanged)`);
      return 1;
    } finally {
      await manager.close();
    }
  } finally {
    await registry.stop();
    await log.close();
    await dataKeys.close();
  }
}

/** Adds `replay` to the program. */
export function registerReplayCommand(program: Command, serverOption: (cmd: Command) => Command): void {
  serverOption(
    program
      .command('replay')
      .description('rebuild a read model into a shadow copy from the log, then swap it in atomically (live queries keep being served)')
      .addArgument(new Command().createArgument('<projection>', 'read model').choices([...READ_MODELS]))
      .addOption(new Option('--from-beginning', 'full rebuild from the first offset (default)').conflicts('fromTimestamp'))
      .addOption(new Option('--from-timestamp <time>', 'partial rebuild (backfill): only events at/after this time (ISO 8601 or ms) — the shadow starts at offsetsForTimestamp(T)').argParser(parseTimestampOption))
      .option('--admin-token <token>', 'admin API token (default: STREAMWAVE_ADMIN_TOKEN or <data dir>/admin.token)')
      .option('--data-dir <dir>', 'standalone data dir (admin.token lookup; required with --offline)', process.env.STREAMWAVE_DATA_DIR)
      .option('--offline', 'run in this process against the embedded log of a STOPPED standalone server (needs --data-dir)')
      .option('--poll-ms <ms>', 'status polling interval', (v) => Number(v), 500),
  ).action(async (name: ReadModelName, opts: { server: string; fromBeginning?: boolean; fromTimestamp?: number; adminToken?: string; dataDir?: string; offline?: boolean; pollMs: number }) => {
    if (opts.offline) {
      if (!opts.dataDir) {
        console.error('--offline needs --data-dir (or STREAMWAVE_DATA_DIR)');
        process.exitCode = 2;
        return;
      }
      const from = opts.fromTimestamp !== undefined ? { fromTimestamp: opts.fromTimestamp } : { fromBeginning: true as const };
      process.exitCode = await replayOffline(name, from, resolve(opts.dataDir));
      return;
    }
    const from = opts.fromTimestamp !== undefined ? { from_timestamp: opts.fromTimestamp } : { from_beginning: true as const };
    process.exitCode = await replayOnline(name, from, opts);
  });
}
