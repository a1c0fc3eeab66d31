// Float64 CPU reference for bias.wgsl: y[r, c] = x[r, c] + bias[c] over rows
// [rows, channels], row-major (NHWC images are rows = N·H·W).

export function biasForward(x: ArrayLike<number>, bias: ArrayLike<number>, rows: number, channels: number): Float64Array {
  const y = new Float64Array(rows * channels);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++) y[r * channels + c] = x[r * channels + c] + bias[c];
  }
  return y;
}

/** dBias[c] = Σ_r dOut[r, c] (dInput is dOut itself). */
export function biasBackward(dOut: ArrayLike<number>, rows: number, channels: number): Float64Array {
  const dBias = new Float64Array(channels);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < channels; c++) dBias[c] += dOut[r * channels + c];
  }
  return dBias;
}
