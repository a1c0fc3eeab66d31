// Float64 CPU reference for softmax.wgsl: softmax along each row of x [rows, C]
// (C classes per row).

export function softmaxForward(x: ArrayLike<number>, rows: number, C: number): Float64Array {
  const y = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let j = 0; j < C; j++) max = Math.max(max, x[r * C + j]);
    let sum = 0;
    for (let j = 0; j < C; j++) {
      y[r * C + j] = Math.exp(x[r * C + j] - max);
      sum += y[r * C + j];
    }
    for (let j = 0; j < C; j++) y[r * C + j] /= sum;
  }
  return y;
}

/** dInput = y ⊙ (dOut - Σ_j dOut_j y_j), row by row. */
export function softmaxBackward(y: ArrayLike<number>, dOut: ArrayLike<number>, rows: number, C: number): Float64Array {
  const dInput = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let j = 0; j < C; j++) dot += dOut[r * C + j] * y[r * C + j];
    for (let j = 0; j < C; j++) dInput[r * C + j] = y[r * C + j] * (dOut[r * C + j] - dot);
  }
  return dInput;
}
