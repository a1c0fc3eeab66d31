// Dense: y = f(x · kernel + bias) on flat inputs.
import { formatShape } from '../buffers';
import { matmulBackward, matmulForward } from '../ops/matmul';
import { expectActivation, kernelAndBias, productLayer, type ActivationName } from './product';
import { expectPositiveInteger, type LayerConfigBase, type LayerKind } from './layer';

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

  build: (config, context) =>
    productLayer(context, config.activation, {
      forward: (t) => matmulForward(context.device, t),
      backward: (t) => matmulBackward(context.device, t),
    }),
};
