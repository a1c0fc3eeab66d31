// Dense: y = f(x · kernel + bias) on flat inputs.
import { formatShape } from '../buffers';
import { matmulBackward, matmulForward } from '../ops/matmul';
import { expectActivation, kernelAndBias, productLayer, type ActivationName } from './product';
import { expectPositiveInteger, type LayerConfigBase, type LayerKind } from './layer';
import { expectKeras, kerasActivation, kerasInitializer } from './kerasMapping';
import { torchParam } from './torchMapping';

export interface DenseConfig extends LayerConfigBase {
  type: 'dense';
  units: number;
  activation: ActivationName;
}

export function dense(options: { units: number; activation?: ActivationName; inputShape?: number[] }): DenseConfig {
  return {
    type: 'dense',
    units: options.units,
    activation: options.activation ?? 'linear',
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

export const denseLayer: LayerKind<DenseConfig> = {
  shape(config, input, name) {
    expectActivation(name, config.activation);
    if (input.length !== 1) throw new Error(`${name}: expects a flat input, got ${formatShape(input)}; add a flatten() layer before it`);
    expectPositiveInteger(name, 'units', config.units);
    return { output: [config.units], params: kernelAndBias([input[0], config.units], input[0], config.units) };
  },

  endsInRelu: (config) => config.activation === 'relu',

  foldsInputRelu: true,

  build: (config, context) =>
    productLayer(context, config.activation, {
      forward: (t, activation) => matmulForward(context.device, t, activation, { precision: context.precision }),
      backward: (t) => matmulBackward(context.device, t, { precision: context.precision }),
    }),

  torch(_config, _input, shape, order, at) {
    const [kernel, bias] = shape.params;
    const [inputs, units] = kernel.shape;
    const gather = new Uint32Array(inputs * units);
    for (let o = 0; o < units; o++) for (let i = 0; i < inputs; i++) gather[o * inputs + i] = (order ? order[i] : i) * units + o;
    return {
      params: [{ ...torchParam(at, 'kernel', 'weight', kernel.shape), torchShape: [units, inputs], gather }, torchParam(at, 'bias', 'bias', bias.shape)],
      order: null,
    };
  },

  keras: {
    read: {
      Dense(config) {
        expectKeras(config, 'use_bias', [true]);
        return dense({ units: config.units as number, activation: kerasActivation(config) });
      },
    },
    write: (config) => ({
      className: 'Dense',
      config: {
        units: config.units,
        activation: config.activation,
        use_bias: true,
        kernel_initializer: kerasInitializer('GlorotUniform'),
        bias_initializer: kerasInitializer('Zeros'),
        kernel_regularizer: null,
        bias_regularizer: null,
        kernel_constraint: null,
        bias_constraint: null,
      },
    }),
  },
};
