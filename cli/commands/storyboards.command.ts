/**
 * `streamwave storyboards backfill --data-dir D`: seek previews for the videos published before the
 * transcoder made them (processors/storyboard-backfill/storyboard-backfill.ts), in this process,
 * against the embedded log and object store of a STOPPED standalone server (the log is locked by
 * a running one), with a progress bar like `replay`'s. Idempotent and resumable: Ctrl-C and run it
 * again; the videos done are not looked at twice.
 * Exit codes: 0 done (every video generated, already there or without video), 1 some failed,
 * 2 bad usage or a running server, 130 interrupted.
 */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import pino from 'pino';
import { Presets, SingleBar } from 'cli-progress';
import { createCommandBus } from '../../commands/command-handler.ts';
import type { Command as DomainCommand } from '../../commands/command-bus.port.ts';
import { dataKeysOver } from '../../deploy/shared/data-keys.ts';
import { createEmbeddedDataKeyStore } from '../../platform/keys/embedded-data-key-store.adapter.ts';
import { openOfflineLog } from './offline-log.ts';
import { createEmbeddedObjectStore } from '../../platform/object-store/embedded/embedded-object-store.adapter.ts';
import { runStoryboardBackfill, type BackfillProgress } from '../../processors/storyboard-backfill/storyboard-backfill.ts';
import { resolveFfmpegBinaries } from '../../processors/transcoder/ffmpeg-binaries.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';

function progressBar() {
  const bar = new SingleBar({
    format: 'storyboards [{bar}] {percentage}% | {value}/{total} videos | {generated} generated, {existing} recorded, {skipped} skipped, {failed} failed | ETA {eta}s',
    hideCursor: true,
  }, Presets.shades_classic);
  let started = false;
  return {
    update(p: BackfillProgress) {
      if (!started) { bar.start(p.total, p.done, p.outcomes); started = true; }
      bar.update(p.done, p.outcomes);
    },
    stop() { if (started) bar.stop(); },
  };
}

/** Runs the backfill over the standalone data dir `dataDir`; returns the exit code. */
export async function backfillStoryboardsOffline(dataDir: string): Promise<number> {
  const log = await openOfflineLog(dataDir, 'stop it first');
  if (log === 2) return 2;
  const registry = createSchemaRegistry({ log });
  const dataKeys = await createEmbeddedDataKeyStore({ dir: join(dataDir, 'keys') });
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  const bar = progressBar();
  try {
    await registry.start();
    const codec = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry), personalData: dataKeysOver(dataKeys).personalData });
    await codec.registerAll();
    const commandBus = createCommandBus({ log, codec });
    await commandBus.start();
    // The standalone server's object store (deploy/shared/wiring.ts): only get/put are used here, never its S3 endpoint.
    const objectStore = createEmbeddedObjectStore({
      dir: join(dataDir, 'objects'), publicBaseUrl: 'http://127.0.0.1',
      s3: { endpointPath: '/s3', bucket: 'streamwave', region: 'us-east-1', accessKeyId: 'storyboard-backfill', secretAccessKey: 'unused' },
    });
    const { ffmpeg, ffprobe } = resolveFfmpegBinaries();
    const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });
    const result = await runStoryboardBackfill({
      log, codec, objectStore, ffmpegPath: ffmpeg, ffprobePath: ffprobe, logger, signal: stop.signal,
      workDir: join(dataDir, 'work', 'storyboard-backfill'),
      send: async (type, data) => { await commandBus.send({ type, data, metadata: { now: Date.now() } } as DomainCommand); },
    }, (p) => bar.update(p));
    bar.stop();
    const o = result.outcomes;
    console.log(`storyboards: ${result.total} videos without one; ${o.generated} generated, ${o.existing} recorded from an earlier run, ${o.skipped} skipped (no video or none stored), ${o.failed} failed`);
    return o.failed > 0 ? 1 : 0;
  } catch (e) {
    bar.stop();
    if (stop.signal.aborted) {
      console.error('interrupted; run it again to resume');
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    await registry.stop();
    await log.close();
    await dataKeys.close();
  }
}

/** Adds `storyboards backfill` to the program. */
export function registerStoryboardsCommand(program: Command): void {
  program
    .command('storyboards')
    .description('seek previews (storyboards) of published videos')
    .command('backfill')
    .description('make the storyboards of videos published before storyboards existed (offline: a STOPPED standalone server\'s data dir); idempotent, resumable')
    .option('--data-dir <dir>', 'standalone data dir', process.env.STREAMWAVE_DATA_DIR ?? './data')
    .action(async (opts: { dataDir: string }) => {
      process.exitCode = await backfillStoryboardsOffline(resolve(opts.dataDir));
    });
}
