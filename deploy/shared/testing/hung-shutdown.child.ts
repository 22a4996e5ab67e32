/**
 * Child process for shutdown.test.ts: a listening HTTP server and two more components stopped by
 * `exitOnSignals` + `shutdownInOrder`, exactly as standalone mode does.
 *
 *   node --import tsx hung-shutdown.child.ts <hang|ok> <timeoutSeconds>
 *
 * `hang`: the `transcoder` step never finishes closing. Prints `READY <port>` once listening.
 */
import Fastify from 'fastify';
import { pino } from 'pino';
import { exitOnSignals, shutdownInOrder } from '../shutdown.ts';

const [mode, timeout] = process.argv.slice(2);
const timeoutSeconds = Number(timeout ?? 1);
const logger = pino({ name: 'hung-shutdown', level: 'info' });
const app = Fastify();
app.get('/', async () => 'ok');
await app.listen({ port: 0, host: '127.0.0.1' });
exitOnSignals(
  {
    stop: () =>
      shutdownInOrder(
        [
          { name: 'http', close: () => app.close() },
          { name: 'transcoder', close: () => (mode === 'hang' ? new Promise(() => { setInterval(() => {}, 1000); }) : Promise.resolve()) },
          { name: 'log', close: async () => logger.info('log closed') },
        ],
        { timeoutSeconds, logger },
      ),
  },
  { timeoutSeconds, logger, name: 'child' },
);
process.stdout.write(`READY ${(app.server.address() as { port: number }).port}\n`);
