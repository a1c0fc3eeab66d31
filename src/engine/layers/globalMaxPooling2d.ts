// GlobalMaxPooling2D: each channel's largest value over the whole [H, W, C]
// image, [C] out (or [1, 1, C] with keepdims), as max pooling with one window
// the size of the image (maxpool2d.wgsl), whose backward routes each gradient
// to where its maximum came from (and applies the gradient of a ReLU before it).
import { reshape, rows, type Tensor } from '../buffers';
import { maxPool2dBackward, maxPool2dForward } from '../ops/maxpool2d';
import { expectKeepdims, globalOutput, wholeImage } from './globalAveragePooling2d';
import { expectImage, type LayerConfigBase, type LayerKind } from './layer';
import { expectChannelsLast } from './kerasMapping';
import { imageLayer } from './torchMapping';

export interface GlobalMaxPooling2DConfig extends LayerConfigBase {
  type: 'globalMaxPooling2d';
  /** True for a [1, 1, C] output, as Keras' keepdims; absent or false, [C]. */
  keepdims?: boolean;
}

export function globalMaxPooling2d(options: { keepdims?: boolean; inputShape?: number[] } = {}): GlobalMaxPooling2DConfig {
  return { type: 'globalMaxPooling2d', ...(options.keepdims !== undefined && options.keepdims !== false && { keepdims: options.keepdims }), ...(options.inputShape && { inputShape: options.inputShape }) };
}

export const globalMaxPooling2dLayer: LayerKind<GlobalMaxPooling2DConfig> = {
  shape(config, input, name) {
    expectImage(name, input);
    expectKeepdims(name, config.keepdims);
    return { output: globalOutput(input, config.keepdims), params: [] };
  },

  build(_config, context) {
    const { device, x, dX, output, input } = context;
    const y = context.tensor('y', output);
    const argmax = context.tensor('argmax', output, 'u32');
    const dY = context.needsOutputGradient ? context.tensor('dY', output) : null;
    const pool = wholeImage(input);
    // The pooling's [N, 1, 1, C] output.
    const pooled = (t: Tensor, batchSize: number) => reshape(rows(t, batchSize), [batchSize, 1, 1, input[2]]);
    return {
      y,
      dY,
      forward: async (batchSize) => [await maxPool2dForward(device, { x: rows(x, batchSize), y: pooled(y, batchSize), argmax: pooled(argmax, batchSize) }, pool)],
      backward: async (batchSize) =>
        dX && dY
          ? [
              await maxPool2dBackward(
                device,
                { argmax: pooled(argmax, batchSize), dOut: pooled(dY, batchSize), dInput: rows(dX, batchSize), ...(context.inputRelu && { reluOf: rows(x, batchSize) }) },
                pool,
              ),
            ]
          : [],
    };
  },

  foldsInputRelu: true,

  torch: imageLayer,

  keras: {
    read: {
      GlobalMaxPooling2D(config) {
        expectChannelsLast(config);
        return globalMaxPooling2d({ keepdims: config.keepdims as boolean });
      },
    },
    write: (config) => ({ className: 'GlobalMaxPooling2D', config: { data_format: 'channels_last', keepdims: config.keepdims ?? false } }),
  },
};
