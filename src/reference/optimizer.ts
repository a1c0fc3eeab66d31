// Float64 CPU reference for optimizer.wgsl: one step of each optimizer, with
// Keras 3's formulas (keras/src/optimizers/{sgd,rmsprop,adam,adamw,base_optimizer}.py):
// the gradients clipped, then AdamW's weight decay, then the update.
import type { Variable } from '../engine/ops/clip';
import type { OptimizerConfig } from '../engine/ops/optimizer';
import { clipGradients } from './clip';
import { learningRateAt } from './schedule';

/**
 * Updates `param` and `state` (in `stateNames` order) in place from `grad`;
 * `t` is the number of this step, counted from 1 (Adam's bias corrections use
 * it, and a schedule is at step t - 1). Only the trained `variables` (by
 * default one, the whole buffer) are clipped and updated, as Keras' optimizer
 * sees only those.
 */
export function optimizerStep(
  config: OptimizerConfig,
  param: Float64Array,
  grad: ArrayLike<number>,
  state: Float64Array[],
  { t, variables = [{ start: 0, length: param.length }] }: { t: number; variables?: readonly Variable[] },
): void {
  const lr = learningRateAt(config.learningRate, t - 1);
  const clipped = clipGradients(config, grad, variables);
  for (const { start, length } of variables.filter((v) => v.trainable !== false)) {
    for (let i = start; i < start + length; i++) {
      const g = clipped[i];
      switch (config.kind) {
        case 'sgd':
          param[i] -= lr * g;
          break;
        case 'momentum':
        case 'nesterov': {
          const [velocity] = state;
          velocity[i] = config.momentum * velocity[i] - lr * g;
          param[i] += config.kind === 'nesterov' ? config.momentum * velocity[i] - lr * g : velocity[i];
          break;
        }
        case 'rmsprop': {
          const [meanSquare] = state;
          meanSquare[i] = config.rho * meanSquare[i] + (1 - config.rho) * g * g;
          param[i] -= (lr * g) / Math.sqrt(meanSquare[i] + config.epsilon);
          break;
        }
        case 'adam':
        case 'adamw': {
          if (config.kind === 'adamw') param[i] -= param[i] * config.weightDecay * lr;
          const [m, v] = state;
          const alpha = (lr * Math.sqrt(1 - config.beta2 ** t)) / (1 - config.beta1 ** t);
          m[i] += (g - m[i]) * (1 - config.beta1);
          v[i] += (g * g - v[i]) * (1 - config.beta2);
          param[i] -= (alpha * m[i]) / (Math.sqrt(v[i]) + config.epsilon);
          break;
        }
      }
    }
  }
}
