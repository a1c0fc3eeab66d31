// Vite builds the engine as a library (npm run build:lib): three ES module
// entries, the browser engine (dist/lib/index.js), the Node entry
// (dist/lib/node.js) and the shader workbench (dist/lib/workbench.js, with the
// float64 reference it checks against), sharing the engine's chunk. `?raw`
// imports inline the WGSL; the packages the engine runs on (h5wasm and fflate
// for Keras files, imported on first use) are left for the installer to
// provide. tsconfig.lib.json writes the types.
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
      entry: { index: 'src/engine/index.ts', node: 'src/node/index.ts', workbench: 'src/workbench/index.ts' },
      formats: ['es'],
    },
    rollupOptions: {
      external: [/^node:/, 'webgpu', /^wgsl_reflect(\/|$)/, /^h5wasm(\/|$)/, 'fflate'],
      output: {
        // What the entries share (all of the engine) is one chunk, named for what it holds.
        manualChunks: (id) => (id.includes('/src/engine/') || id.includes('/src/shaders/') ? 'engine' : undefined),
        chunkFileNames: 'chunks/[name]-[hash].js',
      },
    },
  },
});
