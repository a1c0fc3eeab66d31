// Inverted dropout (Keras' Dropout) over a tensor of any shape, its gradient,
// the step counter its masks are drawn for, and the identity it is in inference.
import source from '../../shaders/dropout.wgsl?raw';
import { bufferRange, expectTensor, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, WORKGROUP_SIZE, type BufferRange, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'dropout.wgsl', source };

export interface DropoutOptions {
  /** The fraction of elements dropped, in [0, 1). */
  rate: number;
  /** 32-bit seed of the masks; with the step counter and the element's index it decides each one. */
  seed: number;
}

/** Checks the rate and seed; errors name the values. */
export function dropoutCheck(options: DropoutOptions): void {
  const { rate, seed } = options;
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) throw new Error(`dropout(): rate must be a number in [0, 1), got ${rate}`);
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new Error(`dropout(): seed must be an integer in [0, 2^32), got ${seed}`);
}

/** The uniform: an element is dropped where its 32-bit hash is below rate · 2^32. */
function maskParams({ rate, seed }: DropoutOptions) {
  return { seed, threshold: Math.floor(rate * 2 ** 32), scale: 1 / (1 - rate) };
}

function expectStep(step: Tensor): void {
  expectTensor('dropout', 'step', step, [1], 'u32');
}

/** One multiply an element (the hash is integer work); one float read and one written. */
function elementwise(device: GPUDevice, entryPoint: string, buffers: Record<string, BufferRange>, count: number, params?: DropoutOptions) {
  return prepareDispatch(device, shader, entryPoint, {
    constants: { WORKGROUP_SIZE },
    params: params && maskParams(params),
    buffers,
    grid: { strided: count },
    work: { flops: entryPoint === 'identity' ? 0 : count, bytes: 8 * count },
  });
}

/** step += 1, on the GPU: recorded at the start of each training step, so each draws a new mask. */
export async function dropoutAdvance(device: GPUDevice, step: Tensor): Promise<Dispatch> {
  expectStep(step);
  return prepareDispatch(device, shader, 'advance', { buffers: { step: bufferRange(step) }, grid: { workgroups: [1] }, work: { flops: 0, bytes: 8 } });
}

/** Training: y = x ⊙ mask / (1 - rate), with the mask of (seed, step, element index). */
export async function dropoutForward(device: GPUDevice, t: { x: Tensor; y: Tensor; step: Tensor }, options: DropoutOptions): Promise<Dispatch> {
  dropoutCheck(options);
  expectTensor('dropout', 'x', t.x, t.x.shape);
  expectTensor('dropout', 'y', t.y, t.x.shape);
  expectStep(t.step);
  return elementwise(device, 'forward', { x: bufferRange(t.x), y: bufferRange(t.y), step: bufferRange(t.step) }, sizeOf(t.x.shape), options);
}

/** dInput = dOut ⊙ mask / (1 - rate), with the mask the forward of the same step drew. */
export async function dropoutBackward(
  device: GPUDevice,
  t: { dOut: Tensor; dInput: Tensor; step: Tensor },
  options: DropoutOptions,
): Promise<Dispatch> {
  dropoutCheck(options);
  expectTensor('dropout', 'dOut', t.dOut, t.dOut.shape);
  expectTensor('dropout', 'dInput', t.dInput, t.dOut.shape);
  expectStep(t.step);
  const buffers = { d_out: bufferRange(t.dOut), d_input: bufferRange(t.dInput), step: bufferRange(t.step) };
  return elementwise(device, 'backward', buffers, sizeOf(t.dOut.shape), options);
}

/** Inference: y = x, copied into y's own buffer. */
export async function dropoutInference(device: GPUDevice, t: { x: Tensor; y: Tensor }): Promise<Dispatch> {
  expectTensor('dropout', 'x', t.x, t.x.shape);
  expectTensor('dropout', 'y', t.y, t.x.shape);
  return elementwise(device, 'identity', { x: bufferRange(t.x), y: bufferRange(t.y) }, sizeOf(t.x.shape));
}
