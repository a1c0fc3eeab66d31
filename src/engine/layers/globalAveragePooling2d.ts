// GlobalAveragePooling2D: each channel's mean over the whole [H, W, C] image,
// [C] out (or [1, 1, C] with keepdims), as average pooling with one window the
// size of the image (avgpool2d.wgsl), whose backward shares each gradient
// equally among the pixels.
import { reshape, rows, type Tensor } from '../buffers';
import { avgPool2dBackward, avgPool2dForward } from '../ops/avgpool2d';
import { quoteJson } from '../safetensors';
import { expectImage, type LayerConfigBase, type LayerKind } from './layer';
import { expectChannelsLast } from './kerasMapping';
import { imageLayer } from './torchMapping';

export interface GlobalAveragePooling2DConfig extends LayerConfigBase {
  type: 'globalAveragePooling2d';
  /** True for a [1, 1, C] output, as Keras' keepdims; absent or false, [C]. */
  keepdims?: boolean;
}

export function globalAveragePooling2d(options: { keepdims?: boolean; inputShape?: number[] } = {}): GlobalAveragePooling2DConfig {
  return { type: 'globalAveragePooling2d', ...(options.keepdims !== undefined && options.keepdims !== false && { keepdims: options.keepdims }), ...(options.inputShape && { inputShape: options.inputShape }) };
}

/** Keras' keepdims: absent (Keras 2 before it existed), or a boolean. */
export function expectKeepdims(name: string, keepdims: unknown): void {
  if (keepdims !== undefined && typeof keepdims !== 'boolean') throw new Error(`${name}: keepdims must be true or false, got ${quoteJson(keepdims)}`);
}

/** A global pooling's output: [C], or [1, 1, C] with keepdims. */
export const globalOutput = (input: readonly number[], keepdims: boolean | undefined) => (keepdims ? [1, 1, input[2]] : [input[2]]);

/** A global pooling of an image: one window of [H, W] pixels. */
export const wholeImage = (input: readonly number[]) => ({ poolSize: [input[0], input[1]] as [number, number] });

export const globalAveragePooling2dLayer: LayerKind<GlobalAveragePooling2DConfig> = {
  shape(config, input, name) {
    expectImage(name, input);
    expectKeepdims(name, config.keepdims);
    return { output: globalOutput(input, config.keepdims), params: [] };
  },

  build(_config, context) {
    const { device, x, dX, output, input } = context;
    const y = context.tensor('y', output);
    const dY = context.needsOutputGradient ? context.tensor('dY', output) : null;
    const pool = wholeImage(input);
    // The pooling's [N, 1, 1, C] output.
    const pooled = (t: Tensor, batchSize: number) => reshape(rows(t, batchSize), [batchSize, 1, 1, input[2]]);
    return {
      y,
      dY,
      forward: async (batchSize) => [await avgPool2dForward(device, { x: rows(x, batchSize), y: pooled(y, batchSize) }, pool)],
      backward: async (batchSize) => (dX && dY ? [await avgPool2dBackward(device, { dOut: pooled(dY, batchSize), dInput: rows(dX, batchSize) }, pool)] : []),
    };
  },

  // Channels out, whose order PyTorch's layout and ours share (as an image's, with keepdims).
  torch: imageLayer,

  keras: {
    read: {
      GlobalAveragePooling2D(config) {
        expectChannelsLast(config);
        return globalAveragePooling2d({ keepdims: config.keepdims as boolean });
      },
    },
    write: (config) => ({ className: 'GlobalAveragePooling2D', config: { data_format: 'channels_last', keepdims: config.keepdims ?? false } }),
  },
};
