/** Issue 8, finding 10: presigned URLs (X-Amz-Signature) and credentials must not reach the logs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { createRedactingLogger, REDACTED, sanitizeUrl } from './log-redaction.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, stream };
}

const signature = 'f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41';
const presigned = `/s3/streamwave/uploads/u1/source?uploadId=abc&partNumber=1&X-Amz-Algorithm=AWS4-HMAC-SHA256`
  + `&X-Amz-Credential=AK%2F20261129%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261129T030000Z&X-Amz-Expires=3600`
  + `&X-Amz-SignedHeaders=host&X-Amz-Signature=${signature}`;

test('sanitizeUrl: signature and credential values redacted, everything else kept byte for byte', () => {
  const out = sanitizeUrl(presigned);
  assert.ok(!out.includes(signature));
  assert.match(out, new RegExp(`X-Amz-Signature=${REDACTED.replace(/[[\]]/g, '\\$&')}`));
  assert.ok(out.includes('uploadId=abc&partNumber=1&X-Amz-Algorithm=AWS4-HMAC-SHA256'));
  assert.ok(!out.includes('AK%2F20261129'));
  assert.equal(sanitizeUrl('/api/v1/videos?page_size=5&q=cats'), '/api/v1/videos?page_size=5&q=cats');
  assert.equal(sanitizeUrl('/x?token=abc#frag'), `/x?token=${REDACTED}#frag`);
  assert.equal(sanitizeUrl('/x?x-amz-signature=abc'), `/x?x-amz-signature=${REDACTED}`);
});

test('a presigned URL requested through Fastify is logged (info) with its signature redacted; Authorization and passwords censored', async () => {
  const { lines, stream } = capture();
  const logger = createRedactingLogger({ level: 'info' }, stream);
  const app = Fastify({ loggerInstance: logger });
  app.put('/s3/*', async (req) => {
    req.log.info({ url: req.url, body: { password: 'hunter2-secret' } }, 'handler saw');
    return { ok: true };
  });
  const res = await app.inject({ method: 'PUT', url: presigned, headers: { authorization: 'Bearer eyJ.secret.token', 'content-type': 'text/plain' }, payload: 'x' });
  assert.equal(res.statusCode, 200);
  await app.close();
  const text = lines.map((l) => JSON.stringify(l)).join('\n');
  const incoming = lines.find((l) => l.msg === 'incoming request') as { req: { url: string } } | undefined;
  assert.ok(incoming, 'Fastify logged the request at info level');
  assert.match(incoming.req.url, /X-Amz-Signature=\[REDACTED\]/);
  assert.ok(lines.some((l) => l.msg === 'handler saw' && String(l.url).includes(`X-Amz-Signature=${REDACTED}`)));
  assert.ok(!text.includes(signature), 'the signature appears nowhere in the log');
  assert.ok(!text.includes('hunter2-secret'));
  assert.ok(!text.includes('eyJ.secret.token'));
  logger.info({ req: { headers: { authorization: 'Basic c2VjcmV0' } }, token: 't0k3n' }, 'explicit');
  await new Promise((r) => setImmediate(r));
  const explicit = lines.find((l) => l.msg === 'explicit') as Record<string, unknown>;
  assert.equal(explicit.token, REDACTED);
  assert.ok(!JSON.stringify(explicit).includes('c2VjcmV0'));
});
