// Float64 CPU reference for activation.wgsl: y = f(x) elementwise, and the
// gradient dInput = f'(x) ⊙ dOut written, as the kernels compute it, from y.
import type { Activation } from '../../src/engine/ops/activation';

const functions: Record<Activation, { f: (x: number) => number; derivativeFromY: (y: number) => number }> = {
  relu: { f: (x) => Math.max(x, 0), derivativeFromY: (y) => (y > 0 ? 1 : 0) },
  sigmoid: { f: (x) => 1 / (1 + Math.exp(-x)), derivativeFromY: (y) => y * (1 - y) },
  tanh: { f: Math.tanh, derivativeFromY: (y) => 1 - y * y },
};

// Plain loops: Float64Array.from with a mapping function is several times slower
// on the models' largest tensors.
export function activationForward(kind: Activation, x: ArrayLike<number>): Float64Array {
  const { f } = functions[kind];
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = f(x[i]);
  return y;
}

export function activationBackward(kind: Activation, y: ArrayLike<number>, dOut: ArrayLike<number>): Float64Array {
  const { derivativeFromY } = functions[kind];
  const dInput = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) dInput[i] = derivativeFromY(y[i]) * dOut[i];
  return dInput;
}
