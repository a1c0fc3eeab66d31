// Float64 CPU reference for clip.wgsl: Keras 3's gradient clipping
// (keras/src/optimizers/base_optimizer.py: _clip_gradients, _clip_by_norm,
// clip_by_global_norm), written as Keras writes it, over the trained variables.
import type { Clipping, Variable } from '../engine/ops/clip';

function sumOfSquares(grad: Float64Array, { start, length }: Variable): number {
  let sum = 0;
  for (let i = start; i < start + length; i++) sum += grad[i] ** 2;
  return sum;
}

/** The gradients as the update sees them after clipping. */
export function clipGradients(clipping: Clipping, grad: ArrayLike<number>, variables: readonly Variable[]): Float64Array {
  const clipped = Float64Array.from(grad);
  const trained = variables.filter((v) => v.trainable !== false);
  const { clipnorm, globalClipnorm, clipvalue } = clipping;
  if (clipnorm !== undefined) {
    for (const v of trained) {
      const l2sum = sumOfSquares(clipped, v);
      const l2norm = l2sum > 0 ? Math.sqrt(l2sum) : l2sum;
      for (let i = v.start; i < v.start + v.length; i++) clipped[i] = (clipped[i] * clipnorm) / Math.max(l2norm, clipnorm);
    }
  } else if (globalClipnorm !== undefined) {
    const norm = Math.sqrt(trained.reduce((sum, v) => sum + sumOfSquares(clipped, v), 0));
    const scale = globalClipnorm * Math.min(1 / norm, 1 / globalClipnorm) + (norm - norm);
    for (const { start, length } of trained) for (let i = start; i < start + length; i++) clipped[i] *= scale;
  } else if (clipvalue !== undefined) {
    for (const { start, length } of trained) {
      for (let i = start; i < start + length; i++) clipped[i] = Math.min(Math.max(clipped[i], -clipvalue), clipvalue);
    }
  }
  return clipped;
}
