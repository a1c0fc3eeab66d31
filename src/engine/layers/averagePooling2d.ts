// AveragePooling2D: the mean of each PH x PW window, windows SY x SX apart, with
// 'valid' or 'same' padding (a window over the border averages what lies inside).
import { rows } from '../buffers';
import { avgPool2dBackward, avgPool2dForward, avgPool2dShape } from '../ops/avgpool2d';
import type { Padding } from '../ops/conv2d';
import { expectImage, expectOneOf, expectPositivePair, pair, withLayerName, type LayerConfigBase, type LayerKind, type Pair } from './layer';
import { expectChannelsLast, kerasPair } from './kerasMapping';
import { imageLayer } from './torchMapping';

export interface AveragePooling2DConfig extends LayerConfigBase {
  type: 'averagePooling2d';
  poolSize: [number, number];
  strides: [number, number];
  padding: Padding;
}

/** Keras' AveragePooling2D: strides default to the pool size, padding to 'valid'. */
export function averagePooling2d(
  options: { poolSize?: Pair; strides?: Pair; padding?: Padding; inputShape?: number[] } = {},
): AveragePooling2DConfig {
  const poolSize = pair(options.poolSize ?? 2);
  return {
    type: 'averagePooling2d',
    poolSize,
    strides: pair(options.strides ?? poolSize),
    padding: options.padding ?? 'valid',
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

export const averagePooling2dLayer: LayerKind<AveragePooling2DConfig> = {
  shape(config, input, name) {
    expectImage(name, input);
    expectPositivePair(name, 'poolSize', config.poolSize);
    expectPositivePair(name, 'strides', config.strides);
    expectOneOf(name, 'padding', config.padding, ['valid', 'same']);
    return { output: withLayerName(name, () => avgPool2dShape([1, ...input], config)).slice(1), params: [] };
  },

  build(config, context) {
    const { device, x, dX, output } = context;
    const y = context.tensor('y', output);
    const dY = context.needsOutputGradient ? context.tensor('dY', output) : null;
    return {
      y,
      dY,
      forward: async (batchSize) => [await avgPool2dForward(device, { x: rows(x, batchSize), y: rows(y, batchSize) }, config)],
      backward: async (batchSize) => (dX && dY ? [await avgPool2dBackward(device, { dOut: rows(dY, batchSize), dInput: rows(dX, batchSize) }, config)] : []),
    };
  },

  torch: imageLayer,

  keras: {
    read: {
      AveragePooling2D(config) {
        expectChannelsLast(config);
        const { pool_size = 2, strides, padding = 'valid' } = config;
        // Keras' strides default (null) to the pool size, as ours do.
        return averagePooling2d({ poolSize: kerasPair(pool_size), padding: padding as Padding, ...(strides != null && { strides: kerasPair(strides) }) });
      },
    },
    write: (config) => ({
      className: 'AveragePooling2D',
      config: { pool_size: config.poolSize, padding: config.padding, strides: config.strides, data_format: 'channels_last' },
    }),
  },
};
