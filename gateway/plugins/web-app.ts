/**
 * Serves the web app (gateway/web, built by Vite into gateway/web/dist: `npm run build:web`, run
 * by `npm start` and `npm test` first) at `/`: `index.html` and its hashed assets, one route per
 * built file (@fastify/static with `wildcard: false`), so no catch-all shadows the API's 404s.
 * Assets are immutable (content-hashed names); `index.html` is revalidated. Without a build, `/`
 * answers 404 WEB_APP_NOT_BUILT saying how to build it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fp from 'fastify-plugin';

/** Where the built app is. */
export const WEB_APP_DIR = fileURLToPath(new URL('../web/dist', import.meta.url));

/** Options: `root`, the built app's directory (default WEB_APP_DIR). */
export interface WebAppOptions { root?: string }

export const webAppPlugin = fp<WebAppOptions>(async (fastify, opts) => {
  const root = opts.root ?? WEB_APP_DIR;
  if (!existsSync(`${root}/index.html`)) {
    fastify.log.warn({ root }, 'web app not built: `/` answers 404 (run npm run build:web)');
    fastify.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply.code(404).send({ code: 'WEB_APP_NOT_BUILT', message: 'the web app is not built: run `npm run build:web`' }));
    return;
  }
  await fastify.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    cacheControl: false,
    setHeaders(res, path) {
      res.header('cache-control', path.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
    },
  });
}, { name: 'web-app' });
