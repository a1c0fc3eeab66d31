// What the workbench knows of one kernel (KernelSpec): how it builds its
// tensors from a shape, the op's dispatches that run it, and the float64
// reference of what it writes; and withTensors, which makes those tensors and
// dispatches for a check or a timing (once the shape is known to fit) and frees them after.
import { bytes, checkBufferSize, createTensor, sizeOf, type Tensor } from '../engine/buffers';
import { destroyDispatches, type Dispatch } from '../engine/pipelines';
import { seededRandom } from '../engine/random';

/** A kernel's sizes by letter (`N`, `H`, ...), as the kernel table names them. */
export type Shape = Record<string, number>;

export interface TensorSpec {
  shape: number[];
  dtype?: 'f32' | 'u32';
  /** Random inputs are uniform in [low, high) (whole numbers for u32); outputs are zeros. */
  random?: [number, number];
  /** An input that must agree with others (argmax from x, a step count): computed from those listed before it. */
  derived?: (values: Record<string, Float64Array>) => ArrayLike<number>;
}

export const uniform = (shape: number[], low = -1, high = 1): TensorSpec => ({ shape, random: [low, high] });
export const zeros = (shape: number[], dtype: 'f32' | 'u32' = 'f32'): TensorSpec => ({ shape, dtype });
export const derived = (shape: number[], from: TensorSpec['derived'], dtype: 'f32' | 'u32' = 'f32'): TensorSpec => ({ shape, dtype, derived: from });
/** Class labels in 0..C-1. */
export const labels = (N: number, C: number): TensorSpec => ({ shape: [N], dtype: 'u32', random: [0, C] });

export interface KernelSpec {
  /** `conv2d.wgsl:forward`, as Kernel.name. */
  name: string;
  source: string;
  /** Functions appended to the source when compiled (Shader.library): activate.wgsl for the products and activation gradients. */
  library?: string;
  /** What the shape's letters mean. */
  letters: string;
  /** Named shapes; the first (the tutorial's) is the default. */
  presets: { name: string; shape: Shape }[];
  tensors(s: Shape): Record<string, TensorSpec>;
  /** The tensors compared with the reference, as one vector in this order (most kernels write one). */
  checked: string | string[];
  dispatches(device: GPUDevice, t: Record<string, Tensor>, s: Shape): Promise<Dispatch[]>;
  reference(values: Record<string, Float64Array>, s: Shape): Float64Array;
  /** Terms summed into each output value, which float32 rounding grows with. */
  contraction(s: Shape): number;
}

/** Arrays one after another as one vector, without an array of numbers in between (which takes 2-3 times the memory). */
export function concat(parts: ArrayLike<number>[]): Float64Array {
  const whole = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    whole.set(p, at);
    at += p.length;
  }
  return whole;
}

/** `N=2,H=9,...`, as the CLI takes a shape. */
export const shapeText = (shape: Shape) => Object.entries(shape).map(([l, v]) => `${l}=${v}`).join(',');

/** The dispatch of the spec's kernel among its op's. */
export function target(s: KernelSpec, dispatches: Dispatch[]): Dispatch {
  const found = dispatches.find((d) => d.kernel.name === s.name);
  if (!found) throw new Error(`workbench: ${s.name} made no dispatch of that kernel`);
  return found;
}

/** The most memory the CPU side of a run may take (its float64 inputs, read-backs and reference): 1 GiB. */
export const CPU_MEMORY_CEILING = 2 ** 30;

/**
 * What the CPU side of a check takes at `shape`, from the spec alone: 8 bytes an
 * element of every tensor (the inputs drawn in float64; for an output, the
 * reference's arrays of its size) and 32 more an element checked (each run's
 * read-back, and the reference's copy and result, in float64). Measured peaks
 * were 0.7 to 1.1 times this, with the tensors on a CPU-emulated GPU beside.
 */
export function cpuBytes(spec: KernelSpec, shape: Shape): number {
  const tensors = spec.tensors(shape);
  const checked = typeof spec.checked === 'string' ? [spec.checked] : spec.checked;
  const elements = (names: string[]) => names.reduce((n, name) => n + sizeOf(tensors[name].shape), 0);
  return 8 * elements(Object.keys(tensors)) + 32 * elements(checked);
}

/**
 * Throws, naming the kernel, the shape, what it would take and the limit, when
 * a tensor at `shape` is larger than the device's `limits` allow one buffer
 * (left out: not checked), or the CPU side more than CPU_MEMORY_CEILING; before
 * anything is allocated.
 */
export function checkShapeFits(spec: KernelSpec, shape: Shape, limits?: GPUSupportedLimits): void {
  const at = `${spec.name} at ${shapeText(shape)}`;
  const cpu = cpuBytes(spec, shape);
  if (cpu > CPU_MEMORY_CEILING) {
    throw new Error(`${at}: its float64 inputs and reference would take ${bytes(cpu)} of memory, more than the workbench's ${bytes(CPU_MEMORY_CEILING)}`);
  }
  if (!limits) return;
  for (const [name, t] of Object.entries(spec.tensors(shape))) checkBufferSize(limits, { what: `${at}: ${name} [${t.shape.join(', ')}]`, size: sizeOf(t.shape) * 4 });
}

/** One kernel's tensors at one shape. */
export interface KernelTensors {
  spec: KernelSpec;
  shape: Shape;
  /** Seeds the random inputs; 1 by default. */
  seed?: number;
  /** Inputs already drawn (another run's `values`), used instead of drawing them. */
  values?: Record<string, Float64Array>;
}

/**
 * Makes the kernel's tensors (random inputs from the seed, zeroed outputs) and
 * its dispatches, runs `use`, and frees them all; `values` are the inputs as drawn.
 */
export async function withTensors<T>(
  device: GPUDevice,
  { spec, shape, seed = 1, values }: KernelTensors,
  use: (tensors: Record<string, Tensor>, dispatches: Dispatch[]) => Promise<T>,
): Promise<{ result: T; values: Record<string, Float64Array> }> {
  checkShapeFits(spec, shape, device.limits);
  const random = seededRandom(seed);
  const filled: Record<string, Float64Array> = values ?? {};
  const tensors: Record<string, Tensor> = {};
  try {
    for (const [name, t] of Object.entries(spec.tensors(shape))) {
      if (t.random && !filled[name]) {
        const [low, high] = t.random;
        const draw = t.dtype === 'u32' ? () => Math.floor(low + (high - low) * random()) : () => Math.fround(low + (high - low) * random());
        filled[name] = Float64Array.from({ length: sizeOf(t.shape) }, draw);
      }
      if (t.derived && !filled[name]) filled[name] = Float64Array.from(t.derived(filled), t.dtype === 'u32' ? (v) => v : Math.fround);
      tensors[name] = createTensor(device, t.shape, { label: `workbench ${name}`, data: filled[name], dtype: t.dtype });
    }
    const dispatches = await spec.dispatches(device, tensors, shape);
    try {
      return { result: await use(tensors, dispatches), values: filled };
    } finally {
      destroyDispatches(dispatches);
    }
  } finally {
    for (const t of Object.values(tensors)) t.buffer.destroy();
  }
}
