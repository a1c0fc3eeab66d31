// Float64 CPU reference for matmul.wgsl: y[M, N] = x[M, K] · w[K, N], row-major;
// and the dense layer: that product, then bias and activation.
import type { DenseConfig } from '../engine/layers';
import type { LayerReference } from './layers';
import { kernelAndBias, productForward } from './product';

export function matmulForward(x: ArrayLike<number>, w: ArrayLike<number>, M: number, K: number, N: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += x[m * K + k] * w[k * N + n];
      y[m * N + n] = sum;
    }
  }
  return y;
}

/** dInput = dOut · wᵀ, dWeight = xᵀ · dOut. */
export function matmulBackward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  dOut: ArrayLike<number>,
  M: number,
  K: number,
  N: number,
): { dInput: Float64Array; dWeight: Float64Array } {
  const dInput = new Float64Array(M * K);
  const dWeight = new Float64Array(K * N);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < K; k++) {
      for (let n = 0; n < N; n++) {
        dInput[m * K + k] += dOut[m * N + n] * w[k * N + n];
        dWeight[k * N + n] += x[m * K + k] * dOut[m * N + n];
      }
    }
  }
  return { dInput, dWeight };
}

export const denseLayer: LayerReference<DenseConfig> = {
  shape(config, input) {
    if (input.length !== 1) throw new Error('needs a flat input');
    return { output: [config.units], params: kernelAndBias([input[0], config.units]) };
  },

  forward(config, x, [kernel, bias], { N, input, last }) {
    const [K, units] = [input[0], config.units];
    const product = {
      z: matmulForward(x, kernel, N, K, units),
      rows: N,
      channels: units,
      backward: (dZ: ArrayLike<number>) => matmulBackward(x, kernel, dZ, N, K, units),
    };
    return productForward(product, bias, config.activation, last);
  },
};
