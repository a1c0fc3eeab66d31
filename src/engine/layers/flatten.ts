// Flatten: [H, W, C] (or any shape) seen as one vector: a view, no copy, and so is its gradient.
import { reshape, sizeOf } from '../buffers';
import { expectChannelsLast } from './kerasMapping';
import type { LayerConfigBase, LayerKind } from './layer';

export interface FlattenConfig extends LayerConfigBase {
  type: 'flatten';
}

export function flatten(options: { inputShape?: number[] } = {}): FlattenConfig {
  return { type: 'flatten', ...(options.inputShape && { inputShape: options.inputShape }) };
}

export const flattenLayer: LayerKind<FlattenConfig> = {
  shape: (_config, input) => ({ output: [sizeOf(input)], params: [] }),

  build(_config, { x, dX, maxBatchSize, output, needsOutputGradient }) {
    return {
      y: reshape(x, [maxBatchSize, ...output]),
      dY: needsOutputGradient && dX ? reshape(dX, [maxBatchSize, ...output]) : null,
      forward: async () => [],
      backward: async () => [],
    };
  },

  torch(_config, input, _shape, order) {
    if (input.length === 1) return { params: [], order };
    if (input.length !== 3 || input[2] === 1) return { params: [], order: null };
    const [H, W, C] = input;
    const flat = new Uint32Array(H * W * C);
    let t = 0;
    for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) flat[t++] = (h * W + w) * C + c;
    return { params: [], order: flat };
  },

  keras: {
    read: {
      Flatten(config) {
        expectChannelsLast(config);
        return flatten();
      },
    },
    write: () => ({ className: 'Flatten', config: { data_format: 'channels_last' } }),
  },
};
