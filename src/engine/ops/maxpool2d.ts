// 2D max pooling over NHWC images with 'valid' or 'same' padding (Keras'
// MaxPooling2D), and its gradient. N images of H x W pixels with C channels: x is [N, H, W, C].
import source from '../../shaders/maxpool2d.wgsl?raw';
import { bufferRange, expectTensor, formatShape, sizeOf, type Tensor } from '../buffers';
import { prepareTunable, shapeKey, WORKGROUP_SIZE, type Dispatch } from '../pipelines';
import { withActivations } from './activation';
import { alongDimension, type Padding } from './conv2d';

const shader = withActivations('maxpool2d.wgsl', source);

export interface MaxPool2dOptions {
  /** Window height and width. */
  poolSize: readonly [number, number];
  /** Rows and columns between windows; the pool size when omitted. */
  strides?: readonly [number, number];
  /** Keras' padding; default 'valid'. With 'same' a window's maximum is over its in-image elements. */
  padding?: Padding;
}

/** Checks the input shape and options and returns the output shape [N, OH, OW, C]. */
export function maxPool2dShape(x: readonly number[], options: MaxPool2dOptions): [number, number, number, number] {
  if (x.length !== 4) throw new Error(`maxPool2d(): x must be [N, H, W, C], got ${formatShape(x)}`);
  const [N, H, W, C] = x;
  const [PH, PW] = options.poolSize;
  const [SY, SX] = options.strides ?? options.poolSize;
  const padding = options.padding ?? 'valid';
  if (![PH, PW, SY, SX].every((v) => Number.isInteger(v) && v > 0)) {
    throw new Error(`maxPool2d(): pool size ${PH}x${PW} and strides ${SY}x${SX} must be positive integers`);
  }
  if (padding !== 'valid' && padding !== 'same') throw new Error(`maxPool2d(): padding must be 'valid' or 'same', got '${padding}'`);
  if (padding === 'valid' && (PH > H || PW > W)) throw new Error(`maxPool2d(): pool ${PH}x${PW} is larger than the ${H}x${W} input`);
  return [N, alongDimension(H, PH, SY, padding)[0], alongDimension(W, PW, SX, padding)[0], C];
}

/**
 * The shader's shape constants (see maxpool2d.wgsl), with the output's [N, OH, OW, C];
 * the padding's only with 'same', so that a 'valid' pipeline is what it was before them.
 */
function geometry(input: readonly number[], options: MaxPool2dOptions) {
  const output = maxPool2dShape(input, options);
  const [, H, W, C] = input;
  const [, OH, OW] = output;
  const [PH, PW] = options.poolSize;
  const [SY, SX] = options.strides ?? options.poolSize;
  const padded = options.padding === 'same' && { PADDED: 1, PAD_TOP: alongDimension(H, PH, SY, 'same')[1], PAD_LEFT: alongDimension(W, PW, SX, 'same')[1] };
  return { output, constants: { H, W, C, OH, OW, PH, PW, SY, SX, ...padded } };
}

/**
 * A direction's dispatch, with its variants (maxpool2d.wgsl): the default, an
 * invocation per pixel, then where C is a multiple of 4 an invocation per four
 * channels, read and written as vec4s (for the backward, only where windows do
 * not overlap, as it writes each window's cell). `tensors` are bound by name,
 * and as vec4 views (`x4`, ...) by the vec4 variant.
 */
function pool(device: GPUDevice, entryPoint: 'forward' | 'backward' | 'backward_relu', input: readonly number[], options: MaxPool2dOptions, tensors: Record<string, Tensor>) {
  const { output, constants } = geometry(input, options);
  const { C, PH, PW, SY, SX } = constants;
  const x = sizeOf(input);
  const y = sizeOf(output);
  const forward = entryPoint === 'forward';
  const vec4 = C % 4 === 0 && (forward || (SY >= PH && SX >= PW));
  const variants = forward ? ['pixel', ...(vec4 ? ['vec4'] : [])] : ['gather', ...(vec4 ? ['cells'] : [])];
  // The forward compares each window's values, reading x and writing y and
  // argmax; the backward only routes, reading argmax and dOut (and x, with the
  // ReLU) and writing dInput.
  const work = { flops: forward ? y * PH * PW : 0, bytes: 4 * (x + 2 * y + (entryPoint === 'backward_relu' ? x : 0)) };
  return prepareTunable(device, entryPoint, {
    shape: shapeKey({ N: input[0], ...constants }),
    variants,
    make: (variant) => {
      const wide = variant === 'vec4' || variant === 'cells';
      const buffers = Object.fromEntries(Object.entries(tensors).map(([name, t]) => [wide ? `${name}4` : name, bufferRange(t)]));
      // forward_vec4 reads a window's NaN as a float.
      if (variant === 'vec4') buffers.x = bufferRange(tensors.x);
      return {
        shader,
        entryPoint: variant === 'vec4' ? 'forward_vec4' : variant === 'cells' ? `${entryPoint}_cells` : entryPoint,
        spec: {
          constants: { WORKGROUP_SIZE, ...constants },
          buffers,
          // Pixels written (forward: output, backward: input), or the output's vec4s.
          grid: { strided: wide ? y / 4 : (forward ? y : x) / C },
          work,
        },
      };
    },
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
  return pool(device, 'forward', t.x.shape, options, { x: t.x, y: t.y, argmax: t.argmax });
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
  const tensors = { argmax: t.argmax, d_out: t.dOut, d_input: t.dInput };
  if (!t.reluOf) return pool(device, 'backward', t.dInput.shape, options, tensors);
  expectTensor('maxPool2d', 'reluOf', t.reluOf, t.dInput.shape, 'f32');
  return pool(device, 'backward_relu', t.dInput.shape, options, { ...tensors, x: t.reluOf });
}
