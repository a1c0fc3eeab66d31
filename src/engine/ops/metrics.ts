// The metrics a step adds to the sums kept on the GPU besides its loss
// (ops/sums.ts), from the model's outputs y [N, ...] (what predict returns)
// against the targets [N, ...] or labels [N], as Keras computes them
// (metrics.wgsl): categorical, binary and top-k categorical accuracy, and top-k
// for labels. The mse and mae metrics are meanError.ts', and the accuracy of
// labels is the sparse cross-entropy's (softmaxCrossEntropy.ts).
import source from '../../shaders/metrics.wgsl?raw';
import { bufferRange, expectScoresAndLabels, expectTensor, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, type Dispatch } from '../pipelines';
import { classesBinding } from './softmaxCrossEntropy';
import { expectSums, SUMS_WORKGROUP_SIZE, withSums, type Sums } from './sums';

const shader = withSums('metrics.wgsl', source);

/** Each metric's entry point in metrics.wgsl. */
export const METRIC_KERNELS = {
  categoricalAccuracy: 'categorical_accuracy',
  binaryAccuracy: 'binary_accuracy',
  topKCategoricalAccuracy: 'top_k_categorical_accuracy',
  sparseTopKCategoricalAccuracy: 'sparse_top_k_categorical_accuracy',
} as const;

export type MetricKernel = keyof typeof METRIC_KERNELS;

/**
 * sums[at] += the step's total of `metric` (each row's value: 1 or 0, or for
 * binary accuracy the fraction of its values right), and its running mean;
 * `k` for the top-k ones (Keras' default 5). `at` is 1 + the metric's index.
 */
export async function metricForward(
  device: GPUDevice,
  metric: MetricKernel,
  t: { y: Tensor } & ({ targets: Tensor } | { labels: Tensor }) & Sums,
  options: { at: number; k?: number },
): Promise<Dispatch> {
  const { at, k = 5 } = options;
  const op = METRIC_KERNELS[metric];
  expectSums(op, t, at);
  if (at === 0) throw new Error(`${op}(): sums[0] is the loss'`);
  const sparse = metric === 'sparseTopKCategoricalAccuracy';
  if (sparse !== 'labels' in t) throw new Error(`${op}(): takes ${sparse ? 'labels' : 'targets'}`);
  if (!Number.isInteger(k) || k < 1) throw new Error(`${op}(): k must be a positive integer, got ${k}`);
  const [N, R] = 'labels' in t ? expectScoresAndLabels(op, 'y', t.y, t.labels) : [t.y.shape[0], sizeOf(t.y.shape.slice(1))];
  if ('targets' in t) expectTensor(op, 'targets', t.targets, t.y.shape);
  return prepareDispatch(device, shader, op, {
    constants: { WORKGROUP_SIZE: SUMS_WORKGROUP_SIZE, AT: at, ...(metric.startsWith('topK') || sparse ? { K: k } : {}) },
    params: { rows: N, row_size: R },
    buffers: { y: bufferRange(t.y), ...classesBinding(t), sums: bufferRange(t.sums), running_means: bufferRange(t.runningMeans) },
    grid: { workgroups: [1] },
    work: { flops: 2 * N * R + 3, bytes: 4 * ((sparse ? 1 : 2) * N * R + 2 * 2) },
  });
}
