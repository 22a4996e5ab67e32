/**
 * Issue 8, finding 9: a slow JSON body held a connection forever. On a real listening server, a
 * raw socket trickles a body byte by byte: it is cut (408 REQUEST_TIMEOUT, then the connection is
 * closed). No timing is asserted; the test waits on the socket's events.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createTestGateway, type TestGateway } from '../testing/test-gateway.ts';

describe('request timeouts on a listening server', () => {
  let t: TestGateway;
  let port: number;
  before(async () => {
    t = await createTestGateway({ bodyTimeoutSeconds: 1, headersTimeoutSeconds: 7, connectionTimeoutSeconds: 11, keepAliveTimeoutSeconds: 3, uploadRequestTimeoutSeconds: 600, rateLimits: 'off' });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as { port: number }).port;
  });
  after(() => t.close());

  test('the server-wide timeouts come from the config (seconds → node ms)', () => {
    const s = t.app.server;
    assert.deepEqual(
      { headers: s.headersTimeout, request: s.requestTimeout, idle: s.timeout, keepAlive: s.keepAliveTimeout },
      { headers: 7000, request: 600_000, idle: 11_000, keepAlive: 3000 },
    );
  });

  test('a trickled JSON body is answered 408 REQUEST_TIMEOUT and the connection closed', async () => {
    const body = JSON.stringify({ username: 'slowpoke', email: 'slow@example.com', password: 'slow-password' });
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let sent = 0;
    socket.on('data', (d) => { received += d; });
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.write(`POST /api/v1/users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    // One byte every 100 ms: the body would take ~7 s, never idle long enough for an idle timeout.
    const trickle = setInterval(() => {
      if (sent < body.length - 1 && !socket.destroyed) socket.write(body[sent++]!);
    }, 100);
    await new Promise<void>((r) => socket.once('close', () => r()));
    clearInterval(trickle);
    console.log(`# trickled ${sent}/${body.length} body bytes before the cut; answer: ${received.split('\r\n')[0]}`);
    assert.match(received, /^HTTP\/1\.1 408 /);
    assert.match(received, /connection: close/i);
    assert.equal(JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4)).code, 'REQUEST_TIMEOUT');
    assert.ok(sent < body.length - 1, 'cut before the body was complete');
    assert.equal(t.world.sent.filter((c) => c.type === 'RegisterUser').length, 0, 'nothing registered');
  });

  test('a body sent at once is served as usual (the timer does not outlive it), and so is a GET', async () => {
    const base = `http://127.0.0.1:${port}`;
    const res = await fetch(`${base}/api/v1/users`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'quick', email: 'quick@example.com', password: 'quick-password' }),
    });
    assert.equal(res.status, 201);
    assert.equal((await fetch(`${base}/api/v1/search/videos?q=x`)).status, 200);
  });
});
