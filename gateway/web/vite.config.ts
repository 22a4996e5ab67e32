/**
 * The web app's build (issue 14): Vite bundles gateway/web into gateway/web/dist, which the
 * gateway serves at `/` (gateway/plugins/web-app.ts). `npm run build:web`; `npm start` and
 * `npm test` build it first.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1024 },
});
