// Vite's build of the atlas page (web/ → web/dist, git-ignored): hashed assets under /assets/ that
// src/graphql/atlas-site.ts serves with a year-long cache, and index.html that it serves uncached.
// `npm run build:web` (scripts/build-web.ts) runs it; so does `npm install` (postinstall).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // No inline script: the page's Content-Security-Policy allows scripts from this origin only.
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    sourcemap: false,
  },
  server: {
    // `npx vite web` during development: the API of a running `npm start`.
    proxy: { '/graphql': 'http://localhost:4000' },
  },
});
