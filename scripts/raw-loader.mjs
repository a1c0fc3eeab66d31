// Lets plain Node import shader sources the way Vite does: `import source from './x.wgsl?raw'`.
import { register } from 'node:module';

register('./raw-hooks.mjs', import.meta.url);
