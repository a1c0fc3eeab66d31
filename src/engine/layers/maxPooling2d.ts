// MaxPooling2D: the largest value of each PH x PW window, windows SY x SX apart
// ('valid' padding); the gradient goes back to where each maximum came from.
import { rows } from '../buffers';
import { maxPool2dBackward, maxPool2dForward, maxPool2dShape } from '../ops/maxpool2d';
import { expectImage, expectPositivePair, pair, withLayerName, type LayerConfigBase, type LayerKind, type Pair } from './layer';
import { expectChannelsLast, expectKeras, kerasPair } from './kerasMapping';
import { imageLayer } from './torchMapping';

export interface MaxPooling2DConfig extends LayerConfigBase {
  type: 'maxPooling2d';
  poolSize: [number, number];
  strides: [number, number];
}

/** Keras' MaxPooling2D: strides default to the pool size, padding is 'valid'. */
export function maxPooling2d(options: { poolSize?: Pair; strides?: Pair; inputShape?: number[] } = {}): MaxPooling2DConfig {
  const poolSize = pair(options.poolSize ?? 2);
  return {
    type: 'maxPooling2d',
    poolSize,
    strides: pair(options.strides ?? poolSize),
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

export const maxPooling2dLayer: LayerKind<MaxPooling2DConfig> = {
  shape(config, input, name) {
    expectImage(name, input);
    expectPositivePair(name, 'poolSize', config.poolSize);
    expectPositivePair(name, 'strides', config.strides);
    return { output: withLayerName(name, () => maxPool2dShape([1, ...input], config)).slice(1), params: [] };
  },

  build(config, context) {
    const { device, x, dX, output } = context;
    const y = context.tensor('y', output);
    const argmax = context.tensor('argmax', output, 'u32');
    const dY = context.needsOutputGradient ? context.tensor('dY', output) : null;
    return {
      y,
      dY,
      forward: async (batchSize) => [await maxPool2dForward(device, { x: rows(x, batchSize), y: rows(y, batchSize), argmax: rows(argmax, batchSize) }, config)],
      backward: async (batchSize) =>
        dX && dY
          ? [await maxPool2dBackward(device, { argmax: rows(argmax, batchSize), dOut: rows(dY, batchSize), dInput: rows(dX, batchSize), ...(context.inputRelu && { reluOf: rows(x, batchSize) }) }, config)]
          : [],
    };
  },

  foldsInputRelu: true,

  torch: imageLayer,

  keras: {
    read: {
      MaxPooling2D(config) {
        expectChannelsLast(config);
        expectKeras(config, 'padding', ['valid']);
        const { pool_size = 2, strides } = config;
        // Keras' strides default (null) to the pool size, as ours do.
        return maxPooling2d({ poolSize: kerasPair(pool_size), ...(strides != null && { strides: kerasPair(strides) }) });
      },
    },
    write: (config) => ({
      className: 'MaxPooling2D',
      config: { pool_size: config.poolSize, padding: 'valid', strides: config.strides, data_format: 'channels_last' },
    }),
  },
};
