// The shader workbench's engine side, shared by workbench.html and `npm run workbench`:
// the kernels that can be edited, how each builds its inputs from a shape and which float64 reference checks it.
//
// A check runs the op as the engine does (its own dispatches, bind groups and
// constants) twice on the same seeded inputs: once as built, once with the
// edited source swapped in by applyOverride, as compile({ kernels }) does.
import activationSource from '../shaders/activation.wgsl?raw';
import conv2dSource from '../shaders/conv2d.wgsl?raw';
import matmulSource from '../shaders/matmul.wgsl?raw';
import { conv2dBackward, conv2dForward } from './ops/conv2d';
import { matmulBackward, matmulForward } from './ops/matmul';
import { activationBackward, activationForward, type Activation } from './ops/activation';
import { maxPool2dForward } from './ops/maxpool2d';
import { createTensor, readTensor, sizeOf, type Tensor } from './buffers';
import type { Gpu } from './device';
import {
  applyOverride,
  destroyDispatches,
  kernelName,
  runDispatches,
  shaderMessages,
  shaderOverrides,
  type Constants,
  type Dispatch,
  type ShaderMessage,
  type Work,
} from './pipelines';
import { KernelProfiler, stats, timestampRoundingMs, type Stats } from './profile';
import { seededRandom } from './random';
import * as conv2dReference from '../reference/conv2d';
import * as matmulReference from '../reference/matmul';
import * as activationReference from '../reference/activation';

/** A kernel's sizes by letter (`N`, `H`, ...), as the kernel table names them. */
export type Shape = Record<string, number>;

interface TensorSpec {
  shape: number[];
  /** Random inputs are uniform in [low, high); outputs are zeros. */
  random?: [number, number];
}

const uniform = (shape: number[], low = -1, high = 1): TensorSpec => ({ shape, random: [low, high] });
const zeros = (shape: number[]): TensorSpec => ({ shape });

interface KernelSpec {
  /** `conv2d.wgsl:forward`, as Kernel.name. */
  name: string;
  source: string;
  /** What the shape's letters mean. */
  letters: string;
  /** Named shapes; the first (the tutorial's) is the default. */
  presets: { name: string; shape: Shape }[];
  tensors(s: Shape): Record<string, TensorSpec>;
  /** The tensor compared with the reference. */
  checked: string;
  dispatches(device: GPUDevice, t: Record<string, Tensor>, s: Shape): Promise<Dispatch[]>;
  reference(values: Record<string, Float64Array>, s: Shape): Float64Array;
  /** Terms summed into each output value, which float32 rounding grows with. */
  contraction(s: Shape): number;
}

const convCase = (s: Shape): conv2dReference.Conv2dCase => ({
  N: s.N,
  H: s.H,
  W: s.W,
  C_in: s.C_in,
  KH: s.KH,
  KW: s.KW,
  C_out: s.C_out,
  strides: [s.S, s.S],
  padding: s.same ? 'same' : 'valid',
});
const convOptions = (s: Shape) => ({ strides: [s.S, s.S] as [number, number], padding: s.same ? ('same' as const) : ('valid' as const) });

function conv2dSpec(entryPoint: 'forward' | 'backward_input' | 'backward_weight'): KernelSpec {
  // The tutorial's first convolution has no dX to compute, so backward_input starts from its second.
  const first = { N: 128, H: 28, W: 28, C_in: 1, KH: 3, KW: 3, C_out: 32, S: 1, same: 0 };
  const second = { N: 128, H: 13, W: 13, C_in: 32, KH: 3, KW: 3, C_out: 64, S: 1, same: 0 };
  const tutorial = entryPoint === 'backward_input' ? [second, first] : [first, second];
  return {
    name: `conv2d.wgsl:${entryPoint}`,
    source: conv2dSource,
    letters: 'x [N, H, W, C_in] ⊛ w [KH, KW, C_in, C_out], stride S, same=1 for padding "same"',
    presets: [
      { name: `tutorial conv ${tutorial[0] === first ? 1 : 2} (batch 128)`, shape: tutorial[0] },
      { name: `tutorial conv ${tutorial[0] === first ? 2 : 1} (batch 128)`, shape: tutorial[1] },
      { name: 'size 1: one pixel, 1x1 kernel', shape: { N: 1, H: 1, W: 1, C_in: 1, KH: 1, KW: 1, C_out: 1, S: 1, same: 0 } },
      { name: 'odd sizes, stride 2, same', shape: { N: 3, H: 9, W: 11, C_in: 3, KH: 3, KW: 3, C_out: 5, S: 2, same: 1 } },
      { name: 'C_out 70: not a multiple of the 16-channel cell', shape: { N: 7, H: 9, W: 9, C_in: 5, KH: 3, KW: 3, C_out: 70, S: 1, same: 1 } },
    ],
    tensors(s): Record<string, TensorSpec> {
      const [, OH, OW] = conv2dReference.conv2dOutputShape(convCase(s));
      const x = [s.N, s.H, s.W, s.C_in];
      const w = [s.KH, s.KW, s.C_in, s.C_out];
      const y = [s.N, OH, OW, s.C_out];
      if (entryPoint === 'forward') return { x: uniform(x), w: uniform(w), y: zeros(y) };
      const inputs = { x: uniform(x), w: uniform(w), dOut: uniform(y), dWeight: zeros(w) };
      return entryPoint === 'backward_weight' ? inputs : { ...inputs, dInput: zeros(x) };
    },
    checked: { forward: 'y', backward_input: 'dInput', backward_weight: 'dWeight' }[entryPoint],
    async dispatches(device, t, s) {
      if (entryPoint === 'forward') return [await conv2dForward(device, { x: t.x, w: t.w, y: t.y }, convOptions(s))];
      return conv2dBackward(device, { x: t.x, w: t.w, dOut: t.dOut, dWeight: t.dWeight, dInput: t.dInput }, convOptions(s));
    },
    reference(v, s) {
      if (entryPoint === 'forward') return conv2dReference.conv2dForward(v.x, v.w, convCase(s));
      const gradients = conv2dReference.conv2dBackward(v.x, v.w, v.dOut, convCase(s));
      return entryPoint === 'backward_input' ? gradients.dInput : gradients.dWeight;
    },
    contraction(s) {
      const [, OH, OW] = conv2dReference.conv2dOutputShape(convCase(s));
      return entryPoint === 'backward_weight' ? s.N * OH * OW : entryPoint === 'forward' ? s.KH * s.KW * s.C_in : s.KH * s.KW * s.C_out;
    },
  };
}

function matmulSpec(entryPoint: 'forward' | 'backward_input' | 'backward_weight'): KernelSpec {
  // The tutorial's first dense layer needs no dX either.
  const first = { M: 128, K: 784, N: 128 };
  const second = { M: 128, K: 128, N: 10 };
  const tutorial = entryPoint === 'backward_input' ? [second, first] : [first, second];
  return {
    name: `matmul.wgsl:${entryPoint}`,
    source: matmulSource,
    letters: 'x [M, K] · w [K, N]: M rows (the batch), K inputs, N units',
    presets: [
      { name: `tutorial dense ${tutorial[0] === first ? 1 : 2} (batch 128)`, shape: tutorial[0] },
      { name: `tutorial dense ${tutorial[0] === first ? 2 : 1} (batch 128)`, shape: tutorial[1] },
      { name: 'size 1', shape: { M: 1, K: 1, N: 1 } },
      { name: 'odd sizes, not multiples of the 4x4 block', shape: { M: 33, K: 17, N: 65 } },
    ],
    tensors(s): Record<string, TensorSpec> {
      const inputs = { x: uniform([s.M, s.K]), w: uniform([s.K, s.N]) };
      if (entryPoint === 'forward') return { ...inputs, y: zeros([s.M, s.N]) };
      const backward = { ...inputs, dOut: uniform([s.M, s.N]), dWeight: zeros([s.K, s.N]) };
      return entryPoint === 'backward_weight' ? backward : { ...backward, dInput: zeros([s.M, s.K]) };
    },
    checked: { forward: 'y', backward_input: 'dInput', backward_weight: 'dWeight' }[entryPoint],
    async dispatches(device, t) {
      if (entryPoint === 'forward') return [await matmulForward(device, { x: t.x, w: t.w, y: t.y })];
      return matmulBackward(device, { x: t.x, w: t.w, dOut: t.dOut, dWeight: t.dWeight, dInput: t.dInput });
    },
    reference(v, s) {
      if (entryPoint === 'forward') return matmulReference.matmulForward(v.x, v.w, s.M, s.K, s.N);
      const gradients = matmulReference.matmulBackward(v.x, v.w, v.dOut, s.M, s.K, s.N);
      return entryPoint === 'backward_input' ? gradients.dInput : gradients.dWeight;
    },
    contraction: (s) => ({ forward: s.K, backward_input: s.N, backward_weight: s.M })[entryPoint],
  };
}

function activationSpec(kind: Activation, direction: 'forward' | 'backward'): KernelSpec {
  return {
    name: `activation.wgsl:${kind}_${direction}`,
    source: activationSource,
    letters: 'size: elements',
    presets: [
      { name: 'tutorial conv 1 output (batch 128)', shape: { size: 128 * 26 * 26 * 32 } },
      { name: 'size 1', shape: { size: 1 } },
      { name: 'odd size', shape: { size: 4097 } },
    ],
    tensors: ({ size }): Record<string, TensorSpec> =>
      direction === 'forward'
        ? { x: uniform([size], -4, 4), y: zeros([size]) }
        : // y is an output of f: [0, 1) holds outputs of every activation.
          { y: uniform([size], 0, 1), dOut: uniform([size]), dInput: zeros([size]) },
    checked: direction === 'forward' ? 'y' : 'dInput',
    dispatches: async (device, t) =>
      direction === 'forward'
        ? [await activationForward(device, kind, { x: t.x, y: t.y })]
        : [await activationBackward(device, kind, { y: t.y, dOut: t.dOut, dInput: t.dInput })],
    reference: (v) => (direction === 'forward' ? activationReference.activationForward(kind, v.x) : activationReference.activationBackward(kind, v.y, v.dOut)),
    contraction: () => 1,
  };
}

const SPECS: KernelSpec[] = [
  ...(['forward', 'backward_input', 'backward_weight'] as const).map(conv2dSpec),
  ...(['forward', 'backward_input', 'backward_weight'] as const).map(matmulSpec),
  ...(['relu', 'sigmoid', 'tanh'] as const).flatMap((kind) => (['forward', 'backward'] as const).map((direction) => activationSpec(kind, direction))),
];

/** What the workbench offers for one kernel. */
export interface WorkbenchKernel {
  /** `conv2d.wgsl:forward`. */
  name: string;
  /** `conv2d:forward`, as compile({ kernels }) and the CLI take it. */
  shortName: string;
  letters: string;
  presets: { name: string; shape: Shape }[];
}

function spec(name: string): KernelSpec {
  const found = SPECS.find((s) => s.name === kernelName(name));
  if (!found) throw new Error(`workbench: no kernel '${name}' (it has: ${SPECS.map((s) => s.name.replace('.wgsl', '')).join(', ')})`);
  return found;
}

export function workbenchKernels(): WorkbenchKernel[] {
  return SPECS.map((s) => ({ name: s.name, shortName: s.name.replace('.wgsl', ''), letters: s.letters, presets: s.presets }));
}

/** The kernel's built-in WGSL: its whole shader file. */
export function builtInSource(name: string): string {
  return spec(name).source;
}

/** The shape with every letter the kernel needs, from its default and what is given; unknown or bad letters are refused. */
export function fullShape(name: string, given: Shape = {}): Shape {
  const s = spec(name);
  const shape = { ...s.presets[0].shape };
  for (const [letter, value] of Object.entries(given)) {
    if (!(letter in shape)) throw new Error(`${s.name}: the shape has no letter '${letter}' (it has: ${Object.keys(shape).join(', ')})`);
    if (!Number.isInteger(value) || value < 0) throw new Error(`${s.name}: ${letter} must be a non-negative integer, got ${value}`);
    shape[letter] = value;
  }
  return shape;
}

/** The compiler's messages for an edited source (lines and columns from 1). */
export function compileMessages(gpu: Gpu, source: string, file = 'edited.wgsl'): Promise<ShaderMessage[]> {
  return shaderMessages(gpu.device, { file, source });
}

/** The `override` constants the source declares (found by reflection), with the values the built-in dispatch gives them at this shape. */
export async function kernelConstants(gpu: Gpu, name: string, shape: Shape, source = builtInSource(name)): Promise<{ name: string; type: string; value: number | null }[]> {
  const s = spec(name);
  const built = await withTensors(gpu.device, s, fullShape(name, shape), seededRandom(1), async (_t, dispatches) => target(s, dispatches).constants);
  let declared: { name: string; type: string }[];
  try {
    declared = shaderOverrides({ file: 'edited.wgsl', source });
  } catch {
    declared = shaderOverrides({ file: s.name, source: s.source });
  }
  return declared.map((o) => ({ ...o, value: built.result[o.name] ?? null }));
}

function target(s: KernelSpec, dispatches: Dispatch[]): Dispatch {
  const found = dispatches.find((d) => d.kernel.name === s.name);
  if (!found) throw new Error(`workbench: ${s.name} made no dispatch of that kernel`);
  return found;
}

/**
 * Makes the kernel's tensors (random inputs from `random`, zeroed outputs) and
 * its dispatches, runs `use`, and frees them all.
 */
async function withTensors<T>(
  device: GPUDevice,
  s: KernelSpec,
  shape: Shape,
  random: () => number,
  use: (tensors: Record<string, Tensor>, dispatches: Dispatch[]) => Promise<T>,
  values?: Record<string, Float64Array>,
): Promise<{ result: T; values: Record<string, Float64Array> }> {
  const specs = s.tensors(shape);
  const filled: Record<string, Float64Array> = values ?? {};
  const tensors: Record<string, Tensor> = {};
  try {
    for (const [name, t] of Object.entries(specs)) {
      if (t.random && !filled[name]) {
        const [low, high] = t.random;
        filled[name] = Float64Array.from({ length: sizeOf(t.shape) }, () => Math.fround(low + (high - low) * random()));
      }
      tensors[name] = createTensor(device, t.shape, { label: `workbench ${name}`, data: filled[name] });
    }
    const dispatches = await s.dispatches(device, tensors, shape);
    try {
      return { result: await use(tensors, dispatches), values: filled };
    } finally {
      destroyDispatches(dispatches);
    }
  } finally {
    for (const t of Object.values(tensors)) t.buffer.destroy();
  }
}

/** How far a kernel's output is from the reference. */
export interface Comparison {
  /** Largest |got - want|. */
  maxAbs: number;
  /** Largest |got - want| / (|want| + atol): relative, but not blown up where the reference is near zero. */
  maxRel: number;
  /** Values outside the tolerance, of `total`. */
  count: number;
  total: number;
  /** The first few, with their index in the output's shape. */
  mismatches: { index: number; at: number[]; got: number; want: number }[];
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

function compare(got: ArrayLike<number>, want: Float64Array, shape: number[], tol: Tolerance): Comparison {
  const result: Comparison = { maxAbs: 0, maxRel: 0, count: 0, total: want.length, mismatches: [] };
  for (let i = 0; i < want.length; i++) {
    const error = Math.abs(got[i] - want[i]);
    const relative = error / (Math.abs(want[i]) + tol.atol);
    // NaN fails every comparison, so it is caught as a mismatch and counted as infinite error.
    result.maxAbs = Number.isNaN(error) ? Infinity : Math.max(result.maxAbs, error);
    result.maxRel = Number.isNaN(relative) ? Infinity : Math.max(result.maxRel, relative);
    if (!(error <= tol.atol + tol.rtol * Math.abs(want[i]))) {
      result.count++;
      if (result.mismatches.length < 8) {
        const at: number[] = [];
        let rest = i;
        for (let d = shape.length - 1; d >= 0; d--) {
          at.unshift(rest % shape[d]);
          rest = Math.floor(rest / shape[d]);
        }
        result.mismatches.push({ index: i, at, got: got[i], want: want[i] });
      }
    }
  }
  return result;
}

/** An edited kernel: its source, and `override` values set over the built-in dispatch's. */
export interface Edit {
  source: string;
  constants?: Constants;
  /** Names the source in compile errors. */
  file?: string;
}

export type CheckResult =
  | { status: 'compile-error'; file: string; messages: ShaderMessage[] }
  /** It compiles, but its bindings, params or constants do not fit the built-in kernel's (or the GPU refused the pipeline). */
  | { status: 'invalid'; message: string }
  | {
      status: 'match' | 'mismatch';
      kernel: string;
      shape: Shape;
      /** The checked tensor's name and shape. */
      output: { name: string; shape: number[] };
      tolerance: Tolerance;
      builtIn: Comparison;
      edited: Comparison;
      constants: { builtIn: Constants; edited: Constants };
      workgroups: { builtIn: number[]; edited: number[] };
    };

/** float32 against float64: the tests' F32 tolerance, widened as rounding grows with the terms summed. */
function tolerance(s: KernelSpec, shape: Shape): Tolerance {
  return { atol: 1e-5 * Math.sqrt(Math.max(1, s.contraction(shape))), rtol: 1e-4 };
}

/**
 * Runs the built-in kernel and the edited one on the same seeded inputs at
 * `shape` and compares both with the float64 reference.
 */
export async function checkKernel(gpu: Gpu, name: string, edit: Edit, options: { shape?: Shape; seed?: number } = {}): Promise<CheckResult> {
  const s = spec(name);
  const shape = fullShape(name, options.shape);
  const file = edit.file ?? 'edited.wgsl';
  const messages = await compileMessages(gpu, edit.source, file);
  if (messages.some((m) => m.type === 'error')) return { status: 'compile-error', file, messages: messages.filter((m) => m.type === 'error') };
  const device = gpu.device;
  const outputShape = s.tensors(shape)[s.checked].shape;
  const run = (values: Record<string, Float64Array> | undefined, override?: Edit) =>
    withTensors(
      device,
      s,
      shape,
      seededRandom(options.seed ?? 1),
      async (tensors, dispatches) => {
        const dispatch = target(s, dispatches);
        if (override) await applyOverride(device, dispatch, { source: override.source, constants: override.constants, file });
        await runDispatches(device, dispatches);
        const output = (await readTensor(device, tensors[s.checked])) as Float32Array;
        return { output, constants: { ...dispatch.constants }, workgroups: [...dispatch.workgroups] };
      },
      values,
    );
  const builtIn = await run(undefined);
  let edited: Awaited<ReturnType<typeof run>>;
  try {
    edited = await run(builtIn.values, edit);
  } catch (error) {
    return { status: 'invalid', message: (error as Error).message };
  }
  const want = s.reference(builtIn.values, shape);
  const tol = tolerance(s, shape);
  const builtInComparison = compare(builtIn.result.output, want, outputShape, tol);
  const editedComparison = compare(edited.result.output, want, outputShape, tol);
  return {
    status: editedComparison.count === 0 ? 'match' : 'mismatch',
    kernel: s.name,
    shape,
    output: { name: s.checked, shape: outputShape },
    tolerance: tol,
    builtIn: builtInComparison,
    edited: editedComparison,
    constants: { builtIn: builtIn.result.constants, edited: edited.result.constants },
    workgroups: { builtIn: builtIn.result.workgroups, edited: edited.result.workgroups },
  };
}

/** GPU time of one kernel over repeated trials, and its rates from the op's counted work. */
export interface Timing {
  ms: Stats;
  work: Work | null;
  /** From the median. */
  gflops: number | null;
  gbPerS: number | null;
}

async function timeDispatches(device: GPUDevice, dispatch: Dispatch, dispatches: Dispatch[], trials: number): Promise<{ timing: Timing; roundingMs: number | null }> {
  const profiler = new KernelProfiler(device, dispatches);
  try {
    const index = profiler.runs.findIndex((r) => r.dispatches.includes(dispatch));
    await profiler.step();
    const samples: number[] = [];
    for (let i = 0; i < trials; i++) samples.push((await profiler.step())[index]);
    const ms = stats(samples);
    const work = dispatch.work;
    const seconds = ms.median / 1e3;
    return {
      timing: { ms, work, gflops: work && seconds > 0 ? work.flops / seconds / 1e9 : null, gbPerS: work && seconds > 0 ? work.bytes / seconds / 1e9 : null },
      roundingMs: profiler.roundingMs,
    };
  } finally {
    profiler.destroy();
  }
}

/**
 * Times the built-in kernel and, given an edit, the edited one, each in its op's
 * own dispatches (timestamps between kernels, one warm-up step), `trials` times.
 * `roundingMs` is what the timestamps were rounded to, or null when they were not.
 */
export async function timeKernel(
  gpu: Gpu,
  name: string,
  edit: Edit | null,
  options: { shape?: Shape; trials?: number } = {},
): Promise<{ builtIn: Timing; edited: Timing | null; roundingMs: number | null }> {
  if (!gpu.timestamps) throw new Error("timeKernel(): this device has no 'timestamp-query' feature, so kernels cannot be timed on the GPU");
  const s = spec(name);
  const shape = fullShape(name, options.shape);
  const trials = options.trials ?? 20;
  const device = gpu.device;
  const builtIn = await withTensors(device, s, shape, seededRandom(1), (_t, dispatches) => timeDispatches(device, target(s, dispatches), dispatches, trials));
  let edited: typeof builtIn | null = null;
  if (edit) {
    edited = await withTensors(
      device,
      s,
      shape,
      seededRandom(1),
      async (_t, dispatches) => {
        const dispatch = await applyOverride(device, target(s, dispatches), { source: edit.source, constants: edit.constants, file: edit.file ?? 'edited.wgsl' });
        return timeDispatches(device, dispatch, dispatches, trials);
      },
      builtIn.values,
    );
  }
  const roundingMs = builtIn.result.roundingMs !== null && (edited?.result.roundingMs ?? builtIn.result.roundingMs) !== null ? builtIn.result.roundingMs : null;
  return { builtIn: builtIn.result.timing, edited: edited?.result.timing ?? null, roundingMs };
}

/** What the device rounds timestamps to, in ms, or null (see profile.ts); null too when it has no timestamps. */
export async function timestampRounding(gpu: Gpu): Promise<number | null> {
  return gpu.timestamps ? timestampRoundingMs(gpu.device) : null;
}

/**
 * The tutorial's convolution demo: one 28x28 image convolved with a 3x3 kernel
 * ('valid', by conv2d.wgsl) and max-pooled 2x2 (by maxpool2d.wgsl): a 26x26
 * feature map and a 13x13 pooled map.
 */
export async function convolveDigit(gpu: Gpu, image: ArrayLike<number>, kernel: ArrayLike<number>): Promise<{ feature: Float32Array; pooled: Float32Array }> {
  if (image.length !== 28 * 28) throw new Error(`convolveDigit(): the image has ${image.length} values, not 28x28`);
  if (kernel.length !== 9) throw new Error(`convolveDigit(): the kernel has ${kernel.length} values, not 3x3`);
  const device = gpu.device;
  const tensors = [
    createTensor(device, [1, 28, 28, 1], { label: 'demo image', data: image }),
    createTensor(device, [3, 3, 1, 1], { label: 'demo kernel', data: kernel }),
    createTensor(device, [1, 26, 26, 1], { label: 'demo feature map' }),
    createTensor(device, [1, 13, 13, 1], { label: 'demo pooled map' }),
    createTensor(device, [1, 13, 13, 1], { label: 'demo argmax', dtype: 'u32' }),
  ];
  const [x, w, y, pooled, argmax] = tensors;
  const dispatches: Dispatch[] = [];
  try {
    dispatches.push(await conv2dForward(device, { x, w, y }));
    dispatches.push(await maxPool2dForward(device, { x: y, y: pooled, argmax }, { poolSize: [2, 2] }));
    await runDispatches(device, dispatches);
    return { feature: (await readTensor(device, y)) as Float32Array, pooled: (await readTensor(device, pooled)) as Float32Array };
  } finally {
    destroyDispatches(dispatches);
    for (const t of tensors) t.buffer.destroy();
  }
}

/** Features a kernel might use, as the browser's adapter offers them (null outside a browser), and the device's compute limits. */
export async function gpuCapabilities(gpu: Gpu): Promise<{ features: Record<string, boolean> | null; limits: Record<string, number> }> {
  const names = ['shader-f16', 'subgroups', 'timestamp-query'];
  // The device has only the features the engine asked for; the adapter says what else there is.
  const adapter = typeof navigator !== 'undefined' ? await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' }) : null;
  const features = adapter ? Object.fromEntries(names.map((n) => [n, adapter.features.has(n)])) : null;
  const limitNames = ['maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupStorageSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupsPerDimension'] as const;
  return { features, limits: Object.fromEntries(limitNames.map((n) => [n, gpu.device.limits[n]])) };
}
