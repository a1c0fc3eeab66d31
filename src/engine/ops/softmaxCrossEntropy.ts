// Softmax cross-entropy of logits [N, C] against labels [N] (Keras' sparse
// categorical cross-entropy) or against target rows [N, C] (categorical
// cross-entropy), from logits or fused with a last layer's softmax; its forward
// adds the loss to the sums kept on the GPU (ops/sums.ts), and for labels the
// rows classified right, for the accuracy.
import source from '../../shaders/softmaxCrossEntropy.wgsl?raw';
import { bufferRange, expectScoresAndLabels, expectTensor, formatShape, type Tensor } from '../buffers';
import { prepareDispatch, WORKGROUP_SIZE, type Dispatch } from '../pipelines';
import { expectSums, SUMS_WORKGROUP_SIZE, withSums, type Sums } from './sums';

const shader = withSums('softmaxCrossEntropy.wgsl', source);

/** What the classes are given as: labels u32 [N], or target rows f32 [N, C] (one-hot or probabilities). */
export type Classes = { labels: Tensor } | { targets: Tensor };

export interface CrossEntropyOptions {
  /**
   * Keras clips probabilities to [1e-7, 1 - 1e-7], so each class' loss to
   * [-log(1 - 1e-7), -log(1e-7)]: when the model outputs them (a softmax
   * layer), not from logits. True by default.
   */
  clipped?: boolean;
}

function shapeOf(t: { logits: Tensor } & Classes): [number, number] {
  if ('labels' in t) return expectScoresAndLabels('softmaxCrossEntropy', 'logits', t.logits, t.labels);
  if (t.logits.shape.length !== 2) throw new Error(`softmaxCrossEntropy(): logits must be [N, C] but have shape ${formatShape(t.logits.shape)}`);
  expectTensor('softmaxCrossEntropy', 'targets', t.targets, t.logits.shape);
  return [t.logits.shape[0], t.logits.shape[1]];
}

/** The classes' binding: labels or targets, by the name the shader gives it. */
export const classesBinding = (t: Classes): Record<string, GPUBufferBinding> => ('labels' in t ? { labels: bufferRange(t.labels) } : { targets: bufferRange(t.targets) });

/**
 * The loss of a step of N rows, added to the sums that stay on the GPU so that
 * a training loop keeps running totals over batches without reading them back:
 * - sums[0] += Σ_i loss_i with loss_i = -log softmax(logits_i)[labels_i], or
 *   Σ_j targets_ij · -log softmax(logits_i)_j, each class' loss clipped (see
 *   `clipped`); the rows seen and the running means too (sums.wgsl);
 * - for labels, with `accuracyAt`, sums[accuracyAt] += the rows whose argmax
 *   (the first maximum on ties, as numpy's and TensorFlow's) is their label.
 * After clearing the sums and one dispatch, the batch's mean loss is sums[0] / N.
 * A label outside 0..C-1 counts as wrong and makes the loss sum NaN.
 */
export async function softmaxCrossEntropyForward(
  device: GPUDevice,
  t: { logits: Tensor } & Classes & Sums,
  options: CrossEntropyOptions & { accuracyAt?: number } = {},
): Promise<Dispatch> {
  const [N, C] = shapeOf(t);
  const { clipped = true, accuracyAt = 0 } = options;
  expectSums('softmaxCrossEntropy', t, accuracyAt);
  if (accuracyAt !== 0 && !('labels' in t)) throw new Error('softmaxCrossEntropy(): the accuracy of target rows is a metric of its own (metrics.ts)');
  return prepareDispatch(device, shader, 'labels' in t ? 'forward' : 'forward_targets', {
    constants: { WORKGROUP_SIZE: SUMS_WORKGROUP_SIZE, CLIPPED: clipped ? 1 : 0, ...('labels' in t && { ACCURACY_AT: accuracyAt }) },
    params: { rows: N, classes: C },
    buffers: { logits: bufferRange(t.logits), ...classesBinding(t), sums: bufferRange(t.sums), running_means: bufferRange(t.runningMeans) },
    grid: { workgroups: [1] },
    // Each row's maximum (which is its argmax too) and log-sum-exp, minus the
    // label's logit (or times each target); the sums read and written once.
    work: 'labels' in t ? { flops: 4 * N * C + 5, bytes: 4 * (N * C + N + 2 * 5) } : { flops: 6 * N * C + 3, bytes: 4 * (2 * N * C + 2 * 3) },
  });
}

/**
 * dLogits, the gradient of the mean loss over the batch: for labels,
 * (softmax(logits) - onehot(labels)) / N, without the clip (as TensorFlow's
 * fused op; a row whose label is outside 0..C-1 gets softmax / N); for target
 * rows, the exact gradient of the loss `clipped` or not, (softmax · s - t)/N
 * with s and t counting only the classes clipping leaves as they are
 * (softmaxCrossEntropy.wgsl derives it).
 */
export async function softmaxCrossEntropyBackward(
  device: GPUDevice,
  t: { logits: Tensor; dLogits: Tensor } & Classes,
  options: CrossEntropyOptions = {},
): Promise<Dispatch> {
  const [N, C] = shapeOf(t);
  expectTensor('softmaxCrossEntropy', 'dLogits', t.dLogits, [N, C], 'f32');
  return prepareDispatch(device, shader, 'labels' in t ? 'backward' : 'backward_targets', {
    constants: { WORKGROUP_SIZE, CLIPPED: (options.clipped ?? true) ? 1 : 0 },
    params: { rows: N, classes: C },
    buffers: { logits: bufferRange(t.logits), ...classesBinding(t), dLogits: bufferRange(t.dLogits) },
    grid: { threads: [N] },
    work: { flops: 5 * N * C, bytes: 4 * ('labels' in t ? 2 * N * C + N : 3 * N * C) },
  });
}
