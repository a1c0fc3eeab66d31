// BatchNormalization over the last axis: in training, each channel normalized by
// the batch's mean and variance (which update the moving ones); in inference, by
// the moving ones. Then scaled by gamma and shifted by beta.
import { formatShape, rows } from '../buffers';
import { quoteJson } from '../safetensors';
import { batchNormBackward, batchNormCheck, batchNormForward, batchNormMovingStatistics, batchNormStatistics } from '../ops/batchnorm';
import { withLayerName, type LayerConfigBase, type LayerKind } from './layer';
import { expectKeras, kerasInitializer } from './kerasMapping';
import { torchParam } from './torchMapping';

export interface BatchNormalizationConfig extends LayerConfigBase {
  type: 'batchNormalization';
  momentum: number;
  epsilon: number;
}

/** Keras' BatchNormalization with its defaults, over the last axis. */
export function batchNormalization(
  options: { momentum?: number; epsilon?: number; inputShape?: number[] } = {},
): BatchNormalizationConfig {
  return {
    type: 'batchNormalization',
    momentum: options.momentum ?? 0.99,
    epsilon: options.epsilon ?? 1e-3,
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

export const batchNormalizationLayer: LayerKind<BatchNormalizationConfig> = {
  shape(config, input, name) {
    withLayerName(name, () => batchNormCheck(config));
    const channels = [input[input.length - 1]];
    // Keras' weights, in its order; the moving statistics are the layer's to update.
    return {
      output: [...input],
      params: [
        { name: 'gamma', shape: channels, init: { kind: 'ones' } },
        { name: 'beta', shape: channels, init: { kind: 'zeros' } },
        { name: 'moving_mean', shape: channels, init: { kind: 'zeros' }, trainable: false },
        { name: 'moving_variance', shape: channels, init: { kind: 'ones' }, trainable: false },
      ],
    };
  },

  build(config, context) {
    const { device, x, dX, output } = context;
    const [gamma, beta, movingMean, movingVariance] = context.params;
    const y = context.tensor('y', output);
    const dY = context.needsOutputGradient ? context.tensor('dY', output) : null;
    // The statistics in use: the batch's in training (the backward reads them too), the moving ones in inference.
    const channels = [output[output.length - 1]];
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

  torch(_config, input, shape, order, at) {
    // PyTorch's BatchNorm normalizes dimension 1: the features of [N, F], the channels of NCHW.
    if (input.length !== 1 && input.length !== 3) {
      throw new Error(`${at.name}: cannot export to PyTorch: its input ${formatShape(input)} is neither [features] nor [height, width, channels], and PyTorch's BatchNorm normalizes over dimension 1`);
    }
    const names: [string, string][] = [['gamma', 'weight'], ['beta', 'bias'], ['moving_mean', 'running_mean'], ['moving_variance', 'running_var']];
    const params = names.map(([ours, torch], k) => torchParam(at, ours, torch, shape.params[k].shape, input.length === 1 ? order : null));
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
        for (const field of ['center', 'scale']) expectKeras(config, field, [true]);
        expectKeras(config, 'renorm', [false]);
        expectKeras(config, 'virtual_batch_size', [null]);
        const { momentum, epsilon } = config;
        return batchNormalization({ ...(momentum !== undefined && { momentum: momentum as number }), ...(epsilon !== undefined && { epsilon: epsilon as number }) });
      },
    },
    write: (config) => ({
      className: 'BatchNormalization',
      config: {
        axis: -1,
        momentum: config.momentum,
        epsilon: config.epsilon,
        center: true,
        scale: true,
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
