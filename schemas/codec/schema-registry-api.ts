import { COMPATIBILITY, SchemaRegistry as ConfluentSchemaRegistryClient, SchemaType } from '@kafkajs/confluent-schema-registry';
import type avro from 'avsc';
import type { SchemaRegistry } from '../registry/schema-registry.ts';

/**
 * The two registry operations the event codec needs, so it works both with the in-process
 * registry core (standalone mode) and with any Confluent-compatible registry reached by URL
 * (cluster mode: Confluent's, or StreamWave's own `buildSchemaRegistryServer`).
 */
export interface SchemaRegistryApi {
  /**
   * Registers (or finds) `schemaJson` under `subject`; returns its global schema id.
   * @throws if the schema is invalid or incompatible with the subject (409/40901).
   */
  register(subject: string, schemaJson: string): Promise<number>;
  /** Writer schema JSON text of a global id. @throws if the id is unknown (404/40403). */
  getSchema(id: number): Promise<string>;
}

/** SchemaRegistryApi over the in-process registry core (no HTTP hop). */
export function createInProcessSchemaRegistryApi(registry: SchemaRegistry): SchemaRegistryApi {
  return {
    async register(subject, schemaJson) {
      return (await registry.register(subject, schemaJson)).id;
    },
    getSchema: (id) => registry.getSchemaById(id),
  };
}

export interface ConfluentSchemaRegistryApiOptions {
  /** Registry base URL, e.g. `http://schema-registry:8081` or `http://localhost:8080/registry`. */
  host: string;
  /** HTTP Basic credentials of the registry's write API (issue 8); sent on every call. */
  auth?: { username: string; password: string };
}

/**
 * Subject compatibility the client sets on first registration and asserts afterwards
 * (`@kafkajs/confluent-schema-registry` throws if the subject has another level).
 * BACKWARD_TRANSITIVE: events are replayed forever.
 */
const COMPATIBILITY_LEVEL = COMPATIBILITY.BACKWARD_TRANSITIVE;

/**
 * SchemaRegistryApi over `@kafkajs/confluent-schema-registry`'s client, for a registry reached by
 * URL. `getSchema` returns the schema as the client parsed it (avsc export with attributes);
 * the client caches ids, so a steady-state decode makes no HTTP call.
 */
export function createConfluentSchemaRegistryApi(opts: ConfluentSchemaRegistryApiOptions): SchemaRegistryApi {
  const client = new ConfluentSchemaRegistryClient({ host: opts.host, ...(opts.auth && { auth: opts.auth }) });
  return {
    async register(subject, schemaJson) {
      const { id } = await client.register({ type: SchemaType.AVRO, schema: schemaJson }, { subject, compatibility: COMPATIBILITY_LEVEL });
      return id;
    },
    async getSchema(id) {
      const type = (await client.getSchema(id)) as unknown as avro.Type;
      return JSON.stringify(type.schema({ exportAttrs: true }));
    },
  };
}
