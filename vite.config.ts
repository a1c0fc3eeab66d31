// Vite serves and builds the web page (index.html, src/app) into dist/app.
// MNIST is a static asset: public/mnist is served at /mnist/ and copied into the build.
import { defineConfig } from 'vite';

export default defineConfig({
  // dist/lib is the library's (vite.lib.config.ts).
  build: { outDir: 'dist/app' },
});
