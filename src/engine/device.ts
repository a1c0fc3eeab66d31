// Getting a WebGPU device: `navigator.gpu` in a browser, Dawn (the `webgpu`
// package) in Node. Everything in the engine gets its device from here.

/** What a run reports about the GPU it ran on. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for a software adapter (SwiftShader, lavapipe) rather than a GPU. */
  isFallbackAdapter: boolean;
}

export interface Gpu {
  device: GPUDevice;
  adapter: AdapterDescription;
  /** Whether the device was created with timestamp queries (for benchmarks). */
  timestamps: boolean;
}

export interface GpuOptions {
  /** Dawn only: pick an adapter by name (see `WEBGPU_ADAPTER` in the README). */
  adapterName?: string;
  /** Dawn only: toggles such as `disable-dawn-features=timestamp_quantization` (benchmarks). */
  dawnFlags?: string[];
}

const NO_ADAPTER_HELP = `No WebGPU adapter was found.
- In Node, Dawn needs a Vulkan driver. On Debian/Ubuntu without a GPU, install
  Mesa's software driver: add bookworm-backports and run
  'apt-get install -t bookworm-backports mesa-vulkan-drivers' (scripts/setup.sh does this),
  or point VK_ICD_FILENAMES at another driver's ICD file. With a GPU, install its Vulkan driver.
- In a browser, use one with WebGPU enabled (Chrome/Edge 113+, or Chromium with
  --enable-unsafe-webgpu), on a page served over https or from localhost.`;

// Dawn tears down its instance, and every device on it, when the GPU object is
// garbage collected: hold on to each one created.
const dawnInstances = new Map<string, GPU>();

async function nodeGpu(options: GpuOptions): Promise<GPU> {
  // A variable specifier keeps bundlers from pulling the native module into a page.
  const dawnModule = 'webgpu';
  const { create, globals } = await import(/* @vite-ignore */ dawnModule);
  // Dawn's objects (GPUBufferUsage and friends) become globals, as in a browser.
  Object.assign(globalThis, globals);
  const adapterName = options.adapterName ?? process.env.WEBGPU_ADAPTER ?? '';
  const flags = [...(adapterName ? [`adapter=${adapterName}`] : []), ...(options.dawnFlags ?? [])];
  const key = flags.join(' ');
  let gpu = dawnInstances.get(key);
  if (!gpu) {
    gpu = create(flags) as GPU;
    dawnInstances.set(key, gpu);
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

async function pickAdapter(gpu: GPU): Promise<GPUAdapter> {
  // Ask for a hardware adapter first; a software one only when there is none.
  const adapter =
    (await gpu.requestAdapter({ powerPreference: 'high-performance' })) ??
    (await gpu.requestAdapter({ forceFallbackAdapter: true }));
  if (!adapter) throw new Error(NO_ADAPTER_HELP);
  return adapter;
}

/** Creates a device with the adapter's largest buffer and workgroup limits. */
export async function createGpu(options: GpuOptions = {}): Promise<Gpu> {
  const inBrowser = typeof window !== 'undefined';
  if (inBrowser && !navigator.gpu) throw new Error(NO_ADAPTER_HELP);
  const gpu = inBrowser ? navigator.gpu : await nodeGpu(options);
  const adapter = await pickAdapter(gpu);
  const wanted: (keyof GPUSupportedLimits)[] = [
    'maxBufferSize',
    'maxStorageBufferBindingSize',
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupsPerDimension',
  ];
  const requiredLimits: Record<string, number> = {};
  for (const name of wanted) requiredLimits[name] = adapter.limits[name] as number;
  const timestamps = adapter.features.has('timestamp-query');
  const device = await adapter.requestDevice({
    label: 'webgpu-train',
    requiredLimits,
    requiredFeatures: timestamps ? ['timestamp-query'] : [],
  });
  device.lost.then((info) => {
    if (info.reason !== 'destroyed') console.error(`WebGPU device lost: ${info.message}`);
  });
  const info = adapter.info;
  const isFallbackAdapter = Boolean(
    // Older Chromium reports this on the adapter, newer on its info.
    (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
  );
  if (!inBrowser && isFallbackAdapter) throttleDawnPolling();
  return {
    device,
    timestamps,
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter,
    },
  };
}

/** One line naming the adapter, for runs that report figures. */
export function describeAdapter(adapter: AdapterDescription): string {
  const kind = adapter.isFallbackAdapter ? 'software adapter' : 'hardware adapter';
  const detail = [adapter.device, adapter.description].filter(Boolean).join(', ');
  return `${adapter.vendor || 'unknown vendor'} / ${adapter.architecture || 'unknown architecture'} (${kind}${detail ? `: ${detail}` : ''})`;
}

let sharedGpu: Promise<Gpu> | undefined;

/** One device shared by everything that is not given its own. */
export function defaultGpu(): Promise<Gpu> {
  sharedGpu ??= createGpu();
  return sharedGpu;
}
