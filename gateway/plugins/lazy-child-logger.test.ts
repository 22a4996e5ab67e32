/**
 * The lazy request logger (issue 12) writes what the real child writes, and makes no child for a
 * request that logs nothing or only below the level.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { LazyChildLogger, lazyChildLoggerFactory } from './lazy-child-logger.ts';

/** A pino logger at `level` writing into `lines` (parsed, without time and pid), counting its `child()` calls. */
function capture(level: string): { logger: Logger; lines: Record<string, unknown>[]; children: () => number } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { const { time: _t, pid: _p, hostname: _h, ...rest } = JSON.parse(String(chunk)); lines.push(rest); cb(); } });
  const logger = pino({ level, redact: ['password'] }, sink);
  let made = 0;
  const child = logger.child.bind(logger);
  logger.child = ((...args: Parameters<Logger['child']>) => { made++; return child(...args); }) as Logger['child'];
  return { logger, lines, children: () => made };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('LazyChildLogger', () => {
  test('given a request that logs nothing or only below the level, when it ends, then no child was made', () => {
    const { logger, lines, children } = capture('info');
    const log = lazyChildLoggerFactory(logger, { reqId: 'req-1' }, {});
    log.debug({ a: 1 }, 'hidden');
    log.trace('hidden too');
    assert.equal(log.isLevelEnabled('debug'), false);
    assert.equal(log.isLevelEnabled('no-such-level' as 'info'), logger.isLevelEnabled('no-such-level' as 'info'), 'an unknown level as pino answers it');
    assert.equal(log.level, 'info');
    assert.equal(children(), 0);
    assert.deepEqual(lines, []);
  });

  test('given enabled lines, when logged, then they equal the real child\'s lines (bindings, redaction, message)', async () => {
    const lazy = capture('info');
    const real = capture('info');
    const args: [Record<string, unknown>, string] = [{ password: 'secret', statusCode: 500 }, 'request completed'];
    const log = new LazyChildLogger(lazy.logger, { reqId: 'req-7' }, {});
    log.info(...args);
    log.error(new Error('boom'), 'failed %s', 'twice');
    const child = real.logger.child({ reqId: 'req-7' });
    child.info(...args);
    child.error(new Error('boom'), 'failed %s', 'twice');
    await flush();
    const withoutStack = (l: Record<string, unknown>) => ({ ...l, err: l.err && { ...(l.err as object), stack: undefined } });
    assert.deepEqual(lazy.lines.map(withoutStack), real.lines.map(withoutStack));
    assert.equal(lazy.lines[0]!.password, '[Redacted]');
    assert.equal(lazy.children(), 1, 'one child for the whole request');
  });

  test('given a route log level (Fastify\'s logLevel option), when below it, then nothing is written; a level change applies', async () => {
    const { logger, lines } = capture('info');
    const log = new LazyChildLogger(logger, { reqId: 'req-2' }, { level: 'warn' });
    log.info('hidden by the route level');
    log.warn('shown');
    log.level = 'debug';
    log.debug('shown after the change');
    await flush();
    assert.deepEqual(lines.map((l) => l.msg), ['shown', 'shown after the change']);
    assert.equal(log.level, 'debug');
  });
});
