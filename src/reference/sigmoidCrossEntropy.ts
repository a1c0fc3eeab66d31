// Float64 CPU reference for sigmoidCrossEntropy.wgsl: logits z [N, R]
// row-major against targets t in [0, 1] of the same shape, as Keras 3
// computes binary cross-entropy (keras/src/backend/jax/nn.py), a row's loss the
// mean over its R values; and its exact gradient.
import { EPSILON } from './softmaxCrossEntropy';

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** log(1 + e^x), with no overflow. */
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/**
 * Each row's mean loss. Clipped (the model outputs probabilities, a sigmoid
 * layer): p = σ(z) clipped to [EPSILON, 1 - EPSILON], -(t log p + (1 - t) log(1 - p)),
 * with 1 - p taken as σ(-z) clipped the same way (the same number, without
 * the rounding of 1 - p that central differences would magnify).
 * From logits: -t log σ(z) - (1 - t) log σ(-z) = t softplus(-z) + (1 - t) softplus(z).
 */
export function sigmoidCrossEntropyLosses(logits: ArrayLike<number>, targets: ArrayLike<number>, N: number, R: number, clipped = true): Float64Array {
  const losses = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let sum = 0;
    for (let j = i * R; j < (i + 1) * R; j++) {
      const [z, t] = [logits[j], targets[j]];
      if (clipped) {
        const clip = (p: number) => Math.min(Math.max(p, EPSILON), 1 - EPSILON);
        sum -= t * Math.log(clip(sigmoid(z))) + (1 - t) * Math.log(clip(sigmoid(-z)));
      } else {
        sum += t * softplus(-z) + (1 - t) * softplus(z);
      }
    }
    losses[i] = sum / R;
  }
  return losses;
}

/** The exact gradient of the batch's mean loss: (σ(z) - t) / (N R), 0 where the clip holds σ(z). */
export function sigmoidCrossEntropyBackward(logits: ArrayLike<number>, targets: ArrayLike<number>, N: number, R: number, clipped = true): Float64Array {
  const dLogits = new Float64Array(N * R);
  for (let j = 0; j < N * R; j++) {
    const p = sigmoid(logits[j]);
    const inside = !clipped || (p >= EPSILON && p <= 1 - EPSILON);
    dLogits[j] = inside ? (p - targets[j]) / (N * R) : 0;
  }
  return dLogits;
}
