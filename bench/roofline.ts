// The adapter's roofline: its peak multiply-add rate (f32, and f16 where the
// device has shader-f16) and its memory bandwidth, measured with peak.wgsl's
// micro-kernels, and where a kernel's work (FLOPs and bytes) puts it under them.
// The micro-kernels are the benchmark's alone, so they live here rather than
// in src/shaders, and the library does not ship them.
import source from './peak.wgsl?raw';
import { Autotuner, memoryStore, type Gpu, type Work } from '../src/engine';
import { createTensor, type Tensor } from '../src/engine/buffers';
import { destroyDispatches, inPrecision, prepareTunable, type Dispatch, type Real, type Shader } from '../src/engine/pipelines';

const shader: Shader = { file: 'peak.wgsl', source };

/** multiply_add's invocations: enough to fill a large GPU. */
export const INVOCATIONS = 2 ** 18;
/** Multiply-adds of vec4s an invocation (params.steps): at most 1024 a chain, for f16 (see peak.wgsl). */
export const STEPS = 256;
/** copy's vec4s each way: 64 MiB, within every device's storage binding limit (128 MiB), past most GPUs' caches. */
export const COPY_VEC4S = 2 ** 22;

const WORKGROUP_SIZES = [64, 256];
const CHAINS = [1, 2, 4];
const BLOCKS = [1, 4];

/** Names and pipeline constants of variants: every combination of `axes`, as `chains=2 workgroup=64`. */
function variantsOf(axes: Record<string, number[]>): Map<string, Record<string, number>> {
  let combos: Record<string, number>[] = [{}];
  for (const [axis, values] of Object.entries(axes)) combos = combos.flatMap((combo) => values.map((value) => ({ ...combo, [axis]: value })));
  return new Map(combos.map((combo) => [Object.entries(combo).map(([axis, value]) => `${axis}=${value}`).join(' '), combo]));
}

/** moved[i] = 4 * STEPS * increment for each invocation i: the multiply-adds, in `precision`, in variants of chains and workgroup size. */
export async function multiplyAdd(device: GPUDevice, precision: Real, moved: Tensor, increment = 1): Promise<Dispatch> {
  if (moved.shape.length !== 1 || moved.shape[0] !== INVOCATIONS) throw new Error(`multiplyAdd(): moved must be [${INVOCATIONS}], got [${moved.shape.join(', ')}]`);
  if (precision === 'f16' && !device.features.has('shader-f16')) throw new Error("multiplyAdd(): f16 needs the device feature 'shader-f16', which this device lacks");
  const variants = variantsOf({ chains: CHAINS, workgroup: WORKGROUP_SIZES });
  return prepareTunable(device, 'multiply_add', {
    shape: `invocations=${INVOCATIONS} steps=${STEPS} ${precision}`,
    variants: [...variants.keys()],
    make: (name) => {
      const { chains, workgroup } = variants.get(name)!;
      return {
        shader: inPrecision(shader, precision),
        spec: {
          constants: { WORKGROUP_SIZE: workgroup, CHAINS: chains },
          params: { steps: STEPS, scale: 1, increment },
          buffers: { moved: moved.buffer },
          grid: { threads: [INVOCATIONS] },
          // A vec4 multiply-add is 4 multiplies and 4 adds.
          work: { flops: 8 * STEPS * INVOCATIONS, bytes: 4 * INVOCATIONS },
        },
      };
    },
  });
}

/** y = x, vec4s, in variants of vec4s an invocation a step and workgroup size. */
export async function copy(device: GPUDevice, x: Tensor, y: Tensor): Promise<Dispatch> {
  if (x.shape.join() !== y.shape.join() || x.shape.length !== 2 || x.shape[1] !== 4) throw new Error(`copy(): x and y must be [n, 4] alike, got [${x.shape.join(', ')}] and [${y.shape.join(', ')}]`);
  const variants = variantsOf({ block: BLOCKS, workgroup: WORKGROUP_SIZES });
  const vec4s = x.shape[0];
  return prepareTunable(device, 'copy', {
    shape: `vec4s=${vec4s}`,
    variants: [...variants.keys()],
    make: (name) => {
      const { block, workgroup } = variants.get(name)!;
      return {
        shader,
        spec: {
          constants: { WORKGROUP_SIZE: workgroup, BLOCK: block },
          buffers: { x: x.buffer, y: y.buffer },
          grid: { strided: Math.ceil(vec4s / block) },
          work: { flops: 0, bytes: 2 * 16 * vec4s },
        },
      };
    },
  });
}

/** A peak: its rate (GFLOP/s or GB/s), the variant that reached it, and each variant's best milliseconds. */
export interface Peak {
  rate: number;
  variant: string;
  ms: Record<string, number>;
}

export interface Roofline {
  /** f32 multiply-adds, GFLOP/s: the roof of every kernel here, all f32. */
  gflops: Peak;
  /** f16 multiply-adds, GFLOP/s, or null without shader-f16. */
  f16Gflops: Peak | null;
  /** Copy, GB/s (bytes read plus bytes written). */
  gbPerSecond: Peak;
  /** FLOPs a byte where the two roofs meet: below it a kernel is bound by memory. */
  ridge: number;
  /** How many times the fastest variant of each was timed (every variant once, then it again). */
  rounds: number;
}

/**
 * Measures the roofline: each micro-kernel's variants timed by the autotuner,
 * then the fastest variant timed again `rounds - 1` times; the fastest time of
 * any gives each peak (the machine's other work only ever slows a kernel).
 */
export async function measureRoofline(gpu: Gpu, rounds: number, notice: (message: string) => void): Promise<Roofline> {
  const { device } = gpu;
  const f16 = device.features.has('shader-f16');
  const tensors = {
    moved: createTensor(device, [INVOCATIONS], { label: 'peak moved' }),
    moved16: createTensor(device, [INVOCATIONS], { label: 'peak moved f16' }),
    x: createTensor(device, [COPY_VEC4S, 4], { label: 'peak copy x' }),
    y: createTensor(device, [COPY_VEC4S, 4], { label: 'peak copy y' }),
  };
  const dispatches = [
    await multiplyAdd(device, 'f32', tensors.moved),
    await copy(device, tensors.x, tensors.y),
    ...(f16 ? [await multiplyAdd(device, 'f16', tensors.moved16)] : []),
  ];
  const best = dispatches.map((): Record<string, number> => ({}));
  const fastest = (i: number) => Object.keys(best[i]).reduce((a, b) => (best[i][b] < best[i][a] ? b : a));
  const time = async (toTime: Dispatch[]) => {
    const tuner = new Autotuner(gpu, 'full', memoryStore(), notice, Infinity);
    await tuner.tune(toTime);
    tuner.choices.forEach((choice, i) => {
      for (const [variant, ms] of Object.entries(choice.ms)) best[i][variant] = Math.min(best[i][variant] ?? Infinity, ms);
    });
  };
  try {
    await time(dispatches);
    // The same dispatches, offering the tuner only their fastest variant.
    const again = dispatches.map((dispatch, i): Dispatch => ({ ...dispatch, tunable: { ...dispatch.tunable!, variants: [fastest(i)] } }));
    for (let round = 1; round < rounds; round++) await time(again);
    const peaks = dispatches.map((dispatch, i): Peak => {
      const variant = fastest(i);
      const { flops, bytes } = dispatch.work!;
      return { rate: (flops || bytes) / best[i][variant] / 1e6, variant, ms: best[i] };
    });
    const [gflops, gbPerSecond, f16Gflops = null] = peaks;
    return { gflops, f16Gflops, gbPerSecond, ridge: gflops.rate / gbPerSecond.rate, rounds };
  } finally {
    destroyDispatches(dispatches);
    for (const t of Object.values(tensors)) t.buffer.destroy();
  }
}

/** Where work done in `ms` stands under the roofline. */
export interface RooflinePoint {
  /** FLOPs a byte. */
  intensity: number;
  /** GFLOP/s the roofline allows at that intensity: min(peak, intensity x bandwidth). */
  boundGflops: number;
  /** The roofline's time for the work (its FLOPs at the peak, or its bytes at the bandwidth, whichever is longer) over `ms`: achieved GFLOP/s over the bound, or for work of no FLOPs GB/s over the bandwidth. */
  fraction: number;
}

export function rooflinePoint(work: Work, ms: number, roofline: Roofline): RooflinePoint {
  const peak = roofline.gflops.rate;
  const bandwidth = roofline.gbPerSecond.rate;
  const intensity = work.flops / work.bytes;
  const boundMs = Math.max(work.flops / peak, work.bytes / bandwidth) / 1e6;
  return { intensity, boundGflops: Math.min(peak, intensity * bandwidth), fraction: boundMs / ms };
}
