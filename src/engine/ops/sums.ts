// The sums a step's loss and metrics add to on the GPU (sums.wgsl, a library of
// the losses' and metrics' shaders): `sums` [1 + metrics] holds Σ loss and Σ
// each metric over the rows seen since they were cleared, `runningMeans`
// [2 + metrics] the rows seen and, for the loss and each metric, the sum of its
// running mean after each step, from which `kerasPrinted` gives Keras' figures.
import library from '../../shaders/sums.wgsl?raw';
import { expectTensor, formatShape, type Tensor } from '../buffers';
import type { Shader } from '../pipelines';
import { withActivations } from './activation';

/** Invocations of a forward's single workgroup (a power of two, for its tree reduction). */
export const SUMS_WORKGROUP_SIZE = 256;

export interface Sums {
  sums: Tensor;
  runningMeans: Tensor;
}

/** A loss' or metric's shader: sums.wgsl and activate.wgsl (its sigmoid, its NaN tests) are its library. */
export function withSums(file: string, source: string): Shader {
  const shader = withActivations(file, source);
  return { ...shader, library: `${shader.library}\n${library}` };
}

/** Checks sums [n] and runningMeans [n + 1], f32, and that `at` is one of the n sums. */
export function expectSums(op: string, t: Sums, at: number): void {
  if (t.sums.shape.length !== 1) throw new Error(`${op}(): sums must be [1 + metrics] but have shape ${formatShape(t.sums.shape)}`);
  const n = t.sums.shape[0];
  expectTensor(op, 'sums', t.sums, [n], 'f32');
  expectTensor(op, 'runningMeans', t.runningMeans, [n + 1], 'f32');
  if (!Number.isInteger(at) || at < 0 || at >= n) throw new Error(`${op}(): sum ${at} is not one of the ${n} sums`);
}

/**
 * Keras 3's printed figure for an epoch from the sum of the running means over
 * its `steps` steps (runningMeans[1 + k]) and the last running mean.
 */
export function kerasPrinted(sumOfMeans: number, last: number, steps: number): number {
  return (sumOfMeans + last) / (steps + 1);
}
