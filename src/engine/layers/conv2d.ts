// Conv2D: a KH x KW convolution of [H, W, C_in] images into `filters` channels,
// with Keras' strides and 'valid'/'same' padding, then bias and activation.
import { rows } from '../buffers';
import { conv2dBackward, conv2dForward, conv2dShape, type Padding } from '../ops/conv2d';
import { biasAndActivation, expectActivation, type ActivationName } from './activation';
import { expectImage, expectPositive, pair, withLayerName, type LayerConfigBase, type LayerKind, type Pair } from './layer';

export interface Conv2DConfig extends LayerConfigBase {
  type: 'conv2d';
  filters: number;
  kernelSize: [number, number];
  strides: [number, number];
  padding: Padding;
  activation: ActivationName;
}

export function conv2d(options: {
  filters: number;
  kernelSize: Pair;
  strides?: Pair;
  padding?: Padding;
  activation?: ActivationName;
  inputShape?: number[];
}): Conv2DConfig {
  return {
    type: 'conv2d',
    filters: options.filters,
    kernelSize: pair(options.kernelSize),
    strides: pair(options.strides ?? 1),
    padding: options.padding ?? 'valid',
    activation: options.activation ?? 'linear',
    ...(options.inputShape && { inputShape: options.inputShape }),
  };
}

export const conv2dLayer: LayerKind<Conv2DConfig> = {
  shape(config, input, name) {
    expectActivation(name, config.activation);
    expectImage(name, input);
    expectPositive(name, 'filters', [config.filters]);
    expectPositive(name, 'kernelSize', config.kernelSize);
    const [KH, KW] = config.kernelSize;
    const kernel = [KH, KW, input[2], config.filters];
    const output = withLayerName(name, () => conv2dShape([1, ...input], kernel, config)).slice(1);
    const fanIn = KH * KW * input[2];
    return {
      output,
      params: [
        { name: 'kernel', shape: kernel, init: { kind: 'glorotUniform', fanIn, fanOut: KH * KW * config.filters } },
        { name: 'bias', shape: [config.filters], init: { kind: 'zeros' } },
      ],
    };
  },

  build(config, context) {
    const [kernel, bias] = context.params;
    const epilogue = biasAndActivation(context, config.activation, bias);
    const { device, x, dX } = context;
    return {
      ...epilogue,
      async forward(b) {
        return [await conv2dForward(device, { x: rows(x, b), w: kernel.value, y: rows(epilogue.z, b) }, config), ...(await epilogue.forward(b))];
      },
      async backward(b) {
        const product = await conv2dBackward(
          device,
          { x: rows(x, b), w: kernel.value, dOut: rows(epilogue.dU, b), dInput: dX ? rows(dX, b) : undefined, dWeight: kernel.grad },
          config,
        );
        return [...(await epilogue.backward(b)), ...product];
      },
    };
  },
};
