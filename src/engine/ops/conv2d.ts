// 2D convolution y = x ⊛ w of NHWC images x [N, H, W, C_in] with a kernel
// w [KH, KW, C_in, C_out] (Keras' layouts, so Keras weights load as they are),
// giving y [N, OH, OW, C_out], with Keras' strides and 'valid'/'same' padding,
// and its gradients. Bias and activation are separate ops.
import source from '../../shaders/conv2d.wgsl?raw';
import { bufferRange, createTensor, expectTensor, formatShape, vec4View, type Tensor } from '../buffers';
import { prepareDispatch, shaderConstant, type Dispatch, type Shader, type Work } from '../pipelines';

const shader: Shader = { file: 'conv2d.wgsl', source };

/**
 * Channels each invocation computes: a cell of four vec4s, fixed by
 * conv2d.wgsl. Each workgroup computes one cell's channels of
 * WORKGROUP_SIZE pixels (or kernel rows).
 */
const CELL = shaderConstant(shader, 'CELL');
/** Invocations per workgroup (pixels for forward and backward_input; sum_slices). */
const WORKGROUP_SIZE = 64;
/**
 * backward_weight runs an invocation per row of dW (KH*KW*C_in: 9 in a first
 * layer), in workgroups of as few whole multiples of this as hold them: the
 * SIMD width of a CPU-emulated GPU.
 */
const ROW_GRANULE = 8;
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
export function alongDimension(size: number, kernel: number, stride: number, padding: Padding): [number, number] {
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

function checkedGeometry(x: Tensor, w: Tensor, options: Conv2dOptions): Geometry {
  const g = geometry(x.shape, w.shape, options);
  expectTensor('conv2d', 'x', x, x.shape);
  expectTensor('conv2d', 'w', w, w.shape);
  return g;
}

/**
 * The pipeline constant that says whether a dispatch's shared rows,
 * `width` columns wide, are read as vec4s, and the binding of their vec4 view
 * (`view`, a second binding of `tensor`).
 */
function specialize(device: GPUDevice, width: number, view: 'w4' | 'd_out4', tensor: Tensor) {
  const vectorized = width % 4 === 0;
  const { range, scratch } = vec4View(device, tensor, vectorized);
  return { constants: { VECTORIZED: Number(vectorized) }, views: { [view]: range }, scratch };
}

/** Each of the three products does the same multiply-adds, reading two of x, w, y (or their gradients) and writing the third. */
function productWork(g: Geometry): Work {
  const { N, H, W, C_in, KH, KW, OH, OW, C_out } = g;
  return { flops: 2 * N * OH * OW * KH * KW * C_in * C_out, bytes: 4 * (N * H * W * C_in + KH * KW * C_in * C_out + N * OH * OW * C_out) };
}

function ranges(buffers: Record<string, Tensor>) {
  return Object.fromEntries(Object.entries(buffers).map(([name, t]) => [name, bufferRange(t)]));
}

/** y = x ⊛ w. */
export async function conv2dForward(device: GPUDevice, t: { x: Tensor; w: Tensor; y: Tensor }, options: Conv2dOptions = {}): Promise<Dispatch> {
  const g = checkedGeometry(t.x, t.w, options);
  expectTensor('conv2d', 'y', t.y, [g.N, g.OH, g.OW, g.C_out]);
  const { constants, views, scratch } = specialize(device, g.C_out, 'w4', t.w);
  return prepareDispatch(device, shader, 'forward', {
    constants: { WORKGROUP_SIZE, ...constants },
    params: g,
    buffers: { ...ranges({ x: t.x, w: t.w, y: t.y }), ...views },
    scratch,
    // Threads, not workgroups, so that a kernel override with another WORKGROUP_SIZE is sized right.
    grid: { threads: [g.N * g.OH * g.OW, Math.ceil(g.C_out / CELL)] },
    work: productWork(g),
  });
}

/** How many slices backward_weight splits its contraction of `steps` into, given its other workgroups. */
function weightSlices(workgroups: number, steps: number): number {
  return Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / workgroups), Math.floor(steps / MIN_SLICE)));
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
  expectTensor('conv2d', 'dOut', t.dOut, [g.N, g.OH, g.OW, g.C_out]);
  expectTensor('conv2d', 'dWeight', t.dWeight, t.w.shape);
  if (t.dInput) expectTensor('conv2d', 'dInput', t.dInput, t.x.shape);

  const rows = g.KH * g.KW * g.C_in;
  const rowGroup = Math.min(WORKGROUP_SIZE, Math.ceil(rows / ROW_GRANULE) * ROW_GRANULE);
  const workgroups = [Math.ceil(rows / rowGroup), Math.ceil(g.C_out / CELL)];
  const slices = weightSlices(workgroups[0] * workgroups[1], g.N * g.OH * g.OW);
  const partial = slices === 1 ? t.dWeight : createTensor(device, [slices, rows, g.C_out], { label: 'conv2d dWeight slices' });
  const weight = specialize(device, g.C_out, 'd_out4', t.dOut);
  const dispatches = [
    prepareDispatch(device, shader, 'backward_weight', {
      constants: { WORKGROUP_SIZE: rowGroup, ...weight.constants },
      params: g,
      buffers: { ...ranges({ x: t.x, d_out: t.dOut, partial_d_weight: partial }), ...weight.views },
      scratch: weight.scratch,
      grid: { threads: [rows, workgroups[1], slices] },
      work: productWork(g),
    }),
  ];
  if (slices > 1) {
    dispatches.push(
      prepareDispatch(device, shader, 'sum_slices', {
        constants: { WORKGROUP_SIZE },
        params: g,
        buffers: ranges({ partial_d_weight: partial, d_weight: t.dWeight }),
        grid: { threads: [rows * g.C_out] },
        scratch: [partial.buffer],
      }),
    );
  }
  if (t.dInput) {
    // backward_input reads the kernel transposed, written here each step from w.
    const transposed = createTensor(device, [g.KH, g.KW, g.C_out, g.C_in], { label: 'conv2d transposed kernel' });
    const input = specialize(device, g.C_in, 'w4', transposed);
    dispatches.push(
      prepareDispatch(device, shader, 'transpose_kernel', {
        constants: { WORKGROUP_SIZE },
        params: g,
        buffers: ranges({ w: t.w, w_t: transposed }),
        grid: { threads: [rows * g.C_out] },
        scratch: [transposed.buffer],
      }),
      prepareDispatch(device, shader, 'backward_input', {
        constants: { WORKGROUP_SIZE, ...input.constants },
        params: g,
        buffers: { ...ranges({ d_out: t.dOut, w: transposed, d_input: t.dInput }), ...input.views },
        scratch: input.scratch,
        grid: { threads: [g.N * g.H * g.W, Math.ceil(g.C_in / CELL)] },
        work: productWork(g),
      }),
    );
  }
  return Promise.all(dispatches);
}
