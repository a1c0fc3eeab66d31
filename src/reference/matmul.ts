// Float64 CPU reference for matmul.wgsl: y[M, N] = x[M, K] · w[K, N], row-major.

/** The product's sizes: x is [M, K], w [K, N], y [M, N]. */
export interface MatmulShape {
  M: number;
  K: number;
  N: number;
}

export function matmulForward(x: ArrayLike<number>, w: ArrayLike<number>, { M, K, N }: MatmulShape): Float64Array {
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
  { M, K, N }: MatmulShape,
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
