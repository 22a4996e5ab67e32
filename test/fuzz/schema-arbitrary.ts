/**
 * fast-check arbitraries derived from a route's JSON schema (TypeBox schemas are JSON Schema), for
 * the route fuzz suite (issue 8, "a fuzz suite over every route's schema").
 *
 * `fromSchema(schema)` yields values that mostly respect the schema's shape — so requests get past
 * validation into the handlers — while `hostile` values (wrong types, boundary numbers, huge and
 * odd strings, prototype-pollution keys, deep nesting) are mixed in at every level so validation
 * itself is attacked too. Supported keywords: type (incl. arrays of types), properties, required,
 * additionalProperties, items, minItems/maxItems, minLength/maxLength, minimum/maximum, enum,
 * const, anyOf/oneOf/allOf (first branch for allOf), format (email, date-time, uri), pattern
 * (ignored: a random string then tests the 400 path). Anything else falls back to `hostile`.
 */
import fc from 'fast-check';

/** A JSON schema node, as far as the generator reads it. */
export type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  format?: string;
};

/** Strings an attacker tries: empty, huge, control characters, unicode edge cases, traversal, injection. */
const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '', ' ', '\u0000', '\uFFFF', '\uD800', '💥'.repeat(50), '../../etc/passwd', '%00', '%2e%2e%2f', '${jndi:x}',
    '<script>alert(1)</script>', "' OR 1=1 --", '\r\nX-Injected: 1', 'NaN', '-1', '1e309', '__proto__', 'null',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer({ min: 1_000, max: 70_000 }).map((n) => 'x'.repeat(n)),
);

/** Numbers at the edges of what JSON and JS can carry. */
const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, -0, -1, 1, 0.5, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, -1e308, Number.MIN_VALUE),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

/** Any JSON value, prototype-pollution keys and deep nesting included. */
export const hostile: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    nastyString,
    nastyNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', ''), fc.string({ maxLength: 8 })), tie('v'), { maxKeys: 4 }),
  ),
})).v;

const formatted = (format: string | undefined, s: JsonSchema): fc.Arbitrary<string> => {
  switch (format) {
    case 'email': return fc.emailAddress();
    case 'date-time': return fc.date({ noInvalidDate: true }).map((d) => d.toISOString());
    case 'uri': return fc.webUrl();
    default: return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 24, 200) });
  }
};

/** A value shaped by `schema` (see the file comment); `depth` bounds recursion. */
export function fromSchema(schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 4) return hostile;
  const shaped = shapedBy(schema, depth);
  // One value in eight at every level is hostile, whatever the schema says.
  return fc.oneof({ arbitrary: shaped, weight: 7 }, { arbitrary: hostile, weight: 1 });
}

function shapedBy(s: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const union = s.anyOf ?? s.oneOf;
  if (union?.length) return fc.oneof(...union.map((b) => fromSchema(b, depth + 1)));
  if (s.allOf?.length) return fromSchema(s.allOf[0], depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string': return formatted(s.format, s);
    case 'integer':
      return fc.oneof(fc.integer({ min: Math.max(s.minimum ?? -1e6, -(2 ** 31)), max: Math.min(s.maximum ?? 1e6, 2 ** 31) }), nastyNumber);
    case 'number':
      return fc.oneof(fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true }), nastyNumber);
    case 'boolean': return fc.boolean();
    case 'null': return fc.constant(null);
    case 'array': return fc.array(fromSchema(s.items, depth + 1), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 5, 8) });
    case 'object': {
      const props = s.properties ?? {};
      const required = new Set(s.required ?? []);
      const model: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [k, v] of Object.entries(props)) model[k] = fromSchema(v, depth + 1);
      return fc.tuple(
        fc.record(model, { requiredKeys: [...required].filter((k) => k in props) }),
        fc.oneof({ arbitrary: fc.constant({}), weight: 5 }, { arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), hostile, { maxKeys: 2 }), weight: 1 }),
      ).map(([known, extra]) => ({ ...extra, ...known }));
    }
    default: return hostile;
  }
}

/** A query-string value: what a schema property would accept as text, or junk. */
export function queryValue(schema: JsonSchema | undefined): fc.Arbitrary<string> {
  return fromSchema(schema).map((v) => (typeof v === 'string' ? v : JSON.stringify(v) ?? ''));
}
