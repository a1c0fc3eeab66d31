// Float64 CPU reference for activation.wgsl: y = f(x) elementwise, and the
// gradient dInput = f'(x) ⊙ dOut written, as the kernels compute it, from y.
import type { Activation } from '../engine/ops/activation';

// NaN in, NaN out (Math.max(NaN, 0) is NaN); relu's mask selects dOut rather
// than multiplying it, so a NaN dOut where y <= 0 gives 0, and a NaN y gives NaN.
const functions: Record<Activation, { f: (x: number) => number; backward: (y: number, dOut: number) => number }> = {
  relu: { f: (x) => Math.max(x, 0), backward: (y, dOut) => (Number.isNaN(y) ? NaN : y > 0 ? dOut : 0) },
  sigmoid: { f: (x) => 1 / (1 + Math.exp(-x)), backward: (y, dOut) => y * (1 - y) * dOut },
  tanh: { f: Math.tanh, backward: (y, dOut) => (1 - y * y) * dOut },
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
  const { backward } = functions[kind];
  const dInput = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) dInput[i] = backward(y[i], dOut[i]);
  return dInput;
}
