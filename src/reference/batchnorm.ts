// Float64 CPU reference for batchnorm.wgsl: batch normalization of x [rows, C]
// (C channels, the last axis; a row per position in the others) with Keras'
// formulas, its gradient, and the moving statistics' update; and the batchNormalization layer.
import type { BatchNormalizationConfig } from '../engine/layers';
import type { LayerReference } from './layers';

/** Each channel's mean and (biased) variance over the rows. */
export function batchStatistics(x: ArrayLike<number>, rows: number, C: number): { mean: Float64Array; variance: Float64Array } {
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) mean[c] += x[r * C + c] / rows;
  for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) variance[c] += (x[r * C + c] - mean[c]) ** 2 / rows;
  return { mean, variance };
}

/** y = gamma (x - mean) / sqrt(variance + epsilon) + beta, per channel. */
export function batchNormForward(
  x: ArrayLike<number>,
  s: { gamma: ArrayLike<number>; beta: ArrayLike<number>; mean: ArrayLike<number>; variance: ArrayLike<number>; epsilon: number },
  C: number,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = i % C;
    y[i] = (s.gamma[c] * (x[i] - s.mean[c])) / Math.sqrt(s.variance[c] + s.epsilon) + s.beta[c];
  }
  return y;
}

/** moving = momentum · moving + (1 - momentum) · batch. */
export function movingUpdate(moving: ArrayLike<number>, batch: ArrayLike<number>, momentum: number): Float64Array {
  return Float64Array.from(moving, (m, c) => momentum * m + (1 - momentum) * batch[c]);
}

/**
 * The gradients through the batch's statistics (training), written as the
 * plain chain rule over μ and σ² rather than the GPU's folded form:
 * dx̂ = dOut γ, dσ² = Σ dx̂ (x - μ) (-1/2) (σ² + ε)^(-3/2),
 * dμ = -Σ dx̂ / sqrt(σ² + ε) (the dσ² term's Σ (x - μ) is 0),
 * dInput = dx̂ / sqrt(σ² + ε) + dσ² 2 (x - μ) / R + dμ / R.
 */
export function batchNormBackward(
  x: ArrayLike<number>,
  dOut: ArrayLike<number>,
  s: { gamma: ArrayLike<number>; mean: ArrayLike<number>; variance: ArrayLike<number>; epsilon: number },
  rows: number,
  C: number,
): { dInput: Float64Array; dGamma: Float64Array; dBeta: Float64Array } {
  const dGamma = new Float64Array(C);
  const dBeta = new Float64Array(C);
  const dVariance = new Float64Array(C);
  const dMean = new Float64Array(C);
  const std = Float64Array.from(s.variance, (v) => Math.sqrt(v + s.epsilon));
  for (let i = 0; i < x.length; i++) {
    const c = i % C;
    const centred = x[i] - s.mean[c];
    dGamma[c] += dOut[i] * (centred / std[c]);
    dBeta[c] += dOut[i];
    dVariance[c] += dOut[i] * s.gamma[c] * centred * -0.5 * std[c] ** -3;
    dMean[c] -= (dOut[i] * s.gamma[c]) / std[c];
  }
  const dInput = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = i % C;
    dInput[i] = (dOut[i] * s.gamma[c]) / std[c] + (dVariance[c] * 2 * (x[i] - s.mean[c])) / rows + dMean[c] / rows;
  }
  return { dInput, dGamma, dBeta };
}

/** The gradients with fixed (moving) statistics: y is affine in x. */
function inferenceBackward(
  x: ArrayLike<number>,
  dOut: ArrayLike<number>,
  s: { gamma: ArrayLike<number>; mean: ArrayLike<number>; variance: ArrayLike<number>; epsilon: number },
  C: number,
): { dInput: Float64Array; dGamma: Float64Array; dBeta: Float64Array } {
  const dInput = new Float64Array(x.length);
  const dGamma = new Float64Array(C);
  const dBeta = new Float64Array(C);
  for (let i = 0; i < x.length; i++) {
    const c = i % C;
    const std = Math.sqrt(s.variance[c] + s.epsilon);
    dInput[i] = (dOut[i] * s.gamma[c]) / std;
    dGamma[c] += (dOut[i] * (x[i] - s.mean[c])) / std;
    dBeta[c] += dOut[i];
  }
  return { dInput, dGamma, dBeta };
}

/**
 * Parameters gamma (unless scale is false: then 1), beta (unless center is
 * false: then 0), moving_mean, moving_variance. In training the batch's
 * statistics (the moving ones, updated on the GPU, do not enter the loss and
 * get no gradient); in inference the moving ones.
 */
export const batchNormalizationLayer: LayerReference<BatchNormalizationConfig> = {
  shape(config, input) {
    const C = [input[input.length - 1]];
    const names = [...(config.scale === false ? [] : ['gamma']), ...(config.center === false ? [] : ['beta']), 'moving_mean', 'moving_variance'];
    return { output: [...input], params: names.map((name) => ({ name, shape: C })) };
  },

  forward(config, x, params, { input, step }) {
    const C = input[input.length - 1];
    const rows = x.length / C;
    const scaled = config.scale !== false;
    const centred = config.center !== false;
    const [gamma, beta, movingMean, movingVariance] = [
      scaled ? params[0] : new Float64Array(C).fill(1),
      centred ? params[Number(scaled)] : new Float64Array(C),
      ...params.slice(Number(scaled) + Number(centred)),
    ];
    const statistics = step === undefined ? { mean: movingMean, variance: movingVariance } : batchStatistics(x, rows, C);
    const s = { gamma, beta, ...statistics, epsilon: config.epsilon };
    return {
      y: batchNormForward(x, s, C),
      backward(dY) {
        const { dInput, dGamma, dBeta } = step === undefined ? inferenceBackward(x, dY, s, C) : batchNormBackward(x, dY, s, rows, C);
        // The moving statistics are not trained: no gradient.
        const dParams = [...(scaled ? [dGamma] : []), ...(centred ? [dBeta] : []), new Float64Array(C), new Float64Array(C)];
        return { dX: dInput, dParams };
      },
    };
  },
};
