// Dense: y = f(x · kernel + bias) on flat inputs.
import { formatShape, rows } from '../buffers';
import { matmulBackward, matmulForward } from '../ops/matmul';
import { biasAndActivation, expectActivation, type ActivationName } from './activation';
import { expectPositive, type LayerConfigBase, type LayerKind } from './layer';

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
    expectPositive(name, 'units', [config.units]);
    return {
      output: [config.units],
      params: [
        { name: 'kernel', shape: [input[0], config.units], init: { kind: 'glorotUniform', fanIn: input[0], fanOut: config.units } },
        { name: 'bias', shape: [config.units], init: { kind: 'zeros' } },
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
        return [await matmulForward(device, { x: rows(x, b), w: kernel.value, y: rows(epilogue.z, b) }), ...(await epilogue.forward(b))];
      },
      async backward(b) {
        const product = await matmulBackward(device, {
          x: rows(x, b),
          w: kernel.value,
          dOut: rows(epilogue.dU, b),
          dInput: dX ? rows(dX, b) : undefined,
          dWeight: kernel.grad,
        });
        return [...(await epilogue.backward(b)), ...product];
      },
    };
  },
};
