// 2D convolution y = x ⊛ w of NHWC images x [N, H, W, C_in] with a kernel
// w [KH, KW, C_in, C_out] (Keras' layouts, so Keras weights load as they are),
// giving y [N, OH, OW, C_out], with Keras' strides and 'valid'/'same' padding,
// and its gradients. With a bias (kept after the kernel in its buffer) and an
// activation, the forward is a Conv2D layer in one dispatch, and backward_weight
// gives the bias gradient as one more row of dW.
import source from '../../shaders/conv2d.wgsl?raw';
import subgroupSource from '../../shaders/conv2dSubgroups.wgsl?raw';
import { bufferRange, createTensor, expectTensor, formatShape, sizeOf, vec4View, withBiasRow, type Tensor } from '../buffers';
import {
  inPrecision,
  offersF16,
  prepareDispatch,
  prepareTunable,
  shapeKey,
  shaderConstant,
  withConsts,
  withF16Twins,
  WORKGROUP_SIZE,
  type Dispatch,
  type DispatchSpec,
  type Precision,
  type Shader,
  type TunableSpec,
  type Work,
} from '../pipelines';
import { ACTIVATION_CODES, withActivations, type Activation } from './activation';

const shader = withActivations('conv2d.wgsl', source);
/**
 * The products sharing each step's shared row through subgroups: only for a
 * device with the 'subgroups' feature. It uses conv2d.wgsl's declarations,
 * compiled after it as its library.
 */
const subgroupShader: Shader = { file: 'conv2dSubgroups.wgsl', source: subgroupSource, library: `${shader.source}\n${shader.library}` };

/**
 * Channels each invocation computes: a cell of four vec4s, fixed by
 * conv2d.wgsl. Each workgroup computes one cell's channels of
 * WORKGROUP_SIZE pixels (or kernel rows).
 */
const CELL = shaderConstant(shader, 'CELL');
/**
 * backward_weight runs an invocation per row of dW (KH*KW*C_in: 9 in a first
 * layer), and the by-place variants one per ROWS images, in workgroups of as
 * few whole multiples of this as hold them: the SIMD width of a CPU-emulated GPU.
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
  /** 'mixed' offers the three products f16 variants (see `tunable`); 'float32' by default. */
  precision?: Precision;
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

/** conv2d.wgsl's PADDED: whether some tap of an output pixel falls outside the input. */
function padded(g: Geometry): number {
  return Number(g.pad_top > 0 || g.pad_left > 0 || (g.OH - 1) * g.SY + g.KH > g.H || (g.OW - 1) * g.SX + g.KW > g.W);
}

/** Each of the three products does the same multiply-adds, reading two of x, w, y (or their gradients) and writing the third. */
function productWork(g: Geometry): Work {
  const { N, H, W, C_in, KH, KW, OH, OW, C_out } = g;
  return { flops: 2 * N * OH * OW * KH * KW * C_in * C_out, bytes: 4 * (N * H * W * C_in + KH * KW * C_in * C_out + N * OH * OW * C_out) };
}

/** A variant of the three products: rows per invocation, and how the rows every invocation shares are read. */
interface Variant {
  rows: number;
  /** Staged in workgroup memory (STAGED), for GPUs. */
  staged?: boolean;
  /** Read as floats where they could be read as vec4s (VECTORIZED off). */
  scalar?: boolean;
  /** Multiplied in f16 (conv2d.wgsl's `real`), for mixed precision. */
  f16?: boolean;
  /** Passed round each subgroup four steps at a time (conv2dSubgroups.wgsl). */
  shuffled?: boolean;
  /** 8 lanes loading a round's shared rows rather than 4: backward_weight 8 steps a round (conv2dSubgroups.wgsl's STEPS), the others half a row a lane (LANES_A_ROW). */
  eight?: boolean;
  /** Shuffled, a workgroup per input pixel's place, its rows images (backward_input only: `_by_place`). */
  byPlace?: boolean;
  /** An invocation per slice of the contraction (backward_weight only: `_by_slice`). */
  bySlice?: boolean;
  /** Four channels an invocation, in accumulators named one by one (conv2d.wgsl's `_quads` entry points). */
  quads?: boolean;
  /** The quads reading the contraction's channels four at a time, as vec4s (`_quads4`). */
  vec4?: boolean;
}

/**
 * The variants the autotuner tries, the default first: 4 rows, which runs
 * where a shape was not timed (autotune 'off', or a budget spent), about
 * twice as fast as 1 on both software adapters at the CNN's convolutions and
 * still many invocations for a GPU; then rows per invocation
 * (conv2d.wgsl's ROWS), whether the shared rows are staged in workgroup
 * memory (STAGED, for GPUs), and whether they are read as floats where they
 * could be read as vec4s. Not every combination, as every variant is compiled
 * and timed when a model is tuned: staged only with 1 row, the most
 * invocations to hide memory behind, and 4, where each row read from workgroup
 * memory does 4 cells' multiply-adds (2 and 8 lie between or past those for
 * the registers they take); floats at 1 row only, since the choice is about
 * memory transactions, which the rows an invocation computes barely change.
 * Then, where the device has subgroups and the contraction's channels come in
 * fours, the shared rows passed round subgroups (conv2dSubgroups.wgsl) at 2
 * and 4 rows (backward_weight: 4 and 8, its rows being read four at a time);
 * and where every subgroup has 8 lanes, the last of each product's again with
 * 8 lanes loading the shared rows a round (lanes=8): backward_weight's 8 rows
 * 8 steps a round (on lavapipe 1.24x faster than 4 at the CNN's second layer),
 * forward's and backward_input's 4 steps a round, half a row a lane
 * (conv2dSubgroups.wgsl's LANES_A_ROW; 8 steps a round was 1.2x slower); and
 * backward_input's 4 rows also by place (a workgroup per input pixel's place,
 * its rows images, which skips the taps that reach no output pixel, 40% of
 * all at the CNN's second layer; 2 rows by place were 1.3x slower than 4).
 * Where the input channels do not come in fours (a first layer's 1 or 3),
 * forward has no shuffled variants but 4 and 8 rows by place, reading x a
 * float at a time along the contraction flattened (kh, kw, c). Forward by
 * place where the channels come in fours measured no faster than shuffled at
 * the CNN's second layer, and is not offered. And where dW has fewer rows than
 * a workgroup has lanes (a first layer's), backward_weight's 4 and 8 rows by
 * slice: an invocation per slice of the contraction, where laying the rows
 * along the lanes leaves most idle. On lavapipe, in paired rounds (`npm run
 * bench:variants`, the median of the per-round ratios): backward_input's 4
 * rows by place 1.35x as fast as 4 rows shuffled at the CNN's second layer;
 * at its first, forward's 4 rows by place 1.28x as fast as 8 rows, and
 * backward_weight's 4 rows by slice 1.67x as fast as 2 rows (each the best
 * other); with 8 lanes loading w, forward 1.28x as fast as 4 rows shuffled at
 * the second layer, backward_input by place 1.34x as fast as without.
 * And quads: a 4 x 4 block an invocation in accumulators named one by one
 * (conv2d.wgsl's `_quads` entry points), which SwiftShader keeps in registers
 * where it keeps the cells' arrays in memory: there 3.1x and 2.6x faster than
 * the best other variant at the CNN's second layer's forward and input
 * gradient; on lavapipe 1.2-2.8x slower. Where the contraction's channels
 * come in fours, also quads reading four of them at a time as vec4s (a
 * quarter of the gathers): on SwiftShader the faster quads at the CNN's second
 * layer's two gradients (898 against 1213 ms, 1633 against 2166), the slower
 * at its forward (1183 against 1079).
 */
const VARIANTS: readonly Variant[] = [
  { rows: 4 },
  { rows: 1 },
  { rows: 2 },
  { rows: 8 },
  { rows: 1, staged: true },
  { rows: 4, staged: true },
  { rows: 1, scalar: true },
  { rows: 4, quads: true },
];

const SHUFFLED_VARIANTS: Record<string, readonly Variant[]> = {
  forward: [{ rows: 2, shuffled: true }, { rows: 4, shuffled: true }],
  backward_input: [{ rows: 2, shuffled: true }, { rows: 4, shuffled: true }, { rows: 4, shuffled: true, byPlace: true }],
  backward_weight: [{ rows: 4, shuffled: true }, { rows: 8, shuffled: true }],
};

const BY_SLICE: readonly Variant[] = [{ rows: 4, bySlice: true }, { rows: 8, bySlice: true }];

const FORWARD_BY_PLACE: readonly Variant[] = [{ rows: 8, shuffled: true, byPlace: true }, { rows: 4, shuffled: true, byPlace: true }];

/** `rows=4`, `rows=4 staged`, `rows=1 scalar`, `rows=4 shuffled`, `rows=4 shuffled lanes=8`. */
const variantName = ({ rows, staged, scalar, shuffled, eight, byPlace, bySlice, quads, vec4 }: Variant) =>
  `rows=${rows}${staged ? ' staged' : ''}${scalar ? ' scalar' : ''}${shuffled ? ' shuffled' : ''}${eight ? ' lanes=8' : ''}${byPlace ? ' by place' : ''}${bySlice ? ' by slice' : ''}${quads ? ' quads' : ''}${vec4 ? ' vec4' : ''}`;

/** Channels an invocation of the variant computes: a cell's, or a quad's. */
const channels = ({ quads }: Variant) => (quads ? 4 : CELL);

/** A variant's dispatch as prepareTunable makes it: its shader, spec, and entry point where it is not the dispatch's. */
type Made = ReturnType<TunableSpec['make']>;

/**
 * The variants of one of the three products that apply, by name: each of
 * VARIANTS (floats only where vec4s can be read), quads reading vec4s where
 * the contraction's channels (C_out for backward_input, C_in otherwise) are a
 * multiple of 4, backward_weight by slice where dW has few rows, and the
 * shuffled ones (see shuffledVariants).
 */
function offered(device: GPUDevice, entryPoint: string, g: Geometry, vectorized: boolean): Map<string, Variant> {
  const fours = (entryPoint === 'backward_input' ? g.C_out : g.C_in) % 4 === 0 ? [{ rows: 4, quads: true, vec4: true }] : [];
  // By slice where dW has fewer rows than a workgroup has lanes: at the CNN's second layer's 289 they were 2.3x slower.
  const bySlice = entryPoint === 'backward_weight' && g.KH * g.KW * g.C_in + 1 < WORKGROUP_SIZE ? BY_SLICE : [];
  return new Map([...VARIANTS.filter((v) => !v.scalar || vectorized), ...fours, ...bySlice, ...shuffledVariants(device, entryPoint, g)].map((v) => [variantName(v), v]));
}

/**
 * Where the device has subgroups: SHUFFLED_VARIANTS of the product where the
 * contraction's channels are a multiple of 4 (by place where each place can
 * have a workgroup layer), else forward's by place; the last also with 8 lanes
 * loading a round's rows where every subgroup has 8.
 */
function shuffledVariants(device: GPUDevice, entryPoint: string, g: Geometry): Variant[] {
  const channels = entryPoint === 'backward_input' ? g.C_out : g.C_in;
  // By place where there are places to lay out (a dense layer's image has one) and each can have a workgroup layer.
  const byPlace = 1 < g.H * g.W && g.H * g.W <= device.limits.maxComputeWorkgroupsPerDimension;
  const shuffled = (device.features.has('subgroups') && channels % 4 === 0 ? SHUFFLED_VARIANTS[entryPoint] : []).filter((v) => byPlace || !v.byPlace);
  // forward by place, which reads x a float at a time, for the channels that do not come in fours.
  if (entryPoint === 'forward' && device.features.has('subgroups') && channels % 4 !== 0 && byPlace) shuffled.push(...FORWARD_BY_PLACE);
  const eight = shuffled.length > 0 && (device.adapterInfo?.subgroupMinSize ?? 0) >= 8 ? [{ ...shuffled.at(-1)!, eight: true }] : [];
  return [...shuffled, ...eight];
}

/**
 * The workgroup size and grid of forward or backward_input, whose rows are
 * `N` images of `places` pixels, with `columns` channels to compute: an
 * invocation per `rows` pixels; by place, per `rows` images at one place (a
 * workgroup layer each), in as few whole SIMD widths of a CPU-emulated GPU
 * (ROW_GRANULE) as hold them, so that a batch of 128 in fours fills 32 lanes, not 64.
 */
function pixelGrid(variant: Variant, N: number, places: number, columns: number): { WORKGROUP_SIZE: number; threads: number[] } {
  if (!variant.byPlace) return { WORKGROUP_SIZE, threads: [Math.ceil((N * places) / variant.rows), Math.ceil(columns / channels(variant))] };
  const invocations = Math.ceil(N / variant.rows);
  return { WORKGROUP_SIZE: Math.min(WORKGROUP_SIZE, Math.ceil(invocations / ROW_GRANULE) * ROW_GRANULE), threads: [invocations, Math.ceil(columns / CELL), places] };
}

/** The dispatch of `variant` of the product at `entryPoint`, as `spec(variant)` describes it. */
function made(entryPoint: string, variant: Variant, spec: (variant: Variant) => DispatchSpec): Made {
  const { rows, staged = false, scalar = false, shuffled = false, eight = false, f16 = false } = variant;
  const base = spec(variant);
  const constants = { ...base.constants, STAGED: Number(staged), ...(scalar && { VECTORIZED: 0 }) };
  const dispatch = { shader: inPrecision(withConsts(shuffled ? subgroupShader : shader, { ROWS: rows, ...(shuffled && { STEPS: eight ? 8 : 4, LANES_A_ROW: eight && entryPoint !== 'backward_weight' ? 2 : 1 }) }), f16 ? 'f16' : 'f32'), spec: { ...base, constants } };
  if (variant.quads) return { ...dispatch, entryPoint: `${entryPoint}_quads${variant.vec4 ? '4' : ''}` };
  if (variant.byPlace) return { ...dispatch, entryPoint: `${entryPoint}_by_place` };
  if (variant.bySlice) return { ...dispatch, entryPoint: `${entryPoint}_by_slice` };
  return shuffled ? { ...dispatch, entryPoint: `${entryPoint}_shuffled` } : dispatch;
}

/**
 * A dispatch of the three products, with each variant that applies (see
 * `offered`), and in mixed precision on a device with shader-f16 an f16 twin
 * of each before them (withF16Twins): `spec(variant)` describes it; `shared`
 * are the scratch buffers every variant binds.
 */
function tunable(
  device: GPUDevice,
  entryPoint: string,
  { g, precision }: { g: Geometry; precision?: Precision },
  spec: (variant: Variant) => DispatchSpec,
  shared: GPUBuffer[],
): Promise<Dispatch> {
  const { VECTORIZED, BIAS } = spec({ rows: 1 }).constants ?? {};
  const f16 = offersF16(device, precision);
  // Mixed precision's choices, among f16 and f32 variants, are kept apart from float32's.
  const shape = `${shapeKey(g)}${BIAS ? ' bias' : ''}${f16 ? ' mixed' : ''}`;
  const byName = withF16Twins(offered(device, entryPoint, g, VECTORIZED === 1), f16, (v) => ({ ...v, f16: true }));
  return prepareTunable(device, entryPoint, { shape, variants: [...byName.keys()], make: (name) => made(entryPoint, byName.get(name)!, spec), shared });
}

/**
 * forward's spec for each variant: y = f(x ⊛ w + bias), w holding the bias
 * row when `bias`; and the scratch buffer its vec4 view of w may need.
 */
function forwardSpec(device: GPUDevice, g: Geometry, t: { x: Tensor; w: Tensor; y: Tensor }, { bias, activation }: { bias: boolean; activation: Activation | 'linear' }) {
  const { constants, views, scratch } = specialize(device, g.C_out, 'w4', t.w);
  const spec = (variant: Variant): DispatchSpec => {
    const { WORKGROUP_SIZE, threads } = pixelGrid(variant, g.N, g.OH * g.OW, g.C_out);
    return {
      constants: { WORKGROUP_SIZE, ...constants, BIAS: Number(bias), ACTIVATION: ACTIVATION_CODES[activation], PADDED: padded(g) },
      params: g,
      // The shuffled variants read x as vec4s (C_in is then a multiple of 4), but by place.
      buffers: { ...ranges({ [(variant.shuffled && !variant.byPlace) || variant.vec4 ? 'x4' : 'x']: t.x, w: t.w, y: t.y }), ...views },
      // Threads, not workgroups, so that a kernel override with another WORKGROUP_SIZE is sized right.
      grid: { threads },
      work: productWork(g),
    };
  };
  return { spec, scratch };
}

/**
 * backward_weight's spec for each variant: dW (with the bias' row when
 * `bias`) summed into `partial` in `slices` slices of the contraction (dW
 * itself when one); and the scratch buffer its vec4 view of dY may need.
 */
function weightSpec(device: GPUDevice, g: Geometry, t: { x: Tensor; dOut: Tensor; partial: Tensor }, { bias, slices }: { bias: boolean; slices: number }) {
  const rows = g.KH * g.KW * g.C_in + Number(bias);
  const { constants, views, scratch } = specialize(device, g.C_out, 'd_out4', t.dOut);
  const spec = (variant: Variant): DispatchSpec => {
    const threads = Math.ceil(rows / variant.rows);
    const [x, z] = variant.bySlice ? [slices, threads] : [threads, slices];
    return {
      constants: { WORKGROUP_SIZE: Math.min(WORKGROUP_SIZE, Math.ceil(x / ROW_GRANULE) * ROW_GRANULE), ...constants, BIAS: Number(bias), PADDED: padded(g) },
      params: g,
      buffers: { ...ranges({ [variant.shuffled || variant.vec4 ? 'x4' : 'x']: t.x, d_out: t.dOut, partial_d_weight: t.partial }), ...views },
      grid: { threads: [x, Math.ceil(g.C_out / channels(variant)), z] },
      work: productWork(g),
    };
  };
  return { spec, scratch };
}

/**
 * A dense layer's forward and weight gradient, Y [M, N] = f(X [M, K] · W [K, N]
 * + bias) and dW = Xᵀ · dY, as conv2d's shuffled variants compute them: a 1x1
 * convolution of M images of one pixel, K channels in and N out. ops/matmul.ts
 * offers them beside its own variants, where the device has subgroups and K is
 * a multiple of 4: on lavapipe they are up to twice as fast as matmul.wgsl's at
 * the dense layers' shapes. Each adds the same products in the same order as
 * matmul.wgsl (from the bias or zero, along the contraction), so they give the
 * same bits; so dW is summed as one slice, whatever its length. By name, each
 * made in f32 or (`f16`) f16.
 */
export function denseVariants(
  device: GPUDevice,
  entryPoint: 'forward' | 'backward_weight',
  t: { x: Tensor; w: Tensor; y: Tensor } | { x: Tensor; dOut: Tensor; dWeight: Tensor },
  { bias, activation = 'linear' }: { bias: boolean; activation?: Activation | 'linear' },
): { variants: Map<string, (f16: boolean) => Made>; scratch: GPUBuffer[] } {
  const [M, K] = t.x.shape;
  const N = 'w' in t ? t.w.shape[1] : t.dOut.shape[1];
  const g: Geometry = { N: M, H: 1, W: 1, C_in: K, KH: 1, KW: 1, OH: 1, OW: 1, C_out: N, SY: 1, SX: 1, pad_top: 0, pad_left: 0 };
  const image = (tensor: Tensor) => ({ ...tensor, shape: [tensor.shape[0], 1, 1, tensor.shape[1]] });
  const { spec, scratch } =
    'w' in t
      ? forwardSpec(device, g, { x: image(t.x), w: t.w, y: t.y }, { bias, activation })
      : weightSpec(device, g, { x: image(t.x), dOut: t.dOut, partial: t.dWeight }, { bias, slices: 1 });
  const variants = new Map(shuffledVariants(device, entryPoint, g).map((v) => [`conv2d ${variantName(v)}`, (f16: boolean) => made(entryPoint, { ...v, f16 }, spec)]));
  return { variants, scratch };
}

function ranges(buffers: Record<string, Tensor>) {
  return Object.fromEntries(Object.entries(buffers).map(([name, t]) => [name, bufferRange(t)]));
}

/** y = f(x ⊛ w + bias): the bias (when given) must follow w in its buffer; the activation defaults to linear. */
export async function conv2dForward(
  device: GPUDevice,
  t: { x: Tensor; w: Tensor; bias?: Tensor; y: Tensor },
  options: Conv2dOptions = {},
  activation: Activation | 'linear' = 'linear',
): Promise<Dispatch> {
  const g = checkedGeometry(t.x, t.w, options);
  expectTensor('conv2d', 'y', t.y, [g.N, g.OH, g.OW, g.C_out]);
  const w = withBiasRow('conv2d', ['w', 'bias'], t.w, t.bias);
  const { spec, scratch } = forwardSpec(device, g, { x: t.x, w, y: t.y }, { bias: t.bias !== undefined, activation });
  return tunable(device, 'forward', { g, precision: options.precision }, spec, scratch);
}

/** How many slices backward_weight splits its contraction of `steps` into, given its other workgroups. */
function weightSlices(workgroups: number, steps: number): number {
  return Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / workgroups), Math.floor(steps / MIN_SLICE)));
}

/**
 * dW, dBias (when given; it must follow dWeight in its buffer) and, when
 * dInput is given, dX (a model's first layer needs no dX). When dW's
 * contraction is long, it is summed in slices into a buffer created here,
 * once, and a second dispatch adds the slices up.
 */
export async function conv2dBackward(
  device: GPUDevice,
  t: { x: Tensor; w: Tensor; dOut: Tensor; dInput?: Tensor; dWeight: Tensor; dBias?: Tensor },
  options: Conv2dOptions = {},
): Promise<Dispatch[]> {
  const g = checkedGeometry(t.x, t.w, options);
  expectTensor('conv2d', 'dOut', t.dOut, [g.N, g.OH, g.OW, g.C_out]);
  expectTensor('conv2d', 'dWeight', t.dWeight, t.w.shape);
  if (t.dInput) expectTensor('conv2d', 'dInput', t.dInput, t.x.shape);
  const dWeight = withBiasRow('conv2d', ['dWeight', 'dBias'], t.dWeight, t.dBias);
  const BIAS = Number(t.dBias !== undefined);

  // Rows of dW, with the bias' last.
  const rows = dWeight.shape[0];
  const rowGroup = Math.min(WORKGROUP_SIZE, Math.ceil(rows / ROW_GRANULE) * ROW_GRANULE);
  const workgroups = [Math.ceil(rows / rowGroup), Math.ceil(g.C_out / CELL)];
  const slices = weightSlices(workgroups[0] * workgroups[1], g.N * g.OH * g.OW);
  const partial = slices === 1 ? dWeight : createTensor(device, [slices, rows, g.C_out], { label: 'conv2d dWeight slices' });
  const weight = weightSpec(device, g, { x: t.x, dOut: t.dOut, partial }, { bias: BIAS === 1, slices });
  const dispatches = [tunable(device, 'backward_weight', { g, precision: options.precision }, weight.spec, weight.scratch)];
  if (slices > 1) {
    dispatches.push(
      prepareDispatch(device, shader, 'sum_slices', {
        constants: { WORKGROUP_SIZE, BIAS },
        params: g,
        buffers: ranges({ partial_d_weight: partial, d_weight: dWeight }),
        grid: { threads: [rows * g.C_out] },
        scratch: [partial.buffer],
      }),
    );
  }
  const dInput = t.dInput;
  if (dInput) {
    // backward_input reads the kernel transposed, written here each step from w.
    const transposed = createTensor(device, [g.KH, g.KW, g.C_out, g.C_in], { label: 'conv2d transposed kernel' });
    const input = specialize(device, g.C_in, 'w4', transposed);
    dispatches.push(
      prepareDispatch(device, shader, 'transpose_kernel', {
        constants: { WORKGROUP_SIZE },
        params: g,
        buffers: ranges({ w: t.w, w_t: transposed }),
        grid: { threads: [sizeOf(t.w.shape)] },
        scratch: [transposed.buffer],
      }),
      tunable(
        device,
        'backward_input',
        { g, precision: options.precision },
        (variant) => {
          const { WORKGROUP_SIZE, threads } = pixelGrid(variant, g.N, g.H * g.W, g.C_in);
          return {
            constants: { WORKGROUP_SIZE, ...input.constants },
            params: g,
            // The shuffled variants read dY as vec4s (C_out is then a multiple of 4).
            buffers: { ...ranges({ [variant.shuffled || variant.vec4 ? 'd_out4' : 'd_out']: t.dOut, w: transposed, d_input: dInput }), ...input.views },
            grid: { threads },
            work: productWork(g),
          };
        },
        input.scratch,
      ),
    );
  }
  return Promise.all(dispatches);
}
