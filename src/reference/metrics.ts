// Float64 CPU reference for metrics.wgsl (each row's value of a metric, from
// outputs y [N, R] against targets [N, R] or labels [N]) and for the sums the
// losses and metrics add to (sums.wgsl).
import { argmax } from './softmaxCrossEntropy';

/** 1 where the first maximum of y's row is that of the target's. */
export function categoricalAccuracy(y: ArrayLike<number>, targets: ArrayLike<number>, N: number, C: number): Float64Array {
  return Float64Array.from({ length: N }, (_, i) => (argmax(y, i, C) === argmax(targets, i, C) ? 1 : 0));
}

/** The fraction of each row's values where (y > 0.5) equals the target (Keras' binary_accuracy). */
export function binaryAccuracy(y: ArrayLike<number>, targets: ArrayLike<number>, N: number, R: number): Float64Array {
  const rows = new Float64Array(N);
  for (let j = 0; j < N * R; j++) if ((y[j] > 0.5 ? 1 : 0) === targets[j]) rows[Math.floor(j / R)] += 1 / R;
  return rows;
}

/**
 * 1 where class `classes[i]` of row i is among the k largest outputs: fewer
 * than k are greater than its own, a NaN of its own counting as -Infinity
 * (Keras' in_top_k); a class outside 0..C-1 never is.
 */
export function topK(y: ArrayLike<number>, classes: ArrayLike<number>, N: number, C: number, k: number): Float64Array {
  return Float64Array.from({ length: N }, (_, i) => {
    const c = classes[i];
    if (!(c < C)) return 0;
    const own = Number.isNaN(y[i * C + c]) ? -Infinity : y[i * C + c];
    let greater = 0;
    for (let j = 0; j < C; j++) if (y[i * C + j] > own) greater++;
    return greater < k ? 1 : 0;
  });
}

/** The first maximum of each target row: the class a top-k accuracy looks for. */
export function targetClasses(targets: ArrayLike<number>, N: number, C: number): Uint32Array {
  return Uint32Array.from({ length: N }, (_, i) => argmax(targets, i, C));
}

/**
 * The sums after a run of steps from zero (sums.wgsl): each step's rows and
 * its totals of the loss and each metric (the sums of its rows' values) give
 * sums [1 + metrics] and runningMeans [rows seen, Σ over steps of each sum /
 * rows seen after the step].
 */
export function sumsAfter(steps: readonly { rows: number; totals: readonly number[] }[]): { sums: Float64Array; runningMeans: Float64Array } {
  const n = steps[0]?.totals.length ?? 1;
  const sums = new Float64Array(n);
  const runningMeans = new Float64Array(n + 1);
  for (const { rows, totals } of steps) {
    runningMeans[0] += rows;
    totals.forEach((total, k) => {
      sums[k] += total;
      runningMeans[k + 1] += sums[k] / runningMeans[0];
    });
  }
  return { sums, runningMeans };
}

/** The sum of a step's row values: its total. */
export function total(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum;
}
