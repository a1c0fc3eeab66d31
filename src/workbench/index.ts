// The shader workbench (webgpu-train/workbench), a developer tool beside the
// engine rather than part of it: the kernels that can be edited (kernels.ts),
// checked against the float64 reference (check.ts) and timed (time.ts), the
// tutorial's convolution demo and the adapter's capabilities. workbench.html
// (page.ts) and `npm run workbench` (src/cli/workbench.ts) run it; it runs on a
// Gpu from webgpu-train or webgpu-train/node.
export { gpuCapabilities } from './capabilities';
export { checkKernel, type CheckResult } from './check';
export { convolveDigit } from './demo';
export { compileMessages, editedLines, EDITED_FILE, kernelConstants, pointAtEdits, type Edit } from './edit';
export { builtInSource, fullShape, workbenchKernels, type WorkbenchKernel } from './kernels';
export type { Shape } from './spec';
export { timeKernel, timestampRounding, type Timing } from './time';
export type { Comparison, Tolerance } from '../reference/compare';
export type { Constants, ShaderMessage } from '../engine/pipelines';
