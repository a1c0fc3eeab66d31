// 2D max pooling over NHWC images with 'valid' padding (Keras' MaxPooling2D),
// and its gradient. N images of H x W pixels with C channels: x is [N, H, W, C].
import source from '../../shaders/maxpool2d.wgsl?raw';
import { bufferRange, expectTensor, formatShape, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, WORKGROUP_SIZE, type BufferRange, type Dispatch } from '../pipelines';
import { withActivations } from './activation';

const shader = withActivations('maxpool2d.wgsl', source);

export interface MaxPool2dOptions {
  /** Window height and width. */
  poolSize: readonly [number, number];
  /** Rows and columns between windows; the pool size when omitted. */
  strides?: readonly [number, number];
}

/** Checks the input shape and options and returns the output shape [N, OH, OW, C]. */
export function maxPool2dShape(x: readonly number[], options: MaxPool2dOptions): [number, number, number, number] {
  if (x.length !== 4) throw new Error(`maxPool2d(): x must be [N, H, W, C], got ${formatShape(x)}`);
  const [N, H, W, C] = x;
  const [PH, PW] = options.poolSize;
  const [SY, SX] = options.strides ?? options.poolSize;
  if (![PH, PW, SY, SX].every((v) => Number.isInteger(v) && v > 0)) {
    throw new Error(`maxPool2d(): pool size ${PH}x${PW} and strides ${SY}x${SX} must be positive integers`);
  }
  if (PH > H || PW > W) throw new Error(`maxPool2d(): pool ${PH}x${PW} is larger than the ${H}x${W} input`);
  return [N, Math.floor((H - PH) / SY) + 1, Math.floor((W - PW) / SX) + 1, C];
}

/** A dispatch of an entry point, over the pixels it writes: the output's (forward) or the input's (backward). */
function pool(device: GPUDevice, entryPoint: string, input: readonly number[], options: MaxPool2dOptions, buffers: Record<string, BufferRange>) {
  const output = maxPool2dShape(input, options);
  const [N, H, W, C] = input;
  const [, OH, OW] = output;
  const [PH, PW] = options.poolSize;
  const [SY, SX] = options.strides ?? options.poolSize;
  const forward = entryPoint === 'forward';
  const x = sizeOf(input);
  const y = sizeOf(output);
  // Forward compares each window's values; backward only routes. Both read x-sized and write y-sized data or the reverse.
  const flops = forward ? y * PH * PW : 0;
  return prepareDispatch(device, shader, entryPoint, {
    constants: { WORKGROUP_SIZE },
    params: { H, W, C, OH, OW, PH, PW, SY, SX },
    buffers,
    grid: { strided: forward ? N * OH * OW : N * H * W },
    work: { flops, bytes: 4 * (x + 2 * y) },
  });
}

/** y = the maximum of each window of x, and argmax = the flat index into x it came from. */
export async function maxPool2dForward(
  device: GPUDevice,
  t: { x: Tensor; y: Tensor; argmax: Tensor },
  options: MaxPool2dOptions,
): Promise<Dispatch> {
  const output = maxPool2dShape(t.x.shape, options);
  expectTensor('maxPool2d', 'x', t.x, t.x.shape, 'f32');
  expectTensor('maxPool2d', 'y', t.y, output, 'f32');
  expectTensor('maxPool2d', 'argmax', t.argmax, output, 'u32');
  const buffers = { x: bufferRange(t.x), y: bufferRange(t.y), argmax: bufferRange(t.argmax) };
  return pool(device, 'forward', t.x.shape, options, buffers);
}

/**
 * dInput = each dOut routed to the input element its window's maximum came
 * from, zero elsewhere. Given `reluOf`, the pooling's input x, which a ReLU
 * wrote, dInput is that ReLU's gradient too (relu'(x) ⊙ ...), in the same
 * dispatch (the entry point backward_relu).
 */
export async function maxPool2dBackward(
  device: GPUDevice,
  t: { argmax: Tensor; dOut: Tensor; dInput: Tensor; reluOf?: Tensor },
  options: MaxPool2dOptions,
): Promise<Dispatch> {
  const output = maxPool2dShape(t.dInput.shape, options);
  expectTensor('maxPool2d', 'dInput', t.dInput, t.dInput.shape, 'f32');
  expectTensor('maxPool2d', 'dOut', t.dOut, output, 'f32');
  expectTensor('maxPool2d', 'argmax', t.argmax, output, 'u32');
  const buffers = { argmax: bufferRange(t.argmax), d_out: bufferRange(t.dOut), d_input: bufferRange(t.dInput) };
  if (!t.reluOf) return pool(device, 'backward', t.dInput.shape, options, buffers);
  expectTensor('maxPool2d', 'reluOf', t.reluOf, t.dInput.shape, 'f32');
  return pool(device, 'backward_relu', t.dInput.shape, options, { ...buffers, x: bufferRange(t.reluOf) });
}
