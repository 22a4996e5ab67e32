/**
 * The write side of a cluster role (ADR 0006, issue 10): nothing outside the command processor
 * decides a command.
 *
 * - `commands` (and `all`): the command processor (consumer group `streamwave.command-processor`
 *   on `streamwave.commands`), the single writer of every aggregate, plus the upload reaper, which
 *   needs the processor's view of pending uploads.
 * - `gateway`, `transcoder`, `commands`, `all`: a remote command bus (commands to the topic,
 *   outcomes from `streamwave.command-replies`, reply address `<role>-<host>-<port>-<pid>`). The
 *   gateway's heartbeats go to a view recorder instead (decided against a follower of the videos
 *   topic and appended directly: no round trip).
 * - `gateway` and `transcoder` still clean their own temp folders (the reaper with no uploads to
 *   abandon).
 */
import { hostname } from 'node:os';
import type { pino } from 'pino';
import type { Registry } from 'prom-client';
import type { StreamWaveConfig } from '../config/config.ts';
import type { ClusterRole } from './role-support.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import type { SchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import { createAvroCommandCodec } from '../../schemas/codec/avro-command-codec.ts';
import type { PersonalDataCipher } from '../../schemas/codec/personal-data.ts';
import type { ObjectStore } from '../../platform/object-store/object-store.port.ts';
import type { CommandBus } from '../../commands/command-bus.port.ts';
import { createUsernameDigest } from '../../commands/command-keys.ts';
import { createRemoteCommandBus } from '../../commands/remote-command-bus.ts';
import { createViewRecorder } from '../../commands/view-recorder.ts';
import { runCommandProcessor, type CommandProcessorHandle } from '../../processors/commands/command-processor.ts';
import { createUploadReaper, type UploadReaper } from '../../processors/upload-reaper/upload-reaper.ts';
import { totalLag } from '../shared/wiring.ts';

/** What `openWriteSide` needs from the role being started. */
export interface WriteSideDeps {
  role: ClusterRole;
  config: StreamWaveConfig;
  log: EventLog;
  codec: EventCodec;
  registryApi: SchemaRegistryApi;
  /** Crypto-shredding of the command fields marked `personal-data` (issue 13; deploy/shared/data-keys.ts). */
  personalData: PersonalDataCipher;
  /** The role's object store (the reaper aborts abandoned multipart uploads on it). */
  objectStore: Pick<ObjectStore, 'abortMultipartUpload' | 'exists'>;
  /** Folders of temp files the role's reaper cleans. */
  tempDirs: string[];
  logger: pino.Logger;
  /** Stop functions, run in reverse order by the role. */
  cleanup: Array<() => Promise<unknown>>;
  /** Lag probes for `/health`, by name. */
  lags: Record<string, () => Promise<number | Record<string, number>>>;
  /** The role's Prometheus registry (docs/metrics.md: command processor and round-trip series). */
  metricsRegistry: Registry;
}

/** A role's write side. */
export interface WriteSide {
  commandBus: CommandBus;
  reaper: UploadReaper;
  processor?: CommandProcessorHandle;
}

/** Starts the write side of `deps.role` (see the file comment). @throws the log's, the registry's or the processor's start errors. */
export async function openWriteSide(deps: WriteSideDeps): Promise<WriteSide> {
  const { role, config, log, codec, logger, cleanup, lags } = deps;
  const commands = createAvroCommandCodec({ registry: deps.registryApi, personalData: deps.personalData, logger: logger.child({ component: 'codec' }) });
  // An incompatible command schema stops the role at start, not at its first command.
  await commands.registerAll();
  const usernameDigest = createUsernameDigest(config.usernameKeySecret);
  let processor: CommandProcessorHandle | undefined;
  if (role === 'commands' || role === 'all') {
    const p = await runCommandProcessor({
      log, codec, commands, usernameDigest, partitions: config.topicPartitions,
      userStorageQuotaBytes: config.userStorageQuotaBytes, logger, registry: deps.metricsRegistry,
    });
    cleanup.push(() => p.stop());
    lags['command-processor'] = () => totalLag(p);
    processor = p;
  }
  let direct: CommandBus | undefined;
  if (role === 'gateway' || role === 'all') {
    const views = createViewRecorder({ log, codec, logger, registry: deps.metricsRegistry });
    await views.start();
    cleanup.push(() => views.stop());
    direct = views;
  }
  const instanceId = `${role}-${hostname()}-${config.port}-${process.pid}`.replace(/[^a-zA-Z0-9._-]/g, '_');
  const bus = createRemoteCommandBus({ log, codec, commands, usernameDigest, instanceId, direct, partitions: config.topicPartitions, logger, registry: deps.metricsRegistry });
  await bus.start();
  cleanup.push(() => bus.stop());
  // Abandoning an upload needs the processor's pending uploads; other roles only clean their temp folders.
  const pending = processor;
  const reaper = createUploadReaper({
    commandBus: bus, pendingUploads: (before) => pending?.pendingUploads(before) ?? [], objectStore: deps.objectStore,
    tempDirs: deps.tempDirs, expirySeconds: config.uploadExpirySeconds, logger: logger.child({ component: 'upload-reaper' }),
  });
  reaper.start(config.uploadReaperIntervalSeconds);
  cleanup.push(() => reaper.stop());
  return { commandBus: bus, reaper, processor };
}
