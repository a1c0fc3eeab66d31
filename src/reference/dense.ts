// Float64 CPU reference for the dense layer: matmul's product, then bias and activation.
import type { DenseConfig } from '../engine/layers';
import type { LayerReference } from './layers';
import { matmulBackward, matmulForward } from './matmul';
import { kernelAndBias, productForward } from './product';

export const denseLayer: LayerReference<DenseConfig> = {
  shape(config, input) {
    if (input.length !== 1) throw new Error('needs a flat input');
    return { output: [config.units], params: kernelAndBias([input[0], config.units]) };
  },

  forward(config, x, [kernel, bias], { N, input, activationInLoss }) {
    const [K, units] = [input[0], config.units];
    const product = {
      z: matmulForward(x, kernel, { M: N, K, N: units }),
      rows: N,
      channels: units,
      backward: (dZ: ArrayLike<number>) => matmulBackward(x, kernel, dZ, { M: N, K, N: units }),
    };
    return productForward(product, bias, config.activation, activationInLoss);
  },
};
