/**
 * Parameter binding for ClickHouse statements written with ClickHouse's own placeholder syntax
 * `{name:Type}` (https://clickhouse.com/docs/en/interfaces/cli#cli-queries-with-parameters).
 *
 * One statement text, two ways to bind it:
 * - `server`: the text is sent unchanged and the values travel separately (`query_params` of
 *   @clickhouse/client, chDB's `queryBind`); the server parses them as `Type`. ClickHouse ≥ 19.x;
 *   what StreamWave targets (≥ 23).
 * - `literal`: every placeholder is replaced here by a typed SQL literal, for servers that have no
 *   server-side parameters (18.16 answers "Unknown setting param_x"). Injection-safe by
 *   construction: strings are quoted and escaped by ClickHouse's quoting rules (backslash escapes
 *   inside single quotes; https://clickhouse.com/docs/en/sql-reference/syntax#string), numbers must
 *   be finite (and integers safe and in range), and the replacement is one pass over the template,
 *   so a value that itself contains `{x:String}` is never expanded.
 *
 * Only the types the analytics SQL needs are supported; anything else is a programming error
 * (TypeError), as are a missing parameter or a value of the wrong JavaScript type.
 */

/** Parameter types a placeholder may declare. */
export type ClickHouseParamType = 'String' | 'Float64' | 'Int64' | 'UInt64' | 'UInt32';

/** Parameter values by name. */
export type ClickHouseParams = Record<string, string | number>;

/** How a statement's placeholders are bound (see the module comment). */
export type ClickHouseBindMode = 'server' | 'literal';

/** A statement ready to send: `query_params` only in `server` mode. */
export interface BoundStatement {
  query: string;
  query_params?: ClickHouseParams;
}

/**
 * `{name:Type}`: the name is a bare identifier. Any type text is matched (`Array(String)` too) so
 * that an unsupported one is refused rather than left in the text unbound.
 */
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*):\s*([^{}]*?)\s*\}/g;

const TYPES = new Set<string>(['String', 'Float64', 'Int64', 'UInt64', 'UInt32']);

/** Escapes for the characters ClickHouse's string literal syntax treats specially, and the control characters that would otherwise travel raw. */
const STRING_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\0': '\\0',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

/**
 * `s` as a ClickHouse string literal: single quotes, with backslash, quote and control characters
 * backslash-escaped. Every other character (any Unicode) is kept as is and sent as UTF-8.
 * @throws TypeError when `s` is not a string
 */
export function quoteClickHouseString(s: string): string {
  if (typeof s !== 'string') throw new TypeError(`expected a string, got ${typeof s}`);
  return `'${s.replace(/[\\'\0\b\f\n\r\t\v]/g, (c) => STRING_ESCAPES[c]!)}'`;
}

/** Integer ranges of the integer types (as numbers: only safe integers are accepted anyway). */
const INT_RANGE: Record<string, [number, number]> = {
  Int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UInt64: [0, Number.MAX_SAFE_INTEGER],
  UInt32: [0, 2 ** 32 - 1],
};

/**
 * `value` as a SQL literal of `type`: `'…'` for String; `toFloat64(n)` for Float64 (finite only;
 * `-0` becomes `0`); `toInt64(n)` etc. for integers (safe integers in the type's range). The cast
 * keeps the expression's type what the placeholder declared, as server-side binding would.
 * @throws TypeError on an unsupported type, a value of the wrong JavaScript type, a non-finite
 *         number, or an integer out of range
 */
export function clickHouseLiteral(value: unknown, type: ClickHouseParamType): string {
  switch (type) {
    case 'String':
      if (typeof value !== 'string') throw new TypeError(`String parameter must be a string, got ${typeof value}`);
      return quoteClickHouseString(value);
    case 'Float64':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`Float64 parameter must be a finite number, got ${String(value)}`);
      // String(n) of a finite number is a decimal or exponent literal ClickHouse parses (1e+21, 5e-324).
      return `toFloat64(${Object.is(value, -0) ? '0' : String(value)})`;
    case 'Int64':
    case 'UInt64':
    case 'UInt32': {
      const [min, max] = INT_RANGE[type]!;
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
        throw new TypeError(`${type} parameter must be an integer in [${min}, ${max}], got ${String(value)}`);
      }
      return `to${type}(${value})`;
    }
    default: {
      const _exhaustive: never = type;
      throw new TypeError(`unsupported parameter type ${String(_exhaustive)}`);
    }
  }
}

/** The placeholders of `text` in order of appearance (a name may repeat). @throws TypeError on an unsupported type */
export function placeholders(text: string): { name: string; type: ClickHouseParamType }[] {
  return [...text.matchAll(PLACEHOLDER)].map(([, name, type]) => {
    if (!TYPES.has(type!)) throw new TypeError(`placeholder {${name}:${type}}: unsupported type`);
    return { name: name!, type: type as ClickHouseParamType };
  });
}

/**
 * Binds `params` to the `{name:Type}` placeholders of `text`. In `server` mode the text is
 * returned unchanged with the parameters it uses as `query_params` (checked as in `literal` mode,
 * so both modes refuse the same bad input); in `literal` mode each placeholder is replaced by
 * clickHouseLiteral(value, Type) in one pass.
 * @throws TypeError when a placeholder has no parameter, a parameter has the wrong type, or a
 *         placeholder declares an unsupported type
 */
export function bindStatement(text: string, params: ClickHouseParams, mode: ClickHouseBindMode): BoundStatement {
  const used: ClickHouseParams = {};
  const literal = (name: string, type: ClickHouseParamType): string => {
    if (!Object.hasOwn(params, name)) throw new TypeError(`no value for parameter {${name}:${type}}`);
    const v = clickHouseLiteral(params[name], type);
    used[name] = params[name]!;
    return v;
  };
  if (mode === 'server') {
    for (const p of placeholders(text)) literal(p.name, p.type);
    return Object.keys(used).length ? { query: text, query_params: used } : { query: text };
  }
  placeholders(text); // type check of every placeholder before any replacement
  return { query: text.replace(PLACEHOLDER, (_m, name: string, type: string) => literal(name, type as ClickHouseParamType)) };
}
