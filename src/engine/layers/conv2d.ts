// Conv2D: a KH x KW convolution of [H, W, C_in] images into `filters` channels,
// with Keras' strides and 'valid'/'same' padding, then bias (unless useBias is
// false) and activation.
import { sizeOf } from '../buffers';
import { conv2dBackward, conv2dForward, conv2dShape, type Padding } from '../ops/conv2d';
import { expectActivation, expectUseBias, kernelAndBias, productLayer, type ActivationName } from './product';
import { expectImage, expectOneOf, expectPositiveInteger, expectPositivePair, pair, withLayerName, type LayerConfigBase, type LayerKind, type Pair } from './layer';
import { expectChannelsLast, expectKeras, kerasActivation, kerasInitializer, kerasPair } from './kerasMapping';
import { torchParam } from './torchMapping';

export interface Conv2DConfig extends LayerConfigBase {
  type: 'conv2d';
  filters: number;
  kernelSize: [number, number];
  strides: [number, number];
  padding: Padding;
  activation: ActivationName;
  /** False for a layer without a bias (Keras' use_bias: false); absent, it has one. */
  useBias?: boolean;
}

export function conv2d(options: {
  filters: number;
  kernelSize: Pair;
  strides?: Pair;
  padding?: Padding;
  activation?: ActivationName;
  useBias?: boolean;
  inputShape?: number[];
}): Conv2DConfig {
  return {
    type: 'conv2d',
    filters: options.filters,
    kernelSize: pair(options.kernelSize),
    strides: pair(options.strides ?? 1),
    padding: options.padding ?? 'valid',
    activation: options.activation ?? 'linear',
    ...(options.useBias === false && { useBias: false }),
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

export const conv2dLayer: LayerKind<Conv2DConfig> = {
  shape(config, input, name) {
    expectActivation(name, config.activation);
    expectImage(name, input);
    expectPositiveInteger(name, 'filters', config.filters);
    expectPositivePair(name, 'kernelSize', config.kernelSize);
    expectPositivePair(name, 'strides', config.strides);
    expectOneOf(name, 'padding', config.padding, ['valid', 'same']);
    expectUseBias(name, config.useBias);
    const [KH, KW] = config.kernelSize;
    const kernel = [KH, KW, input[2], config.filters];
    const output = withLayerName(name, () => conv2dShape([1, ...input], kernel, config)).slice(1);
    return { output, params: kernelAndBias(kernel, { fanIn: KH * KW * input[2], fanOut: KH * KW * config.filters }, config.useBias !== false) };
  },

  endsInRelu: (config) => config.activation === 'relu',

  build: (config, context) =>
    productLayer(context, config.activation, {
      forward: (t, activation) => conv2dForward(context.device, t, { ...config, precision: context.precision }, activation),
      backward: (t) => conv2dBackward(context.device, t, { ...config, precision: context.precision }),
    }),

  torch(_config, _input, shape, _order, at) {
    const [kernel, bias] = shape.params;
    const [KH, KW, C_in, C_out] = kernel.shape;
    const gather = new Uint32Array(sizeOf(kernel.shape));
    let t = 0;
    for (let co = 0; co < C_out; co++) {
      for (let ci = 0; ci < C_in; ci++) {
        for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) gather[t++] = ((kh * KW + kw) * C_in + ci) * C_out + co;
      }
    }
    return {
      params: [{ ...torchParam(at, 'kernel', 'weight', kernel.shape), torchShape: [C_out, C_in, KH, KW], gather }, ...(bias ? [torchParam(at, 'bias', 'bias', bias.shape)] : [])],
      order: null,
    };
  },

  keras: {
    read: {
      Conv2D(config) {
        expectChannelsLast(config);
        expectKeras(config, 'dilation_rate', [1, [1, 1]]);
        expectKeras(config, 'groups', [1]);
        expectKeras(config, 'use_bias', [true, false]);
        const { filters, kernel_size, strides = 1, padding = 'valid' } = config;
        return conv2d({
          filters: filters as number,
          kernelSize: kerasPair(kernel_size),
          strides: kerasPair(strides),
          padding: padding as Padding,
          activation: kerasActivation(config),
          useBias: config.use_bias !== false,
        });
      },
    },
    write: (config) => ({
      className: 'Conv2D',
      config: {
        filters: config.filters,
        kernel_size: config.kernelSize,
        strides: config.strides,
        padding: config.padding,
        data_format: 'channels_last',
        dilation_rate: [1, 1],
        groups: 1,
        activation: config.activation,
        use_bias: config.useBias !== false,
        kernel_initializer: kerasInitializer('GlorotUniform'),
        bias_initializer: kerasInitializer('Zeros'),
        kernel_regularizer: null,
        bias_regularizer: null,
        activity_regularizer: null,
        kernel_constraint: null,
        bias_constraint: null,
      },
    }),
  },
};
