// Softmax cross-entropy of logits [N, C] against integer labels [N] (Keras'
// sparse categorical cross-entropy from logits), fused with the softmax.
import source from '../../shaders/softmax_cross_entropy.wgsl?raw';
import { bufferRange, expectScoresAndLabels, expectTensor, type Tensor } from '../buffers';
import { prepareDispatch, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'softmax_cross_entropy.wgsl', source };

/** Invocations of forward's single workgroup (a power of two). */
const FORWARD_WORKGROUP_SIZE = 256;
/** Rows per workgroup of backward, one invocation each. */
const BACKWARD_WORKGROUP_SIZE = 64;

/**
 * lossSum[0] += Σ_i loss_i with loss_i = -log softmax(logits_i)[labels_i], each
 * clipped to [-log(1 - 1e-7), -log(1e-7)] as Keras clips probabilities. The sum
 * stays on the GPU so that a training loop can keep a running total over
 * batches; after clearing lossSum and one dispatch, the batch's mean loss is
 * lossSum / N. A label outside 0..C-1 makes its row's loss, and so the sum, NaN.
 */
export async function softmaxCrossEntropyForward(
  device: GPUDevice,
  t: { logits: Tensor; labels: Tensor; lossSum: Tensor },
): Promise<Dispatch> {
  const [N, C] = expectScoresAndLabels('softmaxCrossEntropy', 'logits', t.logits, t.labels);
  expectTensor('softmaxCrossEntropy', 'lossSum', t.lossSum, [1], 'f32');
  return prepareDispatch(device, shader, 'forward', {
    constants: { WORKGROUP_SIZE: FORWARD_WORKGROUP_SIZE },
    params: { rows: N, classes: C },
    buffers: { logits: bufferRange(t.logits), labels: bufferRange(t.labels), loss_sum: bufferRange(t.lossSum) },
    grid: { workgroups: [1] },
    // Log-sum-exp of each row, minus the label's logit, summed into one float.
    work: { flops: 4 * N * C, bytes: 4 * (N * C + N + 1) },
  });
}

/**
 * dLogits = (softmax(logits) - onehot(labels)) / N: the gradient of the mean
 * loss over the batch, without the clip (as TensorFlow's fused op). A row whose
 * label is outside 0..C-1 gets softmax / N.
 */
export async function softmaxCrossEntropyBackward(
  device: GPUDevice,
  t: { logits: Tensor; labels: Tensor; dLogits: Tensor },
): Promise<Dispatch> {
  const [N, C] = expectScoresAndLabels('softmaxCrossEntropy', 'logits', t.logits, t.labels);
  expectTensor('softmaxCrossEntropy', 'dLogits', t.dLogits, [N, C], 'f32');
  return prepareDispatch(device, shader, 'backward', {
    constants: { WORKGROUP_SIZE: BACKWARD_WORKGROUP_SIZE },
    params: { rows: N, classes: C },
    buffers: { logits: bufferRange(t.logits), labels: bufferRange(t.labels), dLogits: bufferRange(t.dLogits) },
    grid: { threads: [N] },
    work: { flops: 5 * N * C, bytes: 4 * (2 * N * C + N) },
  });
}
