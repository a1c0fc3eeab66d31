// Mean squared and mean absolute error of outputs [N, ...] against targets of
// the same shape (Keras' meanSquaredError and meanAbsoluteError, and the mse
// and mae metrics): forward adds a step's total to the sums kept on the GPU
// (ops/sums.ts), as the loss or as a metric; backward is the loss' gradient.
import source from '../../shaders/meanError.wgsl?raw';
import { bufferRange, expectTensor, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, shaderConstant, WORKGROUP_SIZE, type Dispatch } from '../pipelines';
import { expectSums, SUMS_WORKGROUP_SIZE, withSums, type Sums } from './sums';

const shader = withSums('meanError.wgsl', source);

export type ErrorKind = 'squared' | 'absolute';

/** The KIND codes meanError.wgsl declares, read from there. */
const KINDS: Record<ErrorKind, number> = { squared: shaderConstant(shader, 'SQUARED'), absolute: shaderConstant(shader, 'ABSOLUTE') };

function rowsOf(t: { y: Tensor; targets: Tensor }): [number, number] {
  expectTensor('meanError', 'y', t.y, t.y.shape);
  expectTensor('meanError', 'targets', t.targets, t.y.shape);
  return [t.y.shape[0], sizeOf(t.y.shape.slice(1))];
}

/**
 * sums[at] += Σ_i mean_j e(y_ij - t_ij), e(d) = d² or |d|: the loss at 0
 * (which counts the rows seen too, as the first of a step's dispatches), a
 * metric at 1 + its index; its running mean too.
 */
export async function meanErrorForward(device: GPUDevice, kind: ErrorKind, t: { y: Tensor; targets: Tensor } & Sums, at = 0): Promise<Dispatch> {
  const [N, R] = rowsOf(t);
  expectSums('meanError', t, at);
  return prepareDispatch(device, shader, 'forward', {
    constants: { WORKGROUP_SIZE: SUMS_WORKGROUP_SIZE, KIND: KINDS[kind], AT: at },
    params: { rows: N, row_size: R },
    buffers: { y: bufferRange(t.y), targets: bufferRange(t.targets), sums: bufferRange(t.sums), running_means: bufferRange(t.runningMeans) },
    grid: { workgroups: [1] },
    work: { flops: 3 * N * R + 3, bytes: 4 * (2 * N * R + 2 * 2) },
  });
}

/** dY = 2 (y - t) / (N R), or sign(y - t) / (N R): the gradient of the mean loss. */
export async function meanErrorBackward(device: GPUDevice, kind: ErrorKind, t: { y: Tensor; targets: Tensor; dY: Tensor }): Promise<Dispatch> {
  const [N, R] = rowsOf(t);
  expectTensor('meanError', 'dY', t.dY, t.y.shape);
  return prepareDispatch(device, shader, 'backward', {
    constants: { WORKGROUP_SIZE, KIND: KINDS[kind] },
    params: { rows: N, row_size: R },
    buffers: { y: bufferRange(t.y), targets: bufferRange(t.targets), d_y: bufferRange(t.dY) },
    grid: { strided: N * R },
    work: { flops: 3 * N * R, bytes: 4 * 3 * N * R },
  });
}
