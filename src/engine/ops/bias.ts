// Bias addition along the last dimension, y[r, c] = x[r, c] + bias[c], for Dense
// outputs [N, C] and NHWC images [N, H, W, C] alike, and its gradient.
import source from '../../shaders/bias.wgsl?raw';
import { bufferRange, createTensor, expectTensor, formatShape, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, type Dispatch, type Shader, type Work } from '../pipelines';

const shader: Shader = { file: 'bias.wgsl', source };

/** Invocations per workgroup of the elementwise forward. */
const WORKGROUP_SIZE = 64;
/** Backward's workgroup: adjacent channels side by side, and lanes over rows (a power of two). */
const CHANNEL_LANES = 16;
const ROW_LANES = 16;
/**
 * Backward splits the rows into at most MAX_CHUNKS chunks of at least
 * ROWS_PER_CHUNK rows, one workgroup each per CHANNEL_LANES channels; a second
 * pass adds up the chunks' sums.
 */
const ROWS_PER_CHUNK = 1024;
const MAX_CHUNKS = 256;

/** Checks the shapes and returns [rows, channels]: all dimensions but the last, and the last. */
function biasShape(x: Tensor, bias: Tensor, names: [string, string]): [number, number] {
  const [xName, biasName] = names;
  expectTensor('bias', xName, x, x.shape);
  expectTensor('bias', biasName, bias, bias.shape);
  if (bias.shape.length !== 1) throw new Error(`bias(): ${biasName} must be a vector but has shape ${formatShape(bias.shape)}`);
  const channels = x.shape[x.shape.length - 1];
  if (channels !== bias.shape[0]) {
    throw new Error(`bias(): ${xName} has ${channels} channels (last dimension of ${formatShape(x.shape)}) but ${biasName} has ${bias.shape[0]}`);
  }
  return [sizeOf(x.shape) / channels, channels];
}

function expectSameShape(name: string, t: Tensor, like: Tensor, likeName: string): void {
  expectTensor('bias', name, t, t.shape);
  if (t.shape.length !== like.shape.length || t.shape.some((d, i) => d !== like.shape[i])) {
    throw new Error(`bias(): ${name} has shape ${formatShape(t.shape)} but ${likeName} has ${formatShape(like.shape)}`);
  }
}

/**
 * y = x + bias, broadcast over all dimensions but the last. y must not alias x:
 * WebGPU does not let one dispatch bind a buffer range both read-only and writable.
 */
export async function biasForward(device: GPUDevice, t: { x: Tensor; bias: Tensor; y: Tensor }): Promise<Dispatch> {
  const [rows, channels] = biasShape(t.x, t.bias, ['x', 'bias']);
  expectSameShape('y', t.y, t.x, 'x');
  return prepareDispatch(device, shader, 'forward', {
    constants: { WORKGROUP_SIZE },
    params: { rows, channels },
    buffers: { x: bufferRange(t.x), bias: bufferRange(t.bias), y: bufferRange(t.y) },
    grid: { strided: rows * channels },
    work: { flops: rows * channels, bytes: 4 * (2 * rows * channels + channels) },
  });
}

function columnSums(device: GPUDevice, terms: Tensor, sums: Tensor, rows: number, channels: number, chunks: number, work: Work | undefined) {
  return prepareDispatch(device, shader, 'backward', {
    constants: { CHANNEL_LANES, ROW_LANES },
    params: { rows, channels },
    buffers: { terms: bufferRange(terms), sums: bufferRange(sums) },
    grid: { workgroups: [Math.ceil(channels / CHANNEL_LANES), chunks] },
    work,
  });
}

/**
 * dBias[c] = Σ_r dOut[r, c]. The gradient with respect to x is dOut itself, so
 * there is no kernel for it. Over many rows this is two dispatches, with a
 * buffer of partial sums created here, once.
 */
export async function biasBackward(device: GPUDevice, t: { dOut: Tensor; dBias: Tensor }): Promise<Dispatch[]> {
  const [rows, channels] = biasShape(t.dOut, t.dBias, ['dOut', 'dBias']);
  const chunks = Math.min(MAX_CHUNKS, Math.ceil(rows / ROWS_PER_CHUNK));
  // Counted on the first pass: the sum of dOut, read once, into the channels.
  const work = { flops: rows * channels, bytes: 4 * (rows * channels + channels) };
  if (chunks === 1) return [await columnSums(device, t.dOut, t.dBias, rows, channels, 1, work)];
  const partial = createTensor(device, [chunks, channels], { label: 'bias backward partial sums' });
  const dispatches = await Promise.all([
    columnSums(device, t.dOut, partial, rows, channels, chunks, work),
    columnSums(device, partial, t.dBias, chunks, channels, 1, undefined),
  ]);
  dispatches[0].owned.push(partial.buffer);
  return dispatches;
}
