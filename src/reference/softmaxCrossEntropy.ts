// Float64 CPU reference for softmaxCrossEntropy.wgsl: logits [N, C] row-major
// against labels [N] class indices, or target rows [N, C]; the loss, the rows
// classified right, the running means, the gradients.

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

/** Each row's loss lse(z) - z_label, clipped unless `clipped` is false (from logits); NaN where the label is not in 0..C-1. */
export function softmaxCrossEntropyLosses(logits: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number, clipped = true): Float64Array {
  const losses = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const label = labels[i];
    const loss = logSumExp(logits, i, C) - logits[i * C + label];
    losses[i] = label < C ? (clipped ? Math.min(Math.max(loss, MIN_LOSS), MAX_LOSS) : loss) : NaN;
  }
  return losses;
}

/** The summed loss that forward adds to its accumulator. */
export function softmaxCrossEntropyForward(logits: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number): number {
  return softmaxCrossEntropyLosses(logits, labels, N, C).reduce((a, b) => a + b, 0);
}

/** The index of the first maximum of row i, as numpy's argmax. */
export function argmax(logits: ArrayLike<number>, i: number, C: number): number {
  let best = 0;
  for (let j = 1; j < C; j++) if (logits[i * C + j] > logits[i * C + best]) best = j;
  return best;
}

/** The number of rows whose argmax is their label, which forward adds to `correct`. */
export function countCorrect(logits: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number): number {
  let correct = 0;
  for (let i = 0; i < N; i++) if (argmax(logits, i, C) === labels[i]) correct++;
  return correct;
}

/** One batch of a run of forward dispatches. */
export interface Batch {
  logits: ArrayLike<number>;
  labels: ArrayLike<number>;
  N: number;
  C: number;
}

/**
 * The sums forward keeps after a run of batches, from zero: Σ loss, the number
 * correct, and [rows seen, Σ running mean loss, Σ running mean accuracy], each
 * running mean taken after its batch.
 */
export function metricSums(batches: readonly Batch[]): { lossSum: number; correct: number; runningMeans: Float64Array } {
  let lossSum = 0;
  let correct = 0;
  const runningMeans = new Float64Array(3);
  for (const { logits, labels, N, C } of batches) {
    lossSum += softmaxCrossEntropyForward(logits, labels, N, C);
    correct += countCorrect(logits, labels, N, C);
    runningMeans[0] += N;
    runningMeans[1] += lossSum / runningMeans[0];
    runningMeans[2] += correct / runningMeans[0];
  }
  return { lossSum, correct, runningMeans };
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

/** Keras' epsilon: the probabilities a softmax outputs are clipped to [EPSILON, 1 - EPSILON]. */
export const EPSILON = 1e-7;

/** Row i's softmax, in float64. */
function softmaxRow(logits: ArrayLike<number>, i: number, C: number): Float64Array {
  const lse = logSumExp(logits, i, C);
  return Float64Array.from({ length: C }, (_, j) => Math.exp(logits[i * C + j] - lse));
}

/**
 * Each row's loss against target rows, as Keras 3 computes categorical
 * cross-entropy: -Σ_j t_j log p_j, with p = softmax(z) clipped to
 * [EPSILON, 1 - EPSILON] when `clipped` (the model outputs probabilities),
 * else -Σ_j t_j log_softmax(z)_j (from logits).
 */
export function categoricalLosses(logits: ArrayLike<number>, targets: ArrayLike<number>, N: number, C: number, clipped = true): Float64Array {
  const losses = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const lse = logSumExp(logits, i, C);
    const p = softmaxRow(logits, i, C);
    for (let j = 0; j < C; j++) {
      const logP = clipped ? Math.log(Math.min(Math.max(p[j], EPSILON), 1 - EPSILON)) : logits[i * C + j] - lse;
      losses[i] -= targets[i * C + j] * logP;
    }
  }
  return losses;
}

/**
 * The exact gradient of the mean of categoricalLosses: (p_k s - t_k in_k) / N,
 * in_j = 1 where clipping leaves p_j as it is and s = Σ_j t_j in_j.
 */
export function categoricalBackward(logits: ArrayLike<number>, targets: ArrayLike<number>, N: number, C: number, clipped = true): Float64Array {
  const dLogits = new Float64Array(N * C);
  for (let i = 0; i < N; i++) {
    const p = softmaxRow(logits, i, C);
    const inside = p.map((v) => (!clipped || (v >= EPSILON && v <= 1 - EPSILON) ? 1 : 0));
    let s = 0;
    for (let j = 0; j < C; j++) s += targets[i * C + j] * inside[j];
    for (let k = 0; k < C; k++) dLogits[i * C + k] = (p[k] * s - targets[i * C + k] * inside[k]) / N;
  }
  return dLogits;
}
