/**
 * The production event codec for tests: Avro in the Confluent wire format, with the in-process
 * schema registry on an in-memory log — what standalone mode builds (deploy/standalone/), minus
 * the disk. Events then reach projections and deciders as Avro decodes them (an absent optional
 * field comes back `null`), not as JSON would.
 */
import { createInMemoryEventLog } from '../../platform/log/in-memory/in-memory-event-log.adapter.ts';
import { createAvroEventCodec } from '../../schemas/codec/avro-event-codec.ts';
import { createInProcessSchemaRegistryApi } from '../../schemas/codec/schema-registry-api.ts';
import type { EventCodec } from '../../schemas/event-codec.port.ts';
import { createSchemaRegistry } from '../../schemas/registry/schema-registry.ts';

let shared: Promise<EventCodec> | undefined;

/** A fresh registry and codec with every event schema registered. */
export async function createAvroTestCodec(): Promise<EventCodec> {
  const registry = createSchemaRegistry({ log: createInMemoryEventLog() });
  await registry.start();
  const codec = createAvroEventCodec({ registry: createInProcessSchemaRegistryApi(registry) });
  await codec.registerAll();
  return codec;
}

/**
 * One Avro codec per test process, shared by every world: the schemas never change within a
 * run, and parsing and registering them once keeps a world as cheap to create as with JSON.
 */
export function sharedAvroTestCodec(): Promise<EventCodec> {
  shared ??= createAvroTestCodec();
  shared.catch(() => { shared = undefined; });
  return shared;
}
