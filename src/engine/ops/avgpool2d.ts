// 2D average pooling over NHWC images with 'valid' or 'same' padding (Keras'
// AveragePooling2D), and its gradient. N images of H x W pixels with C channels: x is [N, H, W, C].
import source from '../../shaders/avgpool2d.wgsl?raw';
import { bufferRange, expectTensor, formatShape, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, WORKGROUP_SIZE, type BufferRange, type Dispatch, type Shader } from '../pipelines';
import { alongDimension, type Padding } from './conv2d';

const shader: Shader = { file: 'avgpool2d.wgsl', source };

export interface AvgPool2dOptions {
  /** Window height and width. */
  poolSize: readonly [number, number];
  /** Rows and columns between windows; the pool size when omitted. */
  strides?: readonly [number, number];
  /** Keras' padding; default 'valid'. With 'same' a window averages its in-image elements only. */
  padding?: Padding;
}

/** The members of the shader's `params`. */
function geometry(x: readonly number[], options: AvgPool2dOptions) {
  if (x.length !== 4) throw new Error(`avgPool2d(): x must be [N, H, W, C], got ${formatShape(x)}`);
  const [, H, W, C] = x;
  const [PH, PW] = options.poolSize;
  const [SY, SX] = options.strides ?? options.poolSize;
  const padding = options.padding ?? 'valid';
  if (![PH, PW, SY, SX].every((v) => Number.isInteger(v) && v > 0)) {
    throw new Error(`avgPool2d(): pool size ${PH}x${PW} and strides ${SY}x${SX} must be positive integers`);
  }
  if (padding !== 'valid' && padding !== 'same') throw new Error(`avgPool2d(): padding must be 'valid' or 'same', got '${padding}'`);
  if (padding === 'valid' && (PH > H || PW > W)) throw new Error(`avgPool2d(): pool ${PH}x${PW} is larger than the ${H}x${W} input with 'valid' padding`);
  const [OH, pad_top] = alongDimension(H, PH, SY, padding);
  const [OW, pad_left] = alongDimension(W, PW, SX, padding);
  return { H, W, C, OH, OW, PH, PW, SY, SX, pad_top, pad_left };
}

/** Checks the input shape and options and returns the output shape [N, OH, OW, C]. */
export function avgPool2dShape(x: readonly number[], options: AvgPool2dOptions): [number, number, number, number] {
  const { OH, OW, C } = geometry(x, options);
  return [x[0], OH, OW, C];
}

function pool(device: GPUDevice, entryPoint: string, input: readonly number[], options: AvgPool2dOptions, buffers: Record<string, BufferRange>) {
  const g = geometry(input, options);
  const x = sizeOf(input);
  const y = input[0] * g.OH * g.OW * g.C;
  // Forward adds up each window (at most PH·PW terms an output); backward adds
  // up the shares of the windows over each input, about as many in all.
  const pixels = entryPoint === 'forward' ? y / g.C : x / g.C;
  return prepareDispatch(device, shader, entryPoint, {
    constants: { WORKGROUP_SIZE },
    params: g,
    buffers,
    grid: { strided: pixels },
    work: { flops: y * g.PH * g.PW, bytes: 4 * (x + y) },
  });
}

/** y = the mean of each window's in-image elements of x. */
export async function avgPool2dForward(device: GPUDevice, t: { x: Tensor; y: Tensor }, options: AvgPool2dOptions): Promise<Dispatch> {
  const output = avgPool2dShape(t.x.shape, options);
  expectTensor('avgPool2d', 'x', t.x, t.x.shape);
  expectTensor('avgPool2d', 'y', t.y, output);
  return pool(device, 'forward', t.x.shape, options, { x: bufferRange(t.x), y: bufferRange(t.y) });
}

/** dInput = each dOut shared equally among the in-image elements of its window, summed where windows overlap. */
export async function avgPool2dBackward(device: GPUDevice, t: { dOut: Tensor; dInput: Tensor }, options: AvgPool2dOptions): Promise<Dispatch> {
  const output = avgPool2dShape(t.dInput.shape, options);
  expectTensor('avgPool2d', 'dInput', t.dInput, t.dInput.shape);
  expectTensor('avgPool2d', 'dOut', t.dOut, output);
  return pool(device, 'backward', t.dInput.shape, options, { d_out: bufferRange(t.dOut), d_input: bufferRange(t.dInput) });
}
