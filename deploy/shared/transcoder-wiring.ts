/**
 * The transcoder role's processor nodes, as both composition roots run them: the transcoder
 * (group `streamwave.transcoder`, one job per UploadCompleted), the chunk encoder (group
 * `streamwave.transcoder-chunks`, the chunks of long sources: docs/adr/0008), with the chunk
 * topic, its task schema and the `submit` the transcoder's chunked jobs write tasks with, and the
 * caption writer (group `streamwave.caption-writer`: the master playlist's subtitles once
 * processing completed; it runs where the transcoder runs because both write the master).
 */
import type pino from 'pino';
import type { Registry } from 'prom-client';
import type { CommandBus } from '../../commands/command-bus.port.ts';
import type { EventLog } from '../../platform/log/event-log.port.ts';
import type { ObjectStore } from '../../platform/object-store/object-store.port.ts';
import { runProcessor, type ProcessorHandle } from '../../processors/runtime/processor.runtime.ts';
import { buildCaptionWriter } from '../../processors/transcoder/captions.processor.ts';
import { buildChunkEncoderProcessor } from '../../processors/transcoder/chunked/chunk-encoder.processor.ts';
import type { ChunkingConfig } from '../../processors/transcoder/chunked/chunked-ladder.ts';
import { resolveFfmpegBinaries } from '../../processors/transcoder/ffmpeg-binaries.ts';
import { buildTranscoderProcessor, type TranscoderNode } from '../../processors/transcoder/transcoder.processor.ts';
import { createChunkTaskCodec } from '../../schemas/codec/task-schemas.ts';
import type { SchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { ensureTranscodeChunksTopic, TRANSCODE_CHUNKS_TOPIC, type TopicSettings } from '../../schemas/topics.ts';
import type { StreamWaveConfig } from '../config/config.ts';

/** What `startTranscoderNodes` needs from its composition root. */
export interface TranscoderWiring {
  config: Pick<StreamWaveConfig, 'media' | 'chunking' | 'transcodeConcurrency'>;
  log: EventLog;
  codec: EventCodec;
  registryApi: SchemaRegistryApi;
  commandBus: CommandBus;
  objectStore: ObjectStore;
  /** Scratch folder of both nodes. */
  workDir: string;
  topics: TopicSettings;
  logger: pino.Logger;
  registry: Registry;
  /** This instance's name in chunk results; default `<hostname>/<pid>`. */
  instance?: string;
}

/** The running nodes: the transcoder node (for readiness) and both runtimes (to stop and read lag from). */
export interface TranscoderNodes {
  node: TranscoderNode;
  transcoder: ProcessorHandle;
  chunkEncoder: ProcessorHandle;
  captionWriter: ProcessorHandle;
}

/**
 * Creates the chunk topic, registers the chunk-task schema and starts both nodes.
 * @throws the log's, the registry's and the runtime's start-up errors.
 */
export async function startTranscoderNodes(w: TranscoderWiring): Promise<TranscoderNodes> {
  await ensureTranscodeChunksTopic(w.log, w.topics);
  const tasks = createChunkTaskCodec(w.registryApi, w.logger.child({ component: 'chunk-tasks' }));
  await tasks.register();
  const chunking: ChunkingConfig = {
    ...w.config.chunking,
    async submit(list) {
      if (list.length === 0) return;
      const records = await Promise.all(list.map(async (t) => ({ key: `${t.videoId}:${t.chunkIndex}`, value: await tasks.encode(t) })));
      await w.log.append(TRANSCODE_CHUNKS_TOPIC, records);
    },
  };
  const node = buildTranscoderProcessor({
    commandBus: w.commandBus, codec: w.codec, objectStore: w.objectStore, workDir: w.workDir,
    logger: w.logger.child({ component: 'transcoder' }), ...w.config.media, registry: w.registry, chunking,
  });
  const runtimeOpts = { logger: w.logger.child({ component: 'runtime' }), registry: w.registry };
  const transcoder = await runProcessor(w.log, { ...node, concurrency: w.config.transcodeConcurrency }, runtimeOpts);
  const { ffmpeg, ffprobe } = resolveFfmpegBinaries();
  const chunkEncoder = await runProcessor(w.log, buildChunkEncoderProcessor({
    tasks, objectStore: w.objectStore, workDir: w.workDir, ffmpegPath: ffmpeg, ffprobePath: ffprobe,
    logger: w.logger.child({ component: 'chunk-encoder' }), ...w.config.media, instance: w.instance,
  }), runtimeOpts).catch(async (err: unknown) => {
    await transcoder.stop();
    throw err;
  });
  const captionWriter = await runProcessor(w.log, buildCaptionWriter({
    codec: w.codec, objectStore: w.objectStore, logger: w.logger.child({ component: 'caption-writer' }),
  }), runtimeOpts).catch(async (err: unknown) => {
    await Promise.all([transcoder.stop(), chunkEncoder.stop()]);
    throw err;
  });
  return { node, transcoder, chunkEncoder, captionWriter };
}
