import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'chdb';
import fc from 'fast-check';
import { HOSTILE_STRINGS } from './analytics-store.contract.ts';
import { analyticsSql, videoParams } from './analytics.sql.ts';
import { bindStatement, clickHouseLiteral, placeholders, quoteClickHouseString } from './clickhouse-binding.ts';

describe('quoteClickHouseString', () => {
  test('quotes and escapes backslash, quote and control characters; leaves everything else as is', () => {
    assert.equal(quoteClickHouseString(''), "''");
    assert.equal(quoteClickHouseString("it's"), "'it\\'s'");
    assert.equal(quoteClickHouseString('a\\b'), "'a\\\\b'");
    assert.equal(quoteClickHouseString("\\'"), "'\\\\\\''");
    assert.equal(quoteClickHouseString('\0\b\f\n\r\t\v'), "'\\0\\b\\f\\n\\r\\t\\v'");
    assert.equal(quoteClickHouseString('🎬 "x" `y` {z:String}'), "'🎬 \"x\" `y` {z:String}'");
  });

  test('no hostile string can end the literal early: inside the quotes every quote is escaped by an unescaped backslash', () => {
    // Scan the literal as ClickHouse's lexer does: a backslash escapes the next character; an unescaped quote ends the string.
    const literalEnd = (lit: string) => {
      for (let i = 1; i < lit.length; i++) {
        if (lit[i] === '\\') i++;
        else if (lit[i] === "'") return i;
      }
      return -1;
    };
    const check = (s: string) => {
      const lit = quoteClickHouseString(s);
      assert.equal(literalEnd(lit), lit.length - 1, `literal of ${JSON.stringify(s)} ends before its last character`);
    };
    for (const s of HOSTILE_STRINGS) check(s);
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom("'", '\\', 'a', '\n', '\0', '"', '{', '}', ':', ';', '-') }), check), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'binary' }), check), { numRuns: 500 });
  });

  test('refuses what is not a string', () => {
    assert.throws(() => quoteClickHouseString(1 as never), TypeError);
  });
});

describe('clickHouseLiteral', () => {
  test('numbers: finite only, typed by a cast; integers safe and in range', () => {
    assert.equal(clickHouseLiteral(10, 'Float64'), 'toFloat64(10)');
    assert.equal(clickHouseLiteral(-0.5, 'Float64'), 'toFloat64(-0.5)');
    assert.equal(clickHouseLiteral(-0, 'Float64'), 'toFloat64(0)');
    assert.equal(clickHouseLiteral(1e21, 'Float64'), 'toFloat64(1e+21)');
    assert.equal(clickHouseLiteral(5e-324, 'Float64'), 'toFloat64(5e-324)');
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '1', '1); DROP TABLE x; --', null, undefined, 1n]) {
      assert.throws(() => clickHouseLiteral(bad, 'Float64'), TypeError, String(bad));
    }
    assert.equal(clickHouseLiteral(42, 'UInt64'), 'toUInt64(42)');
    assert.equal(clickHouseLiteral(-42, 'Int64'), 'toInt64(-42)');
    assert.equal(clickHouseLiteral(2 ** 32 - 1, 'UInt32'), 'toUInt32(4294967295)');
    for (const [bad, type] of [[-1, 'UInt64'], [2 ** 32, 'UInt32'], [1.5, 'Int64'], [2 ** 53, 'Int64'], ['7', 'UInt64'], [Number.NaN, 'UInt32']] as const) {
      assert.throws(() => clickHouseLiteral(bad, type), TypeError, `${String(bad)} as ${type}`);
    }
    assert.throws(() => clickHouseLiteral('x', 'Array(String)' as never), TypeError);
  });
});

describe('bindStatement', () => {
  const text = 'SELECT * FROM t WHERE a = {a:String} AND b < {b:Float64} OR a = {a:String}';

  test('server mode sends the text unchanged with the parameters it uses', () => {
    assert.deepEqual(bindStatement(text, { a: "x'y", b: 2, unused: 'z' }, 'server'), { query: text, query_params: { a: "x'y", b: 2 } });
    assert.deepEqual(bindStatement('SELECT 1', {}, 'server'), { query: 'SELECT 1' });
  });

  test('literal mode replaces every placeholder in one pass: a value that looks like a placeholder stays a value', () => {
    assert.equal(
      bindStatement(text, { a: '{b:Float64}', b: 2 }, 'literal').query,
      "SELECT * FROM t WHERE a = '{b:Float64}' AND b < toFloat64(2) OR a = '{b:Float64}'",
    );
  });

  test('both modes refuse a missing parameter, a wrong type and an unsupported placeholder type', () => {
    for (const mode of ['server', 'literal'] as const) {
      assert.throws(() => bindStatement(text, { a: 'x' }, mode), /no value for parameter \{b:Float64\}/);
      assert.throws(() => bindStatement(text, { a: 1, b: 2 } as never, mode), TypeError);
      assert.throws(() => bindStatement(text, { a: 'x', b: Number.NaN }, mode), TypeError);
      assert.throws(() => bindStatement('SELECT {x:Array(String)}', { x: 'a' }, mode), TypeError);
      assert.throws(() => bindStatement('SELECT {x:Date}', { x: 'a' }, mode), TypeError);
    }
  });

  test('the analytics statements declare only supported placeholder types, and each dialect binds every one of them', () => {
    for (const dialect of ['modern', 'compat-18'] as const) {
      const sql = analyticsSql('streamwave', dialect);
      assert.deepEqual([...new Set(placeholders(sql.selectSessionSummary).map((p) => p.name))], ['video_id'], 'the view rule is applied by the sessions view, not per query');
      assert.deepEqual(placeholders(sql.videoSessions.createView), [], 'the view rule\'s constants are literals in the view');
      assert.match(sql.videoSessions.createView, /toFloat64\(10\)/, 'min_view_seconds');
      const bound = sql.bind(sql.selectSessionSummary, videoParams("v'1"));
      if (dialect === 'modern') assert.equal(bound.query, sql.selectSessionSummary);
      else assert.deepEqual(placeholders(bound.query), []);
    }
  });
});

/** No lone surrogate (String.prototype.isWellFormed, ES2024, is not in this project's lib). */
const wellFormed = (s: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

describe('literals round-trip through ClickHouse (chDB, 26.x)', () => {
  const root = mkdtemp(join(tmpdir(), 'sw-bind-'));
  after(async () => rm(await root, { recursive: true, force: true }));

  test('every hostile string comes back unchanged, byte for byte', async () => {
    const session = new Session(join(await root, 'chdb'));
    try {
      // Well-formed strings only: a lone surrogate has no UTF-8 form, so no engine could return it.
      const strings = [...HOSTILE_STRINGS, ...fc.sample(fc.string({ unit: 'binary' }), 200).filter(wellFormed)];
      for (const s of strings) {
        const { query } = bindStatement('SELECT {s:String} AS s, length({s:String}) AS n', { s }, 'literal');
        const [row] = (await session.queryAsync(query, { format: 'JSONEachRow' })).text().trim().split('\n').map((l) => JSON.parse(l) as { s: string; n: string | number });
        assert.equal(row!.s, s, `round trip of ${JSON.stringify(s)}`);
        assert.equal(Number(row!.n), Buffer.byteLength(s, 'utf8'));
      }
    } finally {
      session.close();
    }
  });
});
