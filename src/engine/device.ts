// Getting a WebGPU device: from `navigator.gpu`, or from the GPU object the
// caller passes (src/node passes Dawn's). Everything in the engine gets its device from here.

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
  /** The WebGPU entry point: `navigator.gpu` by default; in Node, Dawn's (see `src/node`). */
  gpu?: GPU;
}

const NO_ADAPTER_HELP = `No WebGPU adapter was found.
- In Node, Dawn needs a Vulkan driver. On Debian/Ubuntu without a GPU, install
  Mesa's software driver: add bookworm-backports and run
  'apt-get install -t bookworm-backports mesa-vulkan-drivers' (scripts/setup.sh does this),
  or point VK_ICD_FILENAMES at another driver's ICD file. With a GPU, install its Vulkan driver.
- In a browser, use one with WebGPU enabled (Chrome/Edge 113+, or Chromium with
  --enable-unsafe-webgpu), on a page served over https or from localhost.`;

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
  const gpu = options.gpu ?? (typeof navigator === 'undefined' ? undefined : navigator.gpu);
  if (!gpu) throw new Error(NO_ADAPTER_HELP);
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
  // Subgroup operations, where the adapter has them, for the kernels that have a
  // variant using them (ops/matmul.ts offers it when device.features has 'subgroups');
  // f16 arithmetic, for the benchmark's f16 peak.
  const features: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];
  const device = await adapter.requestDevice({
    label: 'webgpu-train',
    requiredLimits,
    requiredFeatures: features.filter((feature) => adapter.features.has(feature)),
  });
  device.lost.then((info) => {
    if (info.reason !== 'destroyed') console.error(`WebGPU device lost: ${info.message}`);
  });
  const info = adapter.info;
  const isFallbackAdapter = Boolean(
    // Older Chromium reports this on the adapter, newer on its info.
    (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
  );
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
let makeDefault: () => Promise<Gpu> = () => createGpu();

/** One device shared by everything that is not given its own. */
export function defaultGpu(): Promise<Gpu> {
  sharedGpu ??= makeDefault();
  return sharedGpu;
}

/** A new device from where `defaultGpu()` gets its own, not shared (to replace a lost one). */
export function freshGpu(): Promise<Gpu> {
  return makeDefault();
}

/** How `device` was lost, once it is, or undefined if it is not lost within `waitMs` (the loss settles soon after the errors it causes). */
export function lostInfo(device: GPUDevice, waitMs = 250): Promise<GPUDeviceLostInfo | undefined> {
  let stop = () => {};
  const timeout = new Promise<undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), waitMs);
    stop = () => clearTimeout(timer);
  });
  return Promise.race([device.lost, timeout]).finally(stop);
}

/** Where `defaultGpu()` gets its device from (the Node entry points it at Dawn). */
export function setDefaultGpu(make: () => Promise<Gpu>): void {
  makeDefault = make;
  sharedGpu = undefined;
}
