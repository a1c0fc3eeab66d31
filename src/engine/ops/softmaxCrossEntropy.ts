// Softmax cross-entropy of logits [N, C] against integer labels [N] (Keras'
// sparse categorical cross-entropy from logits), fused with the softmax; its
// forward also keeps a step's other metrics, accuracy and Keras' running means.
import source from '../../shaders/softmaxCrossEntropy.wgsl?raw';
import { bufferRange, expectScoresAndLabels, expectTensor, type Tensor } from '../buffers';
import { prepareDispatch, WORKGROUP_SIZE, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'softmaxCrossEntropy.wgsl', source };

/** Invocations of forward's single workgroup (a power of two). */
const FORWARD_WORKGROUP_SIZE = 256;

/**
 * The metrics of a step of N rows, added to sums that stay on the GPU so that a
 * training loop keeps running totals over batches without reading them back:
 * - lossSum[0] += Σ_i loss_i with loss_i = -log softmax(logits_i)[labels_i],
 *   each clipped to [-log(1 - 1e-7), -log(1e-7)] as Keras clips probabilities;
 * - correct[0] += the rows whose argmax (the first maximum on ties, as numpy's
 *   and TensorFlow's) is their label;
 * - runningMeans += [N, lossSum / seen, correct / seen], with seen =
 *   runningMeans[0] after the step: [rows seen, Σ running mean loss, Σ running
 *   mean accuracy], from which `kerasPrinted` gives Keras' epoch figures.
 * After clearing the sums and one dispatch, the batch's mean loss is lossSum / N.
 * A label outside 0..C-1 counts as wrong and makes the loss sum NaN.
 */
export async function softmaxCrossEntropyForward(
  device: GPUDevice,
  t: { logits: Tensor; labels: Tensor; lossSum: Tensor; correct: Tensor; runningMeans: Tensor },
): Promise<Dispatch> {
  const [N, C] = expectScoresAndLabels('softmaxCrossEntropy', 'logits', t.logits, t.labels);
  expectTensor('softmaxCrossEntropy', 'lossSum', t.lossSum, [1], 'f32');
  expectTensor('softmaxCrossEntropy', 'correct', t.correct, [1], 'u32');
  expectTensor('softmaxCrossEntropy', 'runningMeans', t.runningMeans, [3], 'f32');
  return prepareDispatch(device, shader, 'forward', {
    constants: { WORKGROUP_SIZE: FORWARD_WORKGROUP_SIZE },
    params: { rows: N, classes: C },
    buffers: {
      logits: bufferRange(t.logits),
      labels: bufferRange(t.labels),
      loss_sum: bufferRange(t.lossSum),
      correct: bufferRange(t.correct),
      running_means: bufferRange(t.runningMeans),
    },
    grid: { workgroups: [1] },
    // Each row's maximum (which is its argmax too) and log-sum-exp, minus the
    // label's logit; the five sums read and written once.
    work: { flops: 4 * N * C + 5, bytes: 4 * (N * C + N + 2 * 5) },
  });
}

/**
 * Keras 3's printed figure for an epoch from the sum of the running means over
 * its `steps` steps (runningMeans[1] or [2]) and the last running mean.
 */
export function kerasPrinted(sumOfMeans: number, last: number, steps: number): number {
  return (sumOfMeans + last) / (steps + 1);
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
    constants: { WORKGROUP_SIZE },
    params: { rows: N, classes: C },
    buffers: { logits: bufferRange(t.logits), labels: bufferRange(t.labels), dLogits: bufferRange(t.dLogits) },
    grid: { threads: [N] },
    work: { flops: 5 * N * C, bytes: 4 * (2 * N * C + N) },
  });
}
