// Vite serves and builds the web pages into dist/app: the training page (index.html,
// src/app), the benchmark page (bench.html, bench/page.ts) and the shader workbench (workbench.html, src/workbench/page.ts).
// MNIST is a static asset: public/mnist is served at /mnist/ and copied into the build.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const page = (name: string) => fileURLToPath(new URL(name, import.meta.url));

export default defineConfig({
  // dist/lib is the library's (vite.lib.config.ts).
  build: {
    outDir: 'dist/app',
    rollupOptions: { input: { main: page('index.html'), bench: page('bench.html'), workbench: page('workbench.html') } },
    // TensorFlow.js, which only the benchmark page loads and only when it runs, is a 950 kB chunk; h5wasm
    // (the HDF5 library, its WebAssembly inlined), which the training page loads only to read or write a Keras file, 4.8 MB.
    chunkSizeWarningLimit: 5000,
  },
  preview: {
    // A cross-origin isolated page gets performance.now() to 5 µs rather than 100 µs (the benchmark's CPU times).
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  },
});
