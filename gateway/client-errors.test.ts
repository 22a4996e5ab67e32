/**
 * Requests node:http cannot parse get the gateway's error body (found by the fuzz suite: Fastify's
 * default answered oversized headers with its own body shape).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createTestGateway } from './testing/test-gateway.ts';

/** Writes `raw` on a fresh connection and resolves with everything the server sent until it closed. */
function exchange(port: number, raw: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(raw));
    let out = '';
    socket.on('data', (d: Buffer) => { out += d.toString('utf8'); });
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}

test('oversized headers → 431 HEADERS_TOO_LARGE and a malformed request line → 400 MALFORMED_REQUEST, in the gateway shape, connection closed', async (t) => {
  const gw = await createTestGateway();
  t.after(() => gw.close());
  await gw.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = gw.app.server.address() as { port: number };

  const big = await exchange(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(64 * 1024)}\r\n\r\n`);
  assert.match(big, /^HTTP\/1\.1 431 /);
  assert.match(big, /connection: close/i);
  assert.deepEqual(JSON.parse(big.slice(big.indexOf('\r\n\r\n') + 4)), { statusCode: 431, code: 'HEADERS_TOO_LARGE', message: 'request headers are too large' });

  const bad = await exchange(port, 'THIS IS NOT HTTP\r\n\r\n');
  assert.match(bad, /^HTTP\/1\.1 400 /);
  assert.equal(JSON.parse(bad.slice(bad.indexOf('\r\n\r\n') + 4)).code, 'MALFORMED_REQUEST');
});
