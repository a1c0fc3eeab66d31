// Vite builds the engine as a library (npm run build:lib): two ES module entries,
// the browser engine (dist/lib/index.js) and the Node entry (dist/lib/node.js),
// sharing chunks. `?raw` imports inline the WGSL; the packages the engine runs
// on (h5wasm and fflate for Keras files, imported on first use) are left for
// the installer to provide. tsconfig.lib.json writes the types.
import { defineConfig } from 'vite';

export default defineConfig({
  // The web page's public folder, if it ever has one, is not part of the library.
  publicDir: false,
  build: {
    outDir: 'dist/lib',
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    sourcemap: true,
    lib: {
      entry: { index: 'src/engine/index.ts', node: 'src/node/index.ts' },
      formats: ['es'],
    },
    rollupOptions: {
      external: [/^node:/, 'webgpu', /^wgsl_reflect(\/|$)/, /^h5wasm(\/|$)/, 'fflate'],
      output: {
        // What both entries share (all of the engine) is one chunk, named for what it holds.
        manualChunks: (id) => (id.includes('/src/engine/') || id.includes('/src/shaders/') ? 'engine' : undefined),
        chunkFileNames: 'chunks/[name]-[hash].js',
      },
    },
  },
});
