/**
 * The baselines of the gateway benchmark (bench/gateway.bench.ts), bare Fastify servers (no
 * plugins, no logging) run as child processes so that they do not share a core with the load
 * generator:
 *
 *   tsx bench/gateway/bare-server.ts <port> <json file> [redis url]
 *   tsx bench/gateway/bare-server.ts <port> --heartbeats <log file>
 *
 * - Reads: `GET /api/v1/videos/:id` answers the same JSON document StreamWave returns, read either
 *   from memory or from Redis (`GET <key>` through ioredis, one round trip per request, as a read
 *   model on Redis would).
 * - Heartbeats: `POST /api/v1/videos/:id/views` validates params and body with StreamWave's own
 *   JSON schemas (gateway/routes/views/views.schemas.ts: same fields, bounds, no extra properties),
 *   appends the heartbeat as one JSON line to `<log file>` and answers 202 `{"accepted":true}` only
 *   once that line is fsynced, with group commit (bench/gateway/group-commit-log.ts): the appends
 *   arriving while a write+fdatasync is in flight share the next one. On SIGTERM it prints the
 *   number of appends and fsyncs on stderr.
 *
 * Prints `listening` on stdout once it accepts connections.
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { recordViewSchema } from '../../gateway/routes/views/views.schemas.ts';
import { GroupCommitLog } from './group-commit-log.ts';

interface Heartbeat { session_id: string; watched_seconds: number; position_seconds: number }

const [port, arg, arg2] = process.argv.slice(2);
const app = Fastify({ logger: false });
if (arg === '--heartbeats') {
  const log = await GroupCommitLog.open(arg2!);
  app.post<{ Params: { id: string }; Body: Heartbeat }>('/api/v1/videos/:id/views', {
    schema: {
      params: recordViewSchema.params,
      body: recordViewSchema.body,
      response: { 202: { type: 'object', properties: { accepted: { type: 'boolean' } } } },
    },
  }, async (request, reply) => {
    await log.append(JSON.stringify({ video_id: request.params.id, ...request.body }));
    return reply.status(202).send({ accepted: true });
  });
  app.addHook('onClose', async () => {
    await log.close();
    process.stderr.write(`bare heartbeat server: ${log.appends} appends in ${log.fsyncs} fsyncs (${(log.appends / Math.max(1, log.fsyncs)).toFixed(1)} per fsync)\n`);
  });
} else if (arg2) {
  const json = readFileSync(arg!, 'utf8');
  const redis = new Redis(arg2);
  await redis.set('bench:video', json);
  app.get('/api/v1/videos/:id', async (_request, reply) => {
    const doc = await redis.get('bench:video');
    return reply.type('application/json; charset=utf-8').send(doc);
  });
  app.addHook('onClose', async () => { redis.disconnect(); });
} else {
  const json = readFileSync(arg!, 'utf8');
  app.get('/api/v1/videos/:id', async (_request, reply) => reply.type('application/json; charset=utf-8').send(json));
}
await app.listen({ port: Number(port), host: '127.0.0.1' });
process.stdout.write('listening\n');
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)); });
