// Float64 CPU reference for softmax_cross_entropy.wgsl: logits [N, C] row-major,
// labels [N] class indices.

/** Keras clips the true class' probability to [1e-7, 1 - 1e-7]: the loss bounds. */
export const MIN_LOSS = -Math.log1p(-1e-7);
export const MAX_LOSS = -Math.log(1e-7);

function logSumExp(logits: ArrayLike<number>, row: number, C: number): number {
  let m = -Infinity;
  for (let j = 0; j < C; j++) m = Math.max(m, logits[row * C + j]);
  let sum = 0;
  for (let j = 0; j < C; j++) sum += Math.exp(logits[row * C + j] - m);
  return m + Math.log(sum);
}

/** Each row's clipped loss lse(z) - z_label; NaN where the label is not in 0..C-1. */
export function softmaxCrossEntropyLosses(logits: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number): Float64Array {
  const losses = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const label = labels[i];
    const loss = logSumExp(logits, i, C) - logits[i * C + label];
    losses[i] = label < C ? Math.min(Math.max(loss, MIN_LOSS), MAX_LOSS) : NaN;
  }
  return losses;
}

/** The summed loss that forward adds to its accumulator. */
export function softmaxCrossEntropyForward(logits: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number): number {
  return softmaxCrossEntropyLosses(logits, labels, N, C).reduce((a, b) => a + b, 0);
}

/** dLogits = (softmax(z) - onehot(label)) / N, the gradient of the unclipped mean loss. */
export function softmaxCrossEntropyBackward(logits: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number): Float64Array {
  const dLogits = new Float64Array(N * C);
  for (let i = 0; i < N; i++) {
    const lse = logSumExp(logits, i, C);
    for (let j = 0; j < C; j++) {
      dLogits[i * C + j] = (Math.exp(logits[i * C + j] - lse) - (j === labels[i] ? 1 : 0)) / N;
    }
  }
  return dLogits;
}
