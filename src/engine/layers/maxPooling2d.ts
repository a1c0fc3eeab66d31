// MaxPooling2D: the largest value of each PH x PW window, windows SY x SX apart,
// with 'valid' or 'same' padding (a window over the border takes the largest of
// what lies inside); the gradient goes back to where each maximum came from.
import { rows } from '../buffers';
import type { Padding } from '../ops/conv2d';
import { maxPool2dBackward, maxPool2dForward, maxPool2dShape } from '../ops/maxpool2d';
import { expectImage, expectOneOf, expectPositivePair, pair, withLayerName, type LayerConfigBase, type LayerKind, type Pair } from './layer';
import { expectChannelsLast, kerasPair } from './kerasMapping';
import { imageLayer } from './torchMapping';

export interface MaxPooling2DConfig extends LayerConfigBase {
  type: 'maxPooling2d';
  poolSize: [number, number];
  strides: [number, number];
  /** Absent: 'valid'. */
  padding?: Padding;
}

/** Keras' MaxPooling2D: strides default to the pool size, padding to 'valid'. */
export function maxPooling2d(options: { poolSize?: Pair; strides?: Pair; padding?: Padding; inputShape?: number[] } = {}): MaxPooling2DConfig {
  const poolSize = pair(options.poolSize ?? 2);
  return {
    type: 'maxPooling2d',
    poolSize,
    strides: pair(options.strides ?? poolSize),
    // 'valid' is left implicit, so that configs are as they were before 'same' existed.
    ...(options.padding !== undefined && options.padding !== 'valid' && { padding: options.padding }),
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

export const maxPooling2dLayer: LayerKind<MaxPooling2DConfig> = {
  shape(config, input, name) {
    expectImage(name, input);
    expectPositivePair(name, 'poolSize', config.poolSize);
    expectPositivePair(name, 'strides', config.strides);
    if (config.padding !== undefined) expectOneOf(name, 'padding', config.padding, ['valid', 'same']);
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
        const { pool_size = 2, strides, padding = 'valid' } = config;
        // Keras' strides default (null) to the pool size, as ours do.
        return maxPooling2d({ poolSize: kerasPair(pool_size), padding: padding as Padding, ...(strides != null && { strides: kerasPair(strides) }) });
      },
    },
    write: (config) => ({
      className: 'MaxPooling2D',
      config: { pool_size: config.poolSize, padding: config.padding ?? 'valid', strides: config.strides, data_format: 'channels_last' },
    }),
  },
};
