// Dense: y = f(x · kernel + bias) on flat inputs (without the bias if useBias is false).
import { formatShape } from '../buffers';
import { matmulBackward, matmulForward } from '../ops/matmul';
import { expectActivation, expectUseBias, kernelAndBias, productLayer, type ActivationName } from './product';
import { expectPositiveInteger, type LayerConfigBase, type LayerKind } from './layer';
import { expectKeras, kerasActivation, kerasInitializer } from './kerasMapping';
import { torchParam } from './torchMapping';

export interface DenseConfig extends LayerConfigBase {
  type: 'dense';
  units: number;
  activation: ActivationName;
  /** False for a layer without a bias (Keras' use_bias: false); absent, it has one. */
  useBias?: boolean;
}

export function dense(options: { units: number; activation?: ActivationName; useBias?: boolean; inputShape?: number[] }): DenseConfig {
  return {
    type: 'dense',
    units: options.units,
    activation: options.activation ?? 'linear',
    ...(options.useBias === false && { useBias: false }),
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

export const denseLayer: LayerKind<DenseConfig> = {
  shape(config, input, name) {
    expectActivation(name, config.activation);
    if (input.length !== 1) throw new Error(`${name}: expects a flat input, got ${formatShape(input)}; add a flatten() layer before it`);
    expectPositiveInteger(name, 'units', config.units);
    expectUseBias(name, config.useBias);
    return { output: [config.units], params: kernelAndBias([input[0], config.units], { fanIn: input[0], fanOut: config.units }, config.useBias !== false) };
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
      params: [{ ...torchParam(at, 'kernel', 'weight', kernel.shape), torchShape: [units, inputs], gather }, ...(bias ? [torchParam(at, 'bias', 'bias', bias.shape)] : [])],
      order: null,
    };
  },

  keras: {
    read: {
      Dense(config) {
        expectKeras(config, 'use_bias', [true, false]);
        return dense({ units: config.units as number, activation: kerasActivation(config), useBias: config.use_bias !== false });
      },
    },
    write: (config) => ({
      className: 'Dense',
      config: {
        units: config.units,
        activation: config.activation,
        use_bias: config.useBias !== false,
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
