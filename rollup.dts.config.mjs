// The library's type declarations, dist/lib/index.d.ts, node.d.ts and
// workbench.d.ts (what they share in chunks/), bundled by rollup-plugin-dts from
// what tsc -p tsconfig.lib.json writes (npm run build:lib), so that a consumer
// reads them under any module resolution. The types use WebGPU's (GPUDevice, ...), from @webgpu/types.
import { dts } from 'rollup-plugin-dts';

export default {
  input: { index: 'dist/types/engine/index.d.ts', node: 'dist/types/node/index.d.ts', workbench: 'dist/types/workbench/index.d.ts' },
  output: { dir: 'dist/lib', format: 'es', entryFileNames: '[name].d.ts', chunkFileNames: 'chunks/[name]-[hash].d.ts', banner: '/// <reference types="@webgpu/types" />' },
  plugins: [dts()],
};
