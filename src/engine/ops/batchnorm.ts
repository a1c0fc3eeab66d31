// Batch normalization over the last axis (Keras' BatchNormalization): the
// statistics of a batch (training) or the moving ones (inference), the
// normalization, and its gradient. x is [..., C]: every position but the last axis is a row.
import source from '../../shaders/batchnorm.wgsl?raw';
import { bufferRange, expectTensor, formatShape, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, WORKGROUP_SIZE, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'batchnorm.wgsl', source };

/** The reductions' workgroup: adjacent channels side by side, and lanes over rows (a power of two). */
const CHANNEL_LANES = 16;
const ROW_LANES = 16;

export interface BatchNormOptions {
  /** Weight of the old moving statistics in each update. */
  momentum: number;
  /** Added to the variance before its square root. */
  epsilon: number;
}

/** Checks the options; errors name the values. */
export function batchNormCheck({ momentum, epsilon }: BatchNormOptions): void {
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
    throw new Error(`batchNormalization(): momentum must be a number in [0, 1], got ${momentum}`);
  }
  if (typeof epsilon !== 'number' || !(epsilon > 0 && Number.isFinite(epsilon))) {
    throw new Error(`batchNormalization(): epsilon must be a positive number, got ${epsilon}`);
  }
}

/** Checks x against the per-channel vectors and returns [rows, channels]. */
function shapeOf(x: Tensor, vectors: Record<string, Tensor>): [number, number] {
  expectTensor('batchNormalization', 'x', x, x.shape);
  if (x.shape.length < 2) throw new Error(`batchNormalization(): x must be [N, ..., C], got ${formatShape(x.shape)}`);
  const channels = x.shape[x.shape.length - 1];
  for (const [name, t] of Object.entries(vectors)) expectTensor('batchNormalization', name, t, [channels]);
  return [sizeOf(x.shape) / channels, channels];
}

function uniform(rows: number, channels: number, { momentum, epsilon }: BatchNormOptions) {
  return { rows, channels, momentum, one_minus_momentum: 1 - momentum, epsilon };
}

const ranges = (tensors: Record<string, Tensor>) => Object.fromEntries(Object.entries(tensors).map(([name, t]) => [name, bufferRange(t)]));

/**
 * Training: each channel's mean and 1 / sqrt(variance + epsilon) over the batch
 * into `mean` and `invStd`, and the moving statistics updated with them.
 */
export async function batchNormStatistics(
  device: GPUDevice,
  t: { x: Tensor; mean: Tensor; invStd: Tensor; movingMean: Tensor; movingVariance: Tensor },
  options: BatchNormOptions,
): Promise<Dispatch> {
  batchNormCheck(options);
  const { x, ...vectors } = t;
  const [rows, channels] = shapeOf(x, vectors);
  return prepareDispatch(device, shader, 'statistics', {
    constants: { CHANNEL_LANES, ROW_LANES },
    params: uniform(rows, channels, options),
    buffers: ranges({ x, mean: t.mean, inv_std: t.invStd, moving_mean: t.movingMean, moving_variance: t.movingVariance }),
    grid: { workgroups: [Math.ceil(channels / CHANNEL_LANES)] },
    // x read twice (mean, then deviations), three flops an element each time.
    work: { flops: 4 * rows * channels, bytes: 4 * (2 * rows * channels + 6 * channels) },
  });
}

/** Inference: the moving statistics into `mean` and `invStd`. */
export async function batchNormMovingStatistics(
  device: GPUDevice,
  t: { mean: Tensor; invStd: Tensor; movingMean: Tensor; movingVariance: Tensor },
  options: BatchNormOptions,
): Promise<Dispatch> {
  batchNormCheck(options);
  const channels = t.mean.shape[0];
  for (const [name, tensor] of Object.entries(t)) expectTensor('batchNormalization', name, tensor, [channels]);
  return prepareDispatch(device, shader, 'moving_statistics', {
    constants: { WORKGROUP_SIZE },
    params: uniform(1, channels, options),
    buffers: ranges({ mean: t.mean, inv_std: t.invStd, moving_mean: t.movingMean, moving_variance: t.movingVariance }),
    grid: { threads: [channels] },
    work: { flops: 2 * channels, bytes: 16 * channels },
  });
}

/** y = gamma (x - mean) invStd + beta, with the statistics in `mean` and `invStd`. */
export async function batchNormForward(
  device: GPUDevice,
  t: { x: Tensor; gamma: Tensor; beta: Tensor; mean: Tensor; invStd: Tensor; y: Tensor },
  options: BatchNormOptions,
): Promise<Dispatch> {
  const { x, y, ...vectors } = t;
  const [rows, channels] = shapeOf(x, vectors);
  expectTensor('batchNormalization', 'y', y, x.shape);
  return prepareDispatch(device, shader, 'normalize', {
    constants: { WORKGROUP_SIZE },
    params: uniform(rows, channels, options),
    buffers: ranges({ x, y, gamma: t.gamma, beta: t.beta, mean: t.mean, inv_std: t.invStd }),
    grid: { strided: rows * channels },
    work: { flops: 4 * rows * channels, bytes: 4 * (2 * rows * channels + 4 * channels) },
  });
}

/**
 * dGamma and dBeta, then (when dInput is given) dInput through the batch's
 * statistics, as the training forward used them.
 */
export async function batchNormBackward(
  device: GPUDevice,
  t: { x: Tensor; dOut: Tensor; gamma: Tensor; mean: Tensor; invStd: Tensor; dGamma: Tensor; dBeta: Tensor; dInput?: Tensor },
  options: BatchNormOptions,
): Promise<Dispatch[]> {
  const { x, dOut, dInput, ...vectors } = t;
  const [rows, channels] = shapeOf(x, vectors);
  expectTensor('batchNormalization', 'dOut', dOut, x.shape);
  const params = uniform(rows, channels, options);
  const sums = { d_out: dOut, x, mean: t.mean, inv_std: t.invStd, d_gamma: t.dGamma, d_beta: t.dBeta };
  const dispatches = [
    await prepareDispatch(device, shader, 'backward_reduce', {
      constants: { CHANNEL_LANES, ROW_LANES },
      params,
      buffers: ranges(sums),
      grid: { workgroups: [Math.ceil(channels / CHANNEL_LANES)] },
      work: { flops: 5 * rows * channels, bytes: 4 * (2 * rows * channels + 4 * channels) },
    }),
  ];
  if (dInput) {
    expectTensor('batchNormalization', 'dInput', dInput, x.shape);
    dispatches.push(
      await prepareDispatch(device, shader, 'backward_input', {
        constants: { WORKGROUP_SIZE },
        params,
        buffers: ranges({ ...sums, gamma: t.gamma, d_input: dInput }),
        grid: { strided: rows * channels },
        work: { flops: 8 * rows * channels, bytes: 4 * (3 * rows * channels + 5 * channels) },
      }),
    );
  }
  return dispatches;
}
