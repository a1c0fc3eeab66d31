// What the adapter and the device offer a kernel author, for the workbench page.
import type { Gpu } from '../engine/device';

/** Features a kernel might use, as the browser's adapter offers them (null outside a browser), and the device's compute limits. */
export async function gpuCapabilities(gpu: Gpu): Promise<{ features: Record<string, boolean> | null; limits: Record<string, number> }> {
  const names = ['shader-f16', 'subgroups', 'timestamp-query'];
  // The device has only the features the engine asked for; the adapter says what else there is.
  const adapter = typeof navigator !== 'undefined' ? await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' }) : null;
  const features = adapter ? Object.fromEntries(names.map((n) => [n, adapter.features.has(n)])) : null;
  const limitNames = ['maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupStorageSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupsPerDimension'] as const;
  return { features, limits: Object.fromEntries(limitNames.map((n) => [n, gpu.device.limits[n]])) };
}

