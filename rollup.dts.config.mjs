// The library's type declarations in two files, dist/lib/index.d.ts and
// dist/lib/node.d.ts, bundled by rollup-plugin-dts from what tsc -p
// tsconfig.lib.json writes (npm run build:lib), so that a consumer reads them
// under any module resolution. The types use WebGPU's (GPUDevice, ...), from @webgpu/types.
import { dts } from 'rollup-plugin-dts';

export default {
  input: { index: 'dist/types/engine/index.d.ts', node: 'dist/types/node/index.d.ts' },
  output: { dir: 'dist/lib', format: 'es', entryFileNames: '[name].d.ts', banner: '/// <reference types="@webgpu/types" />' },
  plugins: [dts()],
};
