// Float64 CPU reference for lossScale.wgsl: one step of Keras 3's
// LossScaleOptimizer (keras/src/optimizers/loss_scale_optimizer.py), as Keras writes it.
import type { LossScaleConfig } from '../engine/ops/lossScale';

/** The loss' gradient the backward pass starts from: times the scale. */
export function scaleGradient(gradient: ArrayLike<number>, scale: number): Float64Array {
  return Float64Array.from(gradient, (g) => g * scale);
}

/**
 * Keras' apply(): whether every gradient is finite; the gradients divided by
 * the scale (what the update sees, when it is made); and the scale and the
 * count of finite steps after the step: halved and 0 after a non-finite one,
 * else counted, and doubled (the count back to 0) at dynamicGrowthSteps.
 */
export function lossScaleStep(
  grads: ArrayLike<number>,
  state: { scale: number; finiteSteps: number },
  { dynamicGrowthSteps }: Pick<LossScaleConfig, 'dynamicGrowthSteps'>,
): { finite: boolean; grads: Float64Array; scale: number; finiteSteps: number } {
  const unscaled = Float64Array.from(grads, (g) => g / state.scale);
  const finite = Array.from(grads).every(Number.isFinite);
  if (!finite) return { finite, grads: unscaled, scale: state.scale / 2, finiteSteps: 0 };
  const grow = state.finiteSteps === dynamicGrowthSteps - 1;
  return { finite, grads: unscaled, scale: grow ? state.scale * 2 : state.scale, finiteSteps: grow ? 0 : state.finiteSteps + 1 };
}
