/**
 * Errors of the schema registry core, carrying the Confluent Schema Registry error codes so the
 * REST plugin can map them 1:1 (codes from Confluent's `Errors.java` / REST API reference:
 * https://docs.confluent.io/platform/current/schema-registry/develop/api.html#errors).
 */

/** Stable machine-readable names of registry failures. */
export type RegistryErrorCode =
  | 'SUBJECT_NOT_FOUND'
  | 'VERSION_NOT_FOUND'
  | 'SCHEMA_NOT_FOUND'
  | 'SUBJECT_COMPATIBILITY_NOT_CONFIGURED'
  | 'INCOMPATIBLE_SCHEMA'
  | 'INVALID_SCHEMA'
  | 'INVALID_VERSION'
  | 'INVALID_COMPATIBILITY_LEVEL'
  | 'STORE_ERROR';

/** `code` → [HTTP status, Confluent `error_code`]. */
const REGISTRY_ERROR_CODES: Record<RegistryErrorCode, readonly [status: number, errorCode: number]> = {
  SUBJECT_NOT_FOUND: [404, 40401],
  VERSION_NOT_FOUND: [404, 40402],
  SCHEMA_NOT_FOUND: [404, 40403],
  SUBJECT_COMPATIBILITY_NOT_CONFIGURED: [404, 40408],
  INCOMPATIBLE_SCHEMA: [409, 40901],
  INVALID_SCHEMA: [422, 42201],
  INVALID_VERSION: [422, 42202],
  INVALID_COMPATIBILITY_LEVEL: [422, 42203],
  STORE_ERROR: [500, 50001],
};

/** A registry failure. `status`/`errorCode` are the HTTP status and Confluent `error_code` of `code`. */
export class RegistryError extends Error {
  readonly status: number;
  readonly errorCode: number;
  constructor(readonly code: RegistryErrorCode, message: string) {
    super(message);
    this.name = 'RegistryError';
    [this.status, this.errorCode] = REGISTRY_ERROR_CODES[code];
  }
}
