// Activation: an activation on its own, elementwise or softmax over the last
// axis, as Keras' Activation, ReLU, LeakyReLU and Softmax layers apply it. A
// product's own activation is its epilogue (product.ts); this layer follows
// layers that have none (a Conv2D before a BatchNormalization, then ReLU).
import { rows } from '../buffers';
import { activationBackward, activationCheck, activationForward, gradientInput } from '../ops/activation';
import { softmaxBackward, softmaxForward } from '../ops/softmax';
import { quoteJson } from '../safetensors';
import { channelRows, expectActivation, type ActivationName } from './product';
import { withLayerName, type LayerConfigBase, type LayerKind } from './layer';
import { expectKeras, kerasActivation } from './kerasMapping';
import { keepsOrder } from './torchMapping';

export interface ActivationConfig extends LayerConfigBase {
  type: 'activation';
  activation: ActivationName;
  /** leaky_relu's slope below 0 (a LeakyReLU layer's); absent, Keras' leaky_relu function's 0.2. */
  negativeSlope?: number;
}

export function activation(options: { activation: ActivationName; negativeSlope?: number; inputShape?: number[] }): ActivationConfig {
  return {
    type: 'activation',
    activation: options.activation,
    ...(options.negativeSlope !== undefined && { negativeSlope: options.negativeSlope }),
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

/** Keras' LeakyReLU layer's slope where its config gives none. */
const KERAS_LEAKY_RELU_LAYER_SLOPE = 0.3;

export const activationLayer: LayerKind<ActivationConfig> = {
  shape(config, input, name) {
    expectActivation(name, config.activation);
    if (config.negativeSlope !== undefined) {
      if (config.activation !== 'leaky_relu') throw new Error(`${name}: negativeSlope applies to leaky_relu only, not to ${config.activation}`);
      withLayerName(name, () => activationCheck('leaky_relu', { negativeSlope: config.negativeSlope }));
    }
    return { output: [...input], params: [] };
  },

  build(config, context) {
    const { device, x, dX, output } = context;
    const kind = config.activation;
    // linear is the identity: a view of the input, and so is its gradient (as flatten's).
    if (kind === 'linear') {
      return { y: x, dY: context.needsOutputGradient ? dX : null, forward: async () => [], backward: async () => [] };
    }
    // The model's last layer, whose softmax or sigmoid the loss takes: the
    // logits are this layer's input, and their gradient the layer before's.
    if (context.activationInLoss) {
      return { y: context.tensor('y', output), dY: null, logits: { value: x, grad: dX ?? context.tensor('dLogits', output) }, forward: async () => [], backward: async () => [] };
    }
    const y = context.tensor('y', output);
    if (kind === 'softmax') {
      const dY = context.needsOutputGradient ? context.tensor('dY', output) : null;
      return {
        y,
        dY,
        forward: async (batchSize) => [await softmaxForward(device, { x: channelRows(rows(x, batchSize)), y: channelRows(rows(y, batchSize)) })],
        backward: async (batchSize) =>
          dX && dY ? [await softmaxBackward(device, { y: channelRows(rows(y, batchSize)), dOut: channelRows(rows(dY, batchSize)), dInput: channelRows(rows(dX, batchSize)) })] : [],
      };
    }
    const options = config.negativeSlope === undefined ? {} : { negativeSlope: config.negativeSlope };
    // A ReLU whose gradient the next layer applies (LayerContext.outputReluFolded)
    // hands that layer dX itself: what it writes there is dLoss/dx already.
    const folded = kind === 'relu' && context.outputReluFolded;
    const dY = folded ? dX : context.needsOutputGradient ? context.tensor('dY', output) : null;
    const from = gradientInput(kind) === 'x' ? x : y;
    return {
      y,
      dY,
      forward: async (batchSize) => [await activationForward(device, kind, { x: rows(x, batchSize), y: rows(y, batchSize) }, options)],
      backward: async (batchSize) =>
        dX && dY && !folded
          ? [await activationBackward(device, kind, { [gradientInput(kind)]: rows(from, batchSize), dOut: rows(dY, batchSize), dInput: rows(dX, batchSize) }, options)]
          : [],
    };
  },

  endsInRelu: (config) => config.activation === 'relu',

  // Elementwise, or softmax over the last axis, which is the channels of an image in PyTorch's layout too.
  torch: keepsOrder,

  keras: {
    read: {
      Activation: (config) => activation({ activation: kerasActivation(config) }),
      ReLU(config) {
        expectKeras(config, 'max_value', [null]);
        expectKeras(config, 'threshold', [0]);
        // A slope below 0 makes it a leaky ReLU.
        const slope = config.negative_slope ?? 0;
        return slope === 0 ? activation({ activation: 'relu' }) : activation({ activation: 'leaky_relu', negativeSlope: slope as number });
      },
      // Keras 3 names the slope negative_slope, Keras 2 alpha.
      LeakyReLU: (config) => activation({ activation: 'leaky_relu', negativeSlope: (config.negative_slope ?? config.alpha ?? KERAS_LEAKY_RELU_LAYER_SLOPE) as number }),
      Softmax(config, input) {
        // Keras counts the batch axis: the last of [H, W, C] is 3 (or -1); a list of one axis is that axis.
        const axis = Array.isArray(config.axis) && config.axis.length === 1 ? config.axis[0] : (config.axis ?? -1);
        if (axis !== -1 && axis !== input.length) throw new Error(`axis ${quoteJson(config.axis)} is not supported (only the last, ${input.length} or -1)`);
        return activation({ activation: 'softmax' });
      },
    },
    // A slope of its own is a LeakyReLU layer's; any other activation, Activation's (softmax included).
    write: (config) =>
      config.negativeSlope === undefined
        ? { className: 'Activation', config: { activation: config.activation } }
        : { className: 'LeakyReLU', config: { negative_slope: config.negativeSlope } },
  },
};
