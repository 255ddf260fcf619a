// The playground's build: `npm run playground` (dev server) and `npm run playground:build`
// (static files in playground/dist, relative URLs, so the folder can be hosted under any path).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2048 },
  worker: { format: 'es' },
  // the page imports the library's source, the bundled checkpoint and text from the repository root
  server: { fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] } },
});
