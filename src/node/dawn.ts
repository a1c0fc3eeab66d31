// WebGPU in Node: Dawn, from the `webgpu` package, on whatever Vulkan driver
// is installed (lavapipe when there is no GPU).
import { create, globals } from 'webgpu';
import { createGpu as createGpuOn, type Gpu } from '../engine/device';

export interface DawnOptions {
  /** Pick an adapter by name (see `WEBGPU_ADAPTER` in the README). */
  adapterName?: string;
  /** Dawn toggles such as `disable-dawn-features=timestamp_quantization` (benchmarks). */
  dawnFlags?: string[];
}

// Dawn tears down its instance, and every device on it, when the GPU object is
// garbage collected: hold on to each one created.
const instances = new Map<string, GPU>();

function dawn(options: DawnOptions): GPU {
  // Dawn's objects (GPUBufferUsage and friends) become globals, as in a browser.
  Object.assign(globalThis, globals);
  const adapterName = options.adapterName ?? process.env.WEBGPU_ADAPTER ?? '';
  const flags = [...(adapterName ? [`adapter=${adapterName}`] : []), ...(options.dawnFlags ?? [])];
  const key = flags.join(' ');
  let gpu = instances.get(key);
  if (!gpu) {
    gpu = create(flags) as GPU;
    instances.set(key, gpu);
  }
  return gpu;
}

/**
 * dawn.node settles its promises (mapAsync, onSubmittedWorkDone, ...) from a
 * setImmediate loop that runs for as long as one is pending: a busy loop,
 * which on a CPU-emulated GPU takes a core away from the emulation (on 2
 * cores, lavapipe's two workers got about 1.2 cores' worth while the main
 * thread spun). So with a software adapter its ticks, which are native
 * functions, are moved onto a 1 ms timer; everything else's setImmediate is
 * untouched. Process-wide, as setImmediate is; installed once.
 */
type MarkedSetImmediate = typeof setImmediate & { dawnThrottled?: boolean };

function throttleDawnPolling(): void {
  const immediate = globalThis.setImmediate as MarkedSetImmediate;
  if (immediate.dawnThrottled) return;
  const isNative = (fn: unknown) => typeof fn === 'function' && Function.prototype.toString.call(fn).includes('[native code]');
  const throttled = ((fn: (...args: unknown[]) => void, ...args: unknown[]) =>
    isNative(fn) ? setTimeout(fn, 1, ...args) : immediate(fn, ...args)) as unknown as MarkedSetImmediate;
  throttled.dawnThrottled = true;
  globalThis.setImmediate = throttled;
}

/** A device on Dawn, hardware adapter first, with the engine's limits and features. */
export async function createGpu(options: DawnOptions = {}): Promise<Gpu> {
  const gpu = await createGpuOn({ gpu: dawn(options) });
  if (gpu.adapter.isFallbackAdapter) throttleDawnPolling();
  return gpu;
}
