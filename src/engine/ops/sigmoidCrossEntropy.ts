// Binary cross-entropy of logits [N, ...] against targets of the same shape in
// [0, 1], from logits or fused with a last layer's sigmoid (Keras'
// binaryCrossentropy); its forward adds the loss to the sums kept on the GPU
// (ops/sums.ts). A row's loss is the mean over its values.
import source from '../../shaders/sigmoidCrossEntropy.wgsl?raw';
import { bufferRange, expectTensor, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, WORKGROUP_SIZE, type Dispatch } from '../pipelines';
import type { CrossEntropyOptions } from './softmaxCrossEntropy';
import { expectSums, SUMS_WORKGROUP_SIZE, withSums, type Sums } from './sums';

const shader = withSums('sigmoidCrossEntropy.wgsl', source);

/** [N, R]: the rows and the values in each. */
function rowsOf(t: { logits: Tensor; targets: Tensor }): [number, number] {
  expectTensor('sigmoidCrossEntropy', 'targets', t.targets, t.logits.shape);
  expectTensor('sigmoidCrossEntropy', 'logits', t.logits, t.logits.shape);
  return [t.logits.shape[0], sizeOf(t.logits.shape.slice(1))];
}

/**
 * sums[0] += Σ_i mean_j loss_ij, loss = -(t log σ(z) + (1 - t) log(1 - σ(z))),
 * σ(z) clipped to [1e-7, 1 - 1e-7] when `clipped` (the default: a sigmoid
 * layer's probabilities, as Keras clips them); the rows seen and running means
 * too. A NaN logit or target makes the sum NaN.
 */
export async function sigmoidCrossEntropyForward(device: GPUDevice, t: { logits: Tensor; targets: Tensor } & Sums, options: CrossEntropyOptions = {}): Promise<Dispatch> {
  const [N, R] = rowsOf(t);
  expectSums('sigmoidCrossEntropy', t, 0);
  return prepareDispatch(device, shader, 'forward', {
    constants: { WORKGROUP_SIZE: SUMS_WORKGROUP_SIZE, CLIPPED: (options.clipped ?? true) ? 1 : 0 },
    params: { rows: N, row_size: R },
    buffers: { logits: bufferRange(t.logits), targets: bufferRange(t.targets), sums: bufferRange(t.sums), running_means: bufferRange(t.runningMeans) },
    grid: { workgroups: [1] },
    // Per value: a clamp, an exp, a log, a multiply-add and the sum.
    work: { flops: 8 * N * R + 3, bytes: 4 * (2 * N * R + 2 * 2) },
  });
}

/** dLogits = (σ(z) - t) / (N R), 0 where the clip holds z (the exact gradient of forward's mean loss). */
export async function sigmoidCrossEntropyBackward(
  device: GPUDevice,
  t: { logits: Tensor; targets: Tensor; dLogits: Tensor },
  options: CrossEntropyOptions = {},
): Promise<Dispatch> {
  const [N, R] = rowsOf(t);
  expectTensor('sigmoidCrossEntropy', 'dLogits', t.dLogits, t.logits.shape);
  return prepareDispatch(device, shader, 'backward', {
    constants: { WORKGROUP_SIZE, CLIPPED: (options.clipped ?? true) ? 1 : 0 },
    params: { rows: N, row_size: R },
    buffers: { logits: bufferRange(t.logits), targets: bufferRange(t.targets), d_logits: bufferRange(t.dLogits) },
    grid: { strided: N * R },
    work: { flops: 5 * N * R, bytes: 4 * 3 * N * R },
  });
}
