// Float64 CPU reference for meanError.wgsl: outputs y [N, R] row-major against
// targets of the same shape; each row's mean squared or absolute error, and the
// gradient of the batch's mean.
import type { ErrorKind } from '../engine/ops/meanError';

const errors: Record<ErrorKind, { e: (d: number) => number; de: (d: number) => number }> = {
  squared: { e: (d) => d * d, de: (d) => 2 * d },
  absolute: { e: Math.abs, de: Math.sign },
};

export function meanErrorLosses(kind: ErrorKind, y: ArrayLike<number>, targets: ArrayLike<number>, N: number, R: number): Float64Array {
  const { e } = errors[kind];
  const losses = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    for (let j = i * R; j < (i + 1) * R; j++) losses[i] += e(y[j] - targets[j]);
    losses[i] /= R;
  }
  return losses;
}

/** dY = e'(y - t) / (N R), with |d|' taken as 0 at 0. */
export function meanErrorBackward(kind: ErrorKind, y: ArrayLike<number>, targets: ArrayLike<number>, N: number, R: number): Float64Array {
  const { de } = errors[kind];
  return Float64Array.from({ length: N * R }, (_, j) => de(y[j] - targets[j]) / (N * R));
}
