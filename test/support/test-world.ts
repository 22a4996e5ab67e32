/**
 * The real wiring for tests, shared by the gateway's and the transcoder's harnesses: a topology
 * test driver (in-memory log, the Avro codec with an in-process schema registry, as in
 * production; JSON on request) running the given nodes, the real command bus writing
 * to the driver's log, and the embedded object store in a folder of the caller's. Nothing here is
 * a fake: the spy on the bus only records what passes through it.
 */
import { join } from 'node:path';
import { createCommandBus } from '../../commands/command-handler.ts';
import type { Command, CommandBus } from '../../commands/command-bus.port.ts';
import type { DomainEvent } from '../../domain/events.ts';
import type { RecordMetadata } from '../../platform/log/event-log.port.ts';
import { createEmbeddedObjectStore, type EmbeddedObjectStore } from '../../platform/object-store/embedded/embedded-object-store.adapter.ts';
import { createTopologyTestDriver, type TopologyTestDriver } from '../../processors/runtime/testing/topology-test-driver.ts';
import type { TopologyNode } from '../../processors/runtime/topology.port.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { TOPICS } from '../../schemas/topics.ts';
import { sharedAvroTestCodec } from './avro-test-codec.ts';
import { createJsonEventCodec } from './json-event-codec.ts';

/** The codec of a test world: `avro` (the production codec, default) or `json`. */
export type TestCodec = 'avro' | 'json';

/** The codec a world or test driver uses; Avro is shared by the worlds of a test process. */
export function testCodec(kind: TestCodec = 'avro'): Promise<EventCodec> {
  return kind === 'json' ? Promise.resolve(createJsonEventCodec()) : sharedAvroTestCodec();
}

/** The driver, the command bus on its log, and what went through them. */
export interface TopologyWorld {
  readonly codec: EventCodec;
  /** Runs the nodes; `driver.process()` delivers everything on the log (events the nodes append included). */
  readonly driver: TopologyTestDriver;
  /** The real command bus on the driver's log, behind a spy filling `sent`. */
  readonly commandBus: CommandBus;
  /** Every command sent through `commandBus`, refused ones included, in order. */
  readonly sent: Command[];
  /** Every event on the event topics, decoded, with its position (per topic, in offset order). */
  events(): Promise<{ event: DomainEvent; position: RecordMetadata }[]>;
  /** Closes the nodes (their stores). */
  close(): Promise<void>;
}

/**
 * Creates the driver over `opts.nodes` (more can be added with `driver.add`, e.g. a processor
 * that needs `commandBus`) and starts the command bus on its log (2 partitions per topic).
 * `opts.redeliver` delivers every batch twice, as after a lost offset commit; `opts.codec`
 * picks the codec (default `avro`).
 */
export async function createTopologyWorld(opts: {
  nodes: TopologyNode[]; redeliver?: boolean; codec?: TestCodec;
  /** Per-user storage quota of the command bus, bytes (default: the product's 50 GiB). */
  userStorageQuotaBytes?: number;
}): Promise<TopologyWorld> {
  const codec = await testCodec(opts.codec);
  const driver = await createTopologyTestDriver({ nodes: opts.nodes, codec, redeliver: opts.redeliver });
  const bus = createCommandBus({ log: driver.log, codec, partitions: 2, userStorageQuotaBytes: opts.userStorageQuotaBytes });
  await bus.start();
  const sent: Command[] = [];
  return {
    codec,
    driver,
    sent,
    commandBus: { send: (command) => { sent.push(command); return bus.send(command); } },
    async events() {
      const out: { event: DomainEvent; position: RecordMetadata }[] = [];
      for (const topic of Object.values(TOPICS)) {
        for (const r of driver.log.records(topic)) {
          out.push({ event: await codec.decode(r.value!), position: { topic: r.topic, partition: r.partition, offset: r.offset } });
        }
      }
      return out;
    },
    close: () => driver.close(),
  };
}

/**
 * The embedded object store under `<dir>/objects` (public URLs on `http://streamwave.test/media`,
 * test S3 credentials). `minPartSizeBytes`: smallest part but the last, bytes; default 5 MiB (S3).
 */
export function createTestObjectStore(dir: string, opts: { minPartSizeBytes?: number } = {}): EmbeddedObjectStore {
  return createEmbeddedObjectStore({
    dir: join(dir, 'objects'),
    publicBaseUrl: 'http://streamwave.test',
    s3: { endpointPath: '/s3', bucket: 'streamwave', region: 'us-east-1', accessKeyId: 'test', secretAccessKey: 'test-secret' },
    mediaPathPrefix: '/media',
    minPartSizeBytes: opts.minPartSizeBytes,
  });
}
