// Float64 CPU reference for activation.wgsl: y = f(x) elementwise, and the
// gradient dInput = f'(x) ⊙ dOut written, as the kernels compute it, from y
// (or from x, for the kinds whose gradientInput is x: gelu); and the activation layer.
import type { ActivationConfig } from '../engine/layers';
import { gradientInput, LEAKY_RELU_SLOPE, SELU_ALPHA, SELU_SCALE, type Activation, type ActivationOptions } from '../engine/ops/activation';
import type { LayerReference } from './layers';
import { softmaxBackward, softmaxForward } from './softmax';

/** erf in float64: its Maclaurin series below 2.5, erfc's continued fraction above. */
function erf(x: number): number {
  const z = Math.abs(x);
  let value: number;
  if (z < 2.5) {
    // Maclaurin series: erf(z) = 2/√π Σ (-1)^n z^(2n+1) / (n! (2n+1)), summed until it no longer changes.
    let term = z;
    let sum = z;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    value = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc(z) = e^(-z²) / √π · 1 / (z + 1/2 / (z + 1 / (z + 3/2 / (z + ...)))), evaluated from the tail.
    let fraction = z;
    for (let k = 60; k >= 1; k--) fraction = z + k / 2 / fraction;
    value = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / fraction;
  }
  return x < 0 ? -value : value;
}

/** Φ, the standard normal's distribution function. */
const normalCdf = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));

/**
 * Each activation: f, and its gradient from `from` (y, or x where
 * gradientInput says so) and dOut. NaN in, NaN out (Math.max(NaN, 0) is NaN);
 * relu's mask selects dOut rather than multiplying it, so a NaN dOut where
 * y <= 0 gives 0, and a NaN y gives NaN.
 */
function functions(slope: number): Record<Activation, { f: (x: number) => number; backward: (from: number, dOut: number) => number }> {
  return {
    relu: { f: (x) => Math.max(x, 0), backward: (y, dOut) => (Number.isNaN(y) ? NaN : y > 0 ? dOut : 0) },
    sigmoid: { f: (x) => 1 / (1 + Math.exp(-x)), backward: (y, dOut) => y * (1 - y) * dOut },
    tanh: { f: Math.tanh, backward: (y, dOut) => (1 - y * y) * dOut },
    elu: { f: (x) => (x > 0 ? x : Math.expm1(x)), backward: (y, dOut) => (y > 0 ? 1 : y + 1) * dOut },
    selu: { f: (x) => SELU_SCALE * (x > 0 ? x : SELU_ALPHA * Math.expm1(x)), backward: (y, dOut) => (y > 0 ? SELU_SCALE : y + SELU_SCALE * SELU_ALPHA) * dOut },
    softplus: { f: (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))), backward: (y, dOut) => -Math.expm1(-y) * dOut },
    leaky_relu: { f: (x) => (x > 0 || Number.isNaN(x) ? x : slope * x), backward: (y, dOut) => (Number.isNaN(y) ? NaN : y > 0 ? dOut : slope * dOut) },
    gelu: {
      f: (x) => x * normalCdf(x),
      backward: (x, dOut) => (normalCdf(x) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI)) * dOut,
    },
  };
}

// Plain loops: Float64Array.from with a mapping function is several times slower
// on the models' largest tensors.
export function activationForward(kind: Activation, x: ArrayLike<number>, options: ActivationOptions = {}): Float64Array {
  const { f } = functions(options.negativeSlope ?? LEAKY_RELU_SLOPE)[kind];
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = f(x[i]);
  return y;
}

/** dInput from `from`: the forward's output y, or its input x where gradientInput(kind) is x. */
export function activationBackward(kind: Activation, from: ArrayLike<number>, dOut: ArrayLike<number>, options: ActivationOptions = {}): Float64Array {
  const { backward } = functions(options.negativeSlope ?? LEAKY_RELU_SLOPE)[kind];
  const dInput = new Float64Array(from.length);
  for (let i = 0; i < from.length; i++) dInput[i] = backward(from[i], dOut[i]);
  return dInput;
}

/**
 * An activation on its own: the identity (linear), softmax over the last
 * axis, or elementwise. As the model's last layer with its softmax or sigmoid
 * in the loss, its input is the logits.
 */
export const activationLayer: LayerReference<ActivationConfig> = {
  shape: (_config, input) => ({ output: [...input], params: [] }),

  forward(config, x, _params, { input, activationInLoss }) {
    const kind = config.activation;
    const C = input[input.length - 1];
    const rows = x.length / C;
    const identity = (dY: ArrayLike<number>) => ({ dX: dY, dParams: [] });
    if (kind === 'linear') return { y: x, backward: identity };
    if (kind === 'softmax') {
      const y = softmaxForward(x, rows, C);
      if (activationInLoss) return { y, logits: Float64Array.from(x), backward: identity };
      return { y, backward: (dY) => ({ dX: softmaxBackward(y, dY, rows, C), dParams: [] }) };
    }
    const options = { negativeSlope: config.negativeSlope };
    const y = activationForward(kind, x, options);
    if (activationInLoss) return { y, logits: Float64Array.from(x), backward: identity };
    return { y, backward: (dY) => ({ dX: activationBackward(kind, gradientInput(kind) === 'x' ? x : y, dY, options), dParams: [] }) };
  },
};
