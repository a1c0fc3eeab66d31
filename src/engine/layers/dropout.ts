// Dropout: in training, each element dropped with probability `rate` and the
// rest scaled by 1 / (1 - rate) (Keras' inverted dropout); in inference, the identity.
import { rows } from '../buffers';
import { dropoutAdvance, dropoutBackward, dropoutCheck, dropoutForward, dropoutInference } from '../ops/dropout';
import { withLayerName, type LayerConfigBase, type LayerKind } from './layer';
import { expectKeras } from './kerasMapping';
import { keepsOrder } from './torchMapping';

export interface DropoutConfig extends LayerConfigBase {
  type: 'dropout';
  rate: number;
  /** Keras' seed: fixes this layer's masks; without one they come from the model's seed. */
  seed?: number;
}

export function dropout(options: { rate: number; seed?: number; inputShape?: number[] }): DropoutConfig {
  return {
    type: 'dropout',
    rate: options.rate,
    ...(options.seed !== undefined && { seed: options.seed }),
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

export const dropoutLayer: LayerKind<DropoutConfig> = {
  shape(config, input, name) {
    withLayerName(name, () => dropoutCheck({ rate: config.rate, seed: config.seed ?? 0 }));
    return { output: [...input], params: [] };
  },

  build(config, context) {
    const { device, x, dX, output } = context;
    const y = context.tensor('y', output);
    const dY = context.needsOutputGradient ? context.tensor('dY', output) : null;
    // Counts training steps, on the GPU: the mask of each is drawn for its count.
    const step = context.state('step', [1], 'u32');
    const options = { rate: config.rate, seed: config.seed ?? context.seed() };
    return {
      y,
      dY,
      forward: async (batchSize) => [await dropoutInference(device, { x: rows(x, batchSize), y: rows(y, batchSize) })],
      forwardTraining: async (batchSize) => [await dropoutAdvance(device, step), await dropoutForward(device, { x: rows(x, batchSize), y: rows(y, batchSize), step }, options)],
      backward: async (batchSize) => (dX && dY ? [await dropoutBackward(device, { dOut: rows(dY, batchSize), dInput: rows(dX, batchSize), step }, options)] : []),
    };
  },

  torch: keepsOrder,

  keras: {
    read: {
      Dropout(config) {
        expectKeras(config, 'noise_shape', [null]);
        const { rate, seed } = config;
        return dropout({ rate: rate as number, ...(seed != null && { seed: seed as number }) });
      },
    },
    write: (config) => ({ className: 'Dropout', config: { rate: config.rate, seed: config.seed ?? null, noise_shape: null } }),
  },
};
