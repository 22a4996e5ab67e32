/**
 * The baseline of the gateway benchmark: a bare Fastify server (no plugins, no logging) answering
 * `GET /api/v1/videos/:id` with the same JSON document StreamWave returns, read either from memory
 * or from Redis (`GET <key>` through ioredis, one round trip per request, as a read model on
 * Redis would). Run as a child process so that it does not share a core with the load generator:
 *
 *   tsx bench/gateway/bare-server.ts <port> <json file> [redis url]
 *
 * Prints `listening` on stdout once it accepts connections.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { Redis } from 'ioredis';

const [port, jsonFile, redisUrl] = process.argv.slice(2);
const json = readFileSync(jsonFile!, 'utf8');
const app = Fastify({ logger: false });
if (redisUrl) {
  const redis = new Redis(redisUrl);
  await redis.set('bench:video', json);
  app.get('/api/v1/videos/:id', async (_request, reply) => {
    const doc = await redis.get('bench:video');
    return reply.type('application/json; charset=utf-8').send(doc);
  });
  app.addHook('onClose', async () => { redis.disconnect(); });
} else {
  app.get('/api/v1/videos/:id', async (_request, reply) => reply.type('application/json; charset=utf-8').send(json));
}
await app.listen({ port: Number(port), host: '127.0.0.1' });
process.stdout.write('listening\n');
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)); });
