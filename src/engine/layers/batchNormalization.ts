// BatchNormalization over the last axis: in training, each channel normalized by
// the batch's mean and variance (which update the moving ones); in inference, by
// the moving ones. Then scaled by gamma and shifted by beta, either of which
// Keras' scale and center may leave out.
import { formatShape, rows, writeTensor } from '../buffers';
import { quoteJson } from '../safetensors';
import { batchNormBackward, batchNormCheck, batchNormForward, batchNormMovingStatistics, batchNormStatistics } from '../ops/batchnorm';
import { withLayerName, type LayerConfigBase, type LayerKind, type ParamSpec } from './layer';
import { expectKeras, kerasInitializer } from './kerasMapping';
import { torchParam } from './torchMapping';

export interface BatchNormalizationConfig extends LayerConfigBase {
  type: 'batchNormalization';
  momentum: number;
  epsilon: number;
  /** False: no beta (Keras' center=False), the shift is 0. Absent: true. */
  center?: boolean;
  /** False: no gamma (Keras' scale=False), the scale is 1. Absent: true. */
  scale?: boolean;
}

/** Keras' BatchNormalization with its defaults, over the last axis. */
export function batchNormalization(
  options: { momentum?: number; epsilon?: number; center?: boolean; scale?: boolean; inputShape?: number[] } = {},
): BatchNormalizationConfig {
  return {
    type: 'batchNormalization',
    momentum: options.momentum ?? 0.99,
    epsilon: options.epsilon ?? 1e-3,
    // Keras' defaults left implicit, so that configs are as they were before these existed.
    ...(options.center !== undefined && options.center !== true && { center: options.center }),
    ...(options.scale !== undefined && options.scale !== true && { scale: options.scale }),
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

/** The layer's parameters in Keras' order: gamma and beta where scale and center keep them, then the moving statistics. */
function params(config: BatchNormalizationConfig, channels: number[]): ParamSpec[] {
  return [
    ...(config.scale === false ? [] : [{ name: 'gamma', shape: channels, init: { kind: 'ones' } } as const]),
    ...(config.center === false ? [] : [{ name: 'beta', shape: channels, init: { kind: 'zeros' } } as const]),
    { name: 'moving_mean', shape: channels, init: { kind: 'zeros' }, trainable: false },
    { name: 'moving_variance', shape: channels, init: { kind: 'ones' }, trainable: false },
  ];
}

export const batchNormalizationLayer: LayerKind<BatchNormalizationConfig> = {
  shape(config, input, name) {
    withLayerName(name, () => batchNormCheck(config));
    for (const field of ['center', 'scale'] as const) {
      if (config[field] !== undefined && typeof config[field] !== 'boolean') throw new Error(`${name}: ${field} must be true or false, got ${quoteJson(config[field])}`);
    }
    // The moving statistics are the layer's to update.
    return { output: [...input], params: params(config, [input[input.length - 1]]) };
  },

  build(config, context) {
    const { device, x, dX, output } = context;
    const channels = [output[output.length - 1]];
    const param = (name: string) => context.params.find((p) => p.spec.name === name);
    // Without gamma or beta the kernels take a fixed one of ones or zeros, and
    // write its gradient (which dInput needs) where nothing reads it but them.
    const fixed = (name: string, fill: number) => {
      const value = context.state(name, channels);
      if (fill !== 0) writeTensor(device, value, new Float32Array(channels[0]).fill(fill));
      return { value, grad: context.state(`${name} gradient`, channels) };
    };
    const gamma = param('gamma') ?? fixed('fixed gamma', 1);
    const beta = param('beta') ?? fixed('fixed beta', 0);
    const [movingMean, movingVariance] = [param('moving_mean')!, param('moving_variance')!];
    const y = context.tensor('y', output);
    const dY = context.needsOutputGradient ? context.tensor('dY', output) : null;
    // The statistics in use: the batch's in training (the backward reads them too), the moving ones in inference.
    const mean = context.state('mean', channels);
    const invStd = context.state('inverse std', channels);
    const moving = { mean, invStd, movingMean: movingMean.value, movingVariance: movingVariance.value };
    const normalize = (batchSize: number) =>
      batchNormForward(device, { x: rows(x, batchSize), gamma: gamma.value, beta: beta.value, mean, invStd, y: rows(y, batchSize) }, config);
    return {
      y,
      dY,
      forward: async (batchSize) => [await batchNormMovingStatistics(device, moving, config), await normalize(batchSize)],
      forwardTraining: async (batchSize) => [await batchNormStatistics(device, { x: rows(x, batchSize), ...moving }, config), await normalize(batchSize)],
      // dGamma and dBeta are written every step; the moving statistics' gradients stay zero.
      // (dY is null only on a last layer, which the loss refuses.)
      async backward(batchSize) {
        if (!dY) return [];
        const gradients = { dGamma: gamma.grad, dBeta: beta.grad, dInput: dX ? rows(dX, batchSize) : undefined };
        return batchNormBackward(device, { x: rows(x, batchSize), dOut: rows(dY, batchSize), gamma: gamma.value, mean, invStd, ...gradients }, config);
      },
    };
  },

  torch(config, input, shape, order, at) {
    // PyTorch's BatchNorm normalizes dimension 1: the features of [N, F], the channels of NCHW.
    if (input.length !== 1 && input.length !== 3) {
      throw new Error(`${at.name}: cannot export to PyTorch: its input ${formatShape(input)} is neither [features] nor [height, width, channels], and PyTorch's BatchNorm normalizes over dimension 1`);
    }
    if ((config.center === false) !== (config.scale === false)) {
      throw new Error(`${at.name}: cannot export to PyTorch: center and scale must be both on or both off, as PyTorch's BatchNorm has its weight and bias together (affine)`);
    }
    const names: Record<string, string> = { gamma: 'weight', beta: 'bias', moving_mean: 'running_mean', moving_variance: 'running_var' };
    const params = shape.params.map((p) => torchParam(at, p.name, names[p.name], p.shape, input.length === 1 ? order : null));
    return { params, order: input.length === 1 ? order : null };
  },

  keras: {
    read: {
      BatchNormalization(config, input) {
        // Keras counts the batch axis: the last of [H, W, C] is 3 (or -1); tf.keras 2 writes it as a list, [3].
        const axis = Array.isArray(config.axis) && config.axis.length === 1 ? config.axis[0] : (config.axis ?? -1);
        if (axis !== -1 && axis !== input.length) {
          throw new Error(`axis ${quoteJson(config.axis)} is not supported (only the last, ${input.length} or -1, for a ${formatShape(input)} input)`);
        }
        for (const field of ['center', 'scale']) expectKeras(config, field, [true, false]);
        expectKeras(config, 'renorm', [false]);
        expectKeras(config, 'virtual_batch_size', [null]);
        const { momentum, epsilon, center, scale } = config;
        return batchNormalization({
          ...(momentum !== undefined && { momentum: momentum as number }),
          ...(epsilon !== undefined && { epsilon: epsilon as number }),
          ...(center !== undefined && { center: center as boolean }),
          ...(scale !== undefined && { scale: scale as boolean }),
        });
      },
    },
    write: (config) => ({
      className: 'BatchNormalization',
      config: {
        axis: -1,
        momentum: config.momentum,
        epsilon: config.epsilon,
        center: config.center ?? true,
        scale: config.scale ?? true,
        beta_initializer: kerasInitializer('Zeros'),
        gamma_initializer: kerasInitializer('Ones'),
        moving_mean_initializer: kerasInitializer('Zeros'),
        moving_variance_initializer: kerasInitializer('Ones'),
        beta_regularizer: null,
        gamma_regularizer: null,
        beta_constraint: null,
        gamma_constraint: null,
      },
    }),
  },
};
