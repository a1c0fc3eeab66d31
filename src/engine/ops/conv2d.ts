// 2D convolution y = x ⊛ w of NHWC images x [N, H, W, C_in] with a kernel
// w [KH, KW, C_in, C_out] (Keras' layouts, so Keras weights load as they are),
// giving y [N, OH, OW, C_out], with Keras' strides and 'valid'/'same' padding,
// and its gradients. Bias and activation are separate ops.
import source from '../../shaders/conv2d.wgsl?raw';
import { bufferRange, createTensor, formatShape, type Tensor } from '../buffers';
import { prepareDispatch, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'conv2d.wgsl', source };

/**
 * Each product runs in workgroups of TILE x TILE invocations, each computing a
 * CELL x CELL cell of the output: a block of side CELL * TILE per workgroup. A
 * product whose narrow side fits a block of side CELL * SMALL_TILE (a first
 * layer has C_in = 1 and C_out = 32) uses SMALL_TILE, to waste less of its blocks.
 */
const TILE = 16;
const SMALL_TILE = 8;
/** Fixed by conv2d.wgsl, whose cells are four vec4s. */
const CELL = 4;
/** Invocations per workgroup of sum_slices. */
const WORKGROUP_SIZE = 256;
/** backward_weight splits its contraction into slices until about this many workgroups run... */
const TARGET_WORKGROUPS = 1024;
/** ...but gives each slice at least this many steps, so that the partial sums cost little. */
const MIN_SLICE = 256;

export type Padding = 'valid' | 'same';

export interface Conv2dOptions {
  /** Steps between output pixels, vertical then horizontal (Keras' `strides`); default [1, 1]. */
  strides?: readonly [number, number];
  /** Keras' padding; default 'valid'. */
  padding?: Padding;
}

/** Everything the shader needs to know about one convolution: the members of its `params`. */
type Geometry = {
  N: number;
  H: number;
  W: number;
  C_in: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  C_out: number;
  SY: number;
  SX: number;
  pad_top: number;
  pad_left: number;
};

/**
 * Output size and zero padding before the first pixel along one dimension, as
 * TensorFlow computes them: 'same' pads by as little as lets ceil(size / stride)
 * outputs be computed, the odd pixel going after.
 */
function alongDimension(size: number, kernel: number, stride: number, padding: Padding): [number, number] {
  if (padding === 'valid') return [Math.floor((size - kernel) / stride) + 1, 0];
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return [out, Math.floor(total / 2)];
}

function geometry(input: readonly number[], kernel: readonly number[], options: Conv2dOptions): Geometry {
  const { strides = [1, 1], padding = 'valid' } = options;
  if (input.length !== 4) throw new Error(`conv2d(): input must be [N, H, W, C_in] but has shape ${formatShape(input)}`);
  if (kernel.length !== 4) throw new Error(`conv2d(): kernel must be [KH, KW, C_in, C_out] but has shape ${formatShape(kernel)}`);
  if ([...input, ...kernel].some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new Error(`conv2d(): sizes must be positive integers, got input ${formatShape(input)} and kernel ${formatShape(kernel)}`);
  }
  const [N, H, W, C_in] = input;
  const [KH, KW, kernelChannels, C_out] = kernel;
  if (C_in !== kernelChannels) throw new Error(`conv2d(): input has ${C_in} channels but the kernel expects ${kernelChannels}`);
  if (strides.length !== 2 || strides.some((s) => !Number.isInteger(s) || s <= 0)) {
    throw new Error(`conv2d(): strides must be two positive integers, got ${formatShape(strides)}`);
  }
  if (padding !== 'valid' && padding !== 'same') throw new Error(`conv2d(): padding must be 'valid' or 'same', got '${padding}'`);
  if (padding === 'valid' && (KH > H || KW > W)) {
    throw new Error(`conv2d(): the ${KH}x${KW} kernel does not fit in the ${H}x${W} input with 'valid' padding`);
  }
  const [SY, SX] = strides;
  const [OH, pad_top] = alongDimension(H, KH, SY, padding);
  const [OW, pad_left] = alongDimension(W, KW, SX, padding);
  return { N, H, W, C_in, KH, KW, OH, OW, C_out, SY, SX, pad_top, pad_left };
}

/** Checks that x [N, H, W, C_in] and w [KH, KW, C_in, C_out] can be convolved and returns y's shape [N, OH, OW, C_out]. */
export function conv2dShape(input: readonly number[], kernel: readonly number[], options: Conv2dOptions = {}): number[] {
  const g = geometry(input, kernel, options);
  return [g.N, g.OH, g.OW, g.C_out];
}

function expectF32(name: string, tensor: Tensor): void {
  if (tensor.dtype !== 'f32') throw new Error(`conv2d(): ${name} must be f32 but is ${tensor.dtype}`);
}

function expectShape(name: string, tensor: Tensor, shape: readonly number[]): void {
  expectF32(name, tensor);
  if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`conv2d(): ${name} has shape ${formatShape(tensor.shape)} but ${formatShape(shape)} was expected`);
  }
}

function checkedGeometry(x: Tensor, w: Tensor, options: Conv2dOptions): Geometry {
  const g = geometry(x.shape, w.shape, options);
  expectF32('x', x);
  expectF32('w', w);
  return g;
}

function tileFor(rows: number, cols: number): number {
  return Math.min(rows, cols) <= CELL * SMALL_TILE ? SMALL_TILE : TILE;
}

/** One of the implicit matrix products, `rows` x `cols`, `slices` deep. */
function product(device: GPUDevice, entryPoint: string, g: Geometry, buffers: Record<string, Tensor>, rows: number, cols: number, slices = 1) {
  const tile = tileFor(rows, cols);
  const ranges = Object.fromEntries(Object.entries(buffers).map(([name, t]) => [name, bufferRange(t)]));
  return prepareDispatch(device, shader, entryPoint, {
    constants: { TILE: tile },
    params: g,
    buffers: ranges,
    grid: { workgroups: [Math.ceil(cols / (CELL * tile)), Math.ceil(rows / (CELL * tile)), slices] },
  });
}

/** y = x ⊛ w. */
export async function conv2dForward(device: GPUDevice, t: { x: Tensor; w: Tensor; y: Tensor }, options: Conv2dOptions = {}): Promise<Dispatch> {
  const g = checkedGeometry(t.x, t.w, options);
  expectShape('y', t.y, [g.N, g.OH, g.OW, g.C_out]);
  return product(device, 'forward', g, { x: t.x, w: t.w, y: t.y }, g.N * g.OH * g.OW, g.C_out);
}

/** How many slices backward_weight splits its contraction of `steps` into. */
function weightSlices(rows: number, cols: number, steps: number): number {
  const block = CELL * tileFor(rows, cols);
  const blocks = Math.ceil(rows / block) * Math.ceil(cols / block);
  return Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / blocks), Math.floor(steps / MIN_SLICE)));
}

/**
 * dW and, when dInput is given, dX (a model's first layer needs no dX). When
 * dW's contraction is long, it is summed in slices into a buffer created here,
 * once, and a second dispatch adds the slices up.
 */
export async function conv2dBackward(
  device: GPUDevice,
  t: { x: Tensor; w: Tensor; dOut: Tensor; dInput?: Tensor; dWeight: Tensor },
  options: Conv2dOptions = {},
): Promise<Dispatch[]> {
  const g = checkedGeometry(t.x, t.w, options);
  expectShape('dOut', t.dOut, [g.N, g.OH, g.OW, g.C_out]);
  expectShape('dWeight', t.dWeight, t.w.shape);
  if (t.dInput) expectShape('dInput', t.dInput, t.x.shape);

  const rows = g.KH * g.KW * g.C_in;
  const slices = weightSlices(rows, g.C_out, g.N * g.OH * g.OW);
  const partial = slices === 1 ? t.dWeight : createTensor(device, [slices, rows, g.C_out], { label: 'conv2d dWeight slices' });
  const dispatches = [product(device, 'backward_weight', g, { x: t.x, d_out: t.dOut, partial_d_weight: partial }, rows, g.C_out, slices)];
  if (slices > 1) {
    dispatches.push(
      prepareDispatch(device, shader, 'sum_slices', {
        constants: { WORKGROUP_SIZE },
        params: g,
        buffers: { partial_d_weight: bufferRange(partial), d_weight: bufferRange(t.dWeight) },
        grid: { threads: [rows * g.C_out] },
        scratch: [partial.buffer],
      }),
    );
  }
  if (t.dInput) {
    dispatches.push(product(device, 'backward_input', g, { d_out: t.dOut, w: t.w, d_input: t.dInput }, g.N * g.H * g.W, g.C_in));
  }
  return Promise.all(dispatches);
}
