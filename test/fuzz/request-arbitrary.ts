/**
 * Whole hostile HTTP requests for one route (issue 8's fuzz suite): path parameters (real ids from
 * the world's seeds, schema-shaped values, traversal and encoding tricks), query strings (the
 * route's querystring schema plus junk keys and malformed escapes), headers (every kind of
 * credential, content types, oversized headers) and bodies (schema-shaped JSON, malformed JSON,
 * deep nesting, wrong content types).
 */
import fc from 'fast-check';
import type { FuzzRequest, FuzzRoute, FuzzWorld } from './fuzz-world.ts';
import { fromSchema, hostile, queryValue, type JsonSchema } from './schema-arbitrary.ts';

/** Header-safe text (node:http refuses control characters in header values before sending). */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });

const rawBodies: fc.Arbitrary<string> = fc.constantFrom(
  '', '{', '}', '[', 'null', '"x"', '{"a":', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}',
  '['.repeat(20_000), '{"a":'.repeat(5_000), 'x=1&y=2', '--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--b--',
  '\u0000\u0001\u0002', '{"size_bytes":1e999}', '{"a":1,"a":2}',
);

/** Percent-encodes a path segment; lone UTF-16 surrogates (which encodeURIComponent refuses) become U+FFFD. */
const encodeSegment = (v: string): string => encodeURIComponent(v.replace(/[\uD800-\uDFFF]/g, '\uFFFD'));

function pathParam(name: string, schema: JsonSchema | undefined, seeds: FuzzWorld['seeds']): fc.Arbitrary<string> {
  const real = name === 'id' || name === 'videoId' ? [seeds.videoId] : name.includes('upload') ? [seeds.uploadId] : name.includes('user') ? [seeds.username] : [];
  const raw = fc.oneof(
    ...(real.length ? [{ weight: 4, arbitrary: fc.constantFrom(...real) }] : []),
    { weight: 2, arbitrary: queryValue(schema) },
    { weight: 1, arbitrary: fc.constantFrom('..', 'a/b', '💥', 'x'.repeat(1_500), 'vid_00000000000000000000000000', '-1', '0') },
  ).map(encodeSegment);
  // Already percent-encoded tricks (traversal, NUL, a bad escape) go through as they are.
  return fc.oneof({ weight: 8, arbitrary: raw }, { weight: 1, arbitrary: fc.constantFrom('%2e%2e', '%00', '%zz', '%2F', '%C0%AE') });
}

function pathOf(route: FuzzRoute, seeds: FuzzWorld['seeds']): fc.Arbitrary<string> {
  const parts = route.url.split('/').map((seg) => {
    if (seg.startsWith(':')) return pathParam(seg.slice(1), route.schema.params?.properties?.[seg.slice(1)], seeds);
    if (seg === '*') return fc.array(fc.oneof(fc.constantFrom('master.m3u8', 'index.m3u8', 'seg_0.m4s', '..', 'rendition.json', seeds.videoId), fc.string({ maxLength: 12 }).map(encodeSegment)), { maxLength: 4 }).map((a) => a.join('/'));
    return fc.constant(seg);
  });
  return fc.tuple(...parts).map((p) => p.join('/') || '/');
}

function queryOf(route: FuzzRoute): fc.Arbitrary<string> {
  const props = route.schema.querystring?.properties ?? {};
  const required = new Set(route.schema.querystring?.required ?? []);
  const known = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, required.has(k) ? queryValue(v) : fc.option(queryValue(v), { nil: undefined, freq: 3 })]));
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.record(known), fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 8 }), { maxKeys: 2 })).map(([k, extra]) => {
      const q = new URLSearchParams();
      for (const [key, v] of Object.entries({ ...extra, ...k })) if (v !== undefined) q.append(key, v);
      const s = q.toString();
      return s ? `?${s}` : '';
    }) },
    { weight: 1, arbitrary: fc.constantFrom('?%zz', '?a=%', '?a[b]=1&a[c]=2', '?__proto__[x]=1', '?page_size=1e400', '?cursor=' + 'A'.repeat(5_000), '?&&&=&=') },
  );
}

function headersOf(seeds: FuzzWorld['seeds']): fc.Arbitrary<Record<string, string>> {
  // Mostly real credentials, so requests get past authentication into the handlers.
  const auth = fc.oneof(
    { weight: 8, arbitrary: fc.constant(`Bearer ${seeds.userToken}`) },
    { weight: 3, arbitrary: fc.constant(`Bearer ${seeds.adminToken}`) },
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: fc.constantFrom('Bearer ', 'Bearer x.y.z', 'Basic Zm9vOmJhcg==', 'Basic !!!', 'Negotiate abc', `Bearer ${seeds.userToken}x`,
      'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c3JfeCJ9.') },
  );
  const contentType = fc.oneof(
    { weight: 12, arbitrary: fc.constant('application/json') },
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: fc.constantFrom('application/json; charset=utf-16', 'application/x-www-form-urlencoded', 'text/plain',
      'multipart/form-data; boundary=b', 'application/octet-stream', 'video/mp4', '*/*', ';;;', 'application/json; charset=latin1',
      'application/vnd.schemaregistry.v1+json') },
  );
  return fc.record({
    auth,
    contentType,
    extra: fc.dictionary(fc.constantFrom('x-forwarded-for', 'range', 'if-none-match', 'accept', 'accept-encoding', 'x-amz-date', 'content-md5', 'x-amz-content-sha256'), headerText, { maxKeys: 3 }),
    huge: fc.oneof({ weight: 40, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 8_000, max: 40_000 }) }),
  }).map(({ auth: a, contentType: ct, extra, huge }) => ({
    ...extra,
    ...(a !== undefined && { authorization: a }),
    ...(ct !== undefined && { 'content-type': ct }),
    ...(huge > 0 && { 'x-padding': 'p'.repeat(huge) }),
  }));
}

function bodyOf(route: FuzzRoute): fc.Arbitrary<unknown> {
  const mayHaveBody = !['GET', 'HEAD'].includes(route.method);
  return fc.oneof(
    { weight: mayHaveBody ? 6 : 1, arbitrary: fromSchema(route.schema.body) },
    { weight: 2, arbitrary: rawBodies },
    { weight: 1, arbitrary: hostile },
    { weight: mayHaveBody ? 1 : 4, arbitrary: fc.constant(undefined) },
  );
}

/** Requests aimed at `route` (see the file comment). */
export function requestsFor(route: FuzzRoute, seeds: FuzzWorld['seeds']): fc.Arbitrary<FuzzRequest> {
  const generic = fc.tuple(pathOf(route, seeds), queryOf(route)).map(([path, query]) => `${path}${query}`);
  // On the S3 object routes, a third of the requests use a real presigned part URL (with hostile bodies and headers).
  const target = route.url === '/s3/:bucket/*'
    ? fc.oneof({ weight: 2, arbitrary: generic }, { weight: 1, arbitrary: fc.constant(seeds.presignedPartPath) })
    : generic;
  return fc.record({ path: target, headers: headersOf(seeds), body: bodyOf(route) })
    .map(({ path, headers, body }) => ({ method: route.method, path, headers, body }));
}
