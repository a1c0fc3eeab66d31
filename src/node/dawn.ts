// WebGPU in Node: Dawn, from the `webgpu` package, on whatever Vulkan driver
// is installed (lavapipe when there is no GPU).
import { closeSync, fstatSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    const made = create(flags) as GPU;
    const requestAdapter = made.requestAdapter.bind(made);
    gpu = Object.assign(made, { requestAdapter: (options?: GPURequestAdapterOptions) => withoutLimitWarnings(() => requestAdapter(options)) });
    instances.set(key, gpu);
  }
  return gpu;
}

/** What Dawn prints (to stderr, from native code) when an instance first looks for adapters on lavapipe, and nothing can change. */
const LIMIT_WARNINGS = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\n/gm;

/**
 * Calls `call` with the process' stderr (file descriptor 2) pointed at a
 * temporary file, then back, and writes what it printed there to stderr less
 * Dawn's two warnings about limits (LIMIT_WARNINGS), which dawn.node prints
 * synchronously, inside requestAdapter, on every run on lavapipe. Node has no
 * dup2: a descriptor is replaced by closing it and opening another, which gets
 * the lowest free number, its own; /proc/self/fd reopens stderr afterwards, for
 * appending (a file shared with stdout, as `> log 2>&1` shares it, has stdout
 * reopened for appending too, or their offsets would part). Linux only, and
 * not for a socket, which /proc cannot reopen (Node's spawn gives a child
 * sockets): the warnings stay there.
 */
export function withoutLimitWarnings<T>(call: () => T): T {
  const stat = (fd: number) => {
    try {
      return fstatSync(fd);
    } catch {
      return undefined;
    }
  };
  const [stdin, stdout, stderr] = [0, 1, 2].map(stat);
  // Without 0 and 1 open, the lowest free descriptor would not be 2.
  if (process.platform !== 'linux' || !stdin || !stdout || !stderr || stderr.isSocket()) return call();
  if (stderr.isFile() && stdout.isFile() && stdout.dev === stderr.dev && stdout.ino === stderr.ino) moveTo(1, openSync('/proc/self/fd/1', 'a'), 'a');
  const original = openSync('/proc/self/fd/2', 'a');
  const path = join(tmpdir(), `webgpu-train-${process.pid}-${Date.now()}.stderr`);
  const capture = openSync(path, 'wx+');
  unlinkSync(path);
  moveTo(2, capture, 'r+');
  try {
    return call();
  } finally {
    const text = Buffer.alloc(64 << 10);
    const length = readSync(2, text, 0, text.length, 0);
    moveTo(2, original, 'a');
    const rest = text.subarray(0, length).toString().replace(LIMIT_WARNINGS, '');
    if (rest) writeSync(2, rest);
  }
}

/** Makes descriptor `fd` refer to what `source` refers to, opened again with `flags` (as dup2 would, nearly), and closes `source`. */
function moveTo(fd: number, source: number, flags: string): void {
  closeSync(fd);
  const moved = openSync(`/proc/self/fd/${source}`, flags);
  closeSync(source);
  if (moved !== fd) throw new Error(`could not move descriptor ${source} to ${fd} (it became ${moved})`);
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
