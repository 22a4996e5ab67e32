/** The entity-tag helper (gateway/plugins/etag.ts): strong tags of the body bytes, If-None-Match per RFC 9110 §13.1.2. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { entityTagOf, ifNoneMatchMatches, NotModified, withEtagHeaders } from './etag.ts';
import { Type } from '@fastify/type-provider-typebox';

describe('entityTagOf', () => {
  test('a quoted strong tag of the body bytes: equal bodies share it, one byte apart do not', () => {
    const tag = entityTagOf('{"a":1}');
    assert.match(tag, /^"[A-Za-z0-9_-]+"$/);
    assert.equal(entityTagOf('{"a":1}'), tag);
    assert.notEqual(entityTagOf('{"a":2}'), tag);
    // Derived from the UTF-8 bytes a client receives.
    const text = '{"title":"Café ☕"}';
    assert.equal(entityTagOf(text), `"${createHash('sha1').update(Buffer.from(text, 'utf8')).digest('base64url')}"`);
  });
});

describe('ifNoneMatchMatches (weak comparison, RFC 9110 §8.8.3.2, §13.1.2)', () => {
  const tag = '"abc123"';
  const cases: [string | undefined, boolean][] = [
    [undefined, false],
    ['', false],
    ['"abc123"', true],
    ['*', true],
    ['  *  ', true],
    ['W/"abc123"', true],
    ['"other"', false],
    ['"abc12"', false],
    ['"abc1234"', false],
    ['"a", "abc123"', true],
    ['"a","b" ,\t"abc123" ', true],
    ['W/"a", W/"abc123"', true],
    ['"a", "b"', false],
    ['abc123', false],
    ['"abc123', false],
    ['w/"abc123"', false],
    ['"x,y", "abc123"', true],
    ['"abc123,x"', false],
    ['junk, "abc123"', true],
    ['"a"junk, "abc123"', true],
    [',,', false],
  ];
  for (const [field, expected] of cases) {
    test(`${JSON.stringify(field)} → ${expected}`, () => {
      assert.equal(ifNoneMatchMatches(field, tag), expected);
    });
  }

  test('a weak current tag matches its strong or weak spelling', () => {
    assert.equal(ifNoneMatchMatches('"v1"', 'W/"v1"'), true);
    assert.equal(ifNoneMatchMatches('W/"v1"', 'W/"v1"'), true);
    assert.equal(ifNoneMatchMatches('W/"v2"', 'W/"v1"'), false);
  });

  test('a tag of the body is matched back from the header as sent', () => {
    const real = entityTagOf('{"title":"Sunset"}');
    assert.equal(ifNoneMatchMatches(real, real), true);
    assert.equal(ifNoneMatchMatches(`W/${real}`, real), true);
    assert.equal(ifNoneMatchMatches(`"stale", ${real}`, real), true);
    assert.equal(ifNoneMatchMatches(real.slice(1, -1), real), false, 'unquoted');
  });
});

describe('OpenAPI schemas', () => {
  test('withEtagHeaders keeps the schema and documents ETag and Vary; NotModified has no body', () => {
    const body = Type.Object({ a: Type.String() });
    const tagged = withEtagHeaders(body) as unknown as Record<string, unknown>;
    assert.deepEqual({ ...tagged, headers: undefined }, { ...body, headers: undefined });
    assert.deepEqual(Object.keys(tagged.headers as object), ['ETag', 'Vary']);
    assert.equal(!('headers' in body), true, 'the original schema is not changed');
    assert.equal(NotModified.type, 'null');
  });
});
