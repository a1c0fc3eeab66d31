// Bundles the benchmark and the training command into scripts that need only
// `node` and `node_modules/webgpu` (Dawn's native addon), for a GPU machine
// that has neither Node's packages nor npm: `npm run gpu-kit` packs them with
// ../shared/gpu/pack.sh (see the README, "On a GPU machine with no Node").
// WGSL comes in as strings (Vite's ?raw), TensorFlow.js is bundled in, and
// the browser side stays out: Playwright, and bench/chromium.ts, which serves
// the benchmark page with Vite (the bundles run in Node; --browser needs the checkout).
import { defineConfig } from 'vite';

export default defineConfig({
  // MNIST is the checkout's public/mnist, which the training command finds from the project root.
  publicDir: false,
  build: {
    ssr: true,
    outDir: 'dist/gpu',
    emptyOutDir: true,
    target: 'node20',
    rollupOptions: {
      input: { bench: 'bench/main.ts', train: 'src/cli/train.ts' },
      // TensorFlow.js' CommonJS modules call require, which an ES module lacks.
      // Every chunk two folders down, as src/node/*.ts are, so that the MNIST this repository ships (public/mnist) is found as from source.
      output: { format: 'es', entryFileNames: '[name].mjs', chunkFileNames: '[name]-[hash].mjs', banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
      external: (id) => id === 'webgpu' || id.startsWith('node:') || id.endsWith('/bench/chromium.ts') || id === './chromium',
    },
  },
  ssr: { noExternal: true, target: 'node' },
});
