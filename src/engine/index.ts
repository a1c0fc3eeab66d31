// The public API, the same in a browser and in Node: build, train, evaluate
// and save models on WebGPU. Node's extras (Dawn, files, the MNIST cache) are in src/node.
export { createGpu, defaultGpu, describeAdapter, freshGpu, setDefaultGpu, type AdapterDescription, type Gpu, type GpuOptions } from './device';
export { averagePooling2d, batchNormalization, conv2d, dense, dropout, flatten, maxPooling2d, type ActivationName, type LayerConfig } from './layers';
export {
  loadModelBytes,
  modelFromFile,
  sequential,
  Model,
  type CheckpointInfo,
  type CompileOptions,
  type EpochLogs,
  type FitOptions,
  type KernelProfile,
  type LayerOutput,
  type Logs,
  type Weight,
} from './model';
export { Graph, type DeviceData, type Inputs, type Pass, type Plan, type StepOptions } from './graph';
export { encodeDispatches, kernelName, type Dispatch, type KernelOverride, type KernelOverrides, type Work } from './pipelines';
export { KernelProfiler, kernelRuns, stats, Timestamps, timestampRoundingMs, type KernelRun, type Stats } from './profile';
export {
  AUTOTUNE_MODES,
  autotuneMode,
  Autotuner,
  browserStore,
  formatChoices,
  formatVariantTimes,
  memoryStore,
  setTuningDefaults,
  tuningDefaults,
  TUNING_STORAGE_KEY,
  tuningSummary,
  type AutotuneMode,
  type TuningChoice,
  type TuningStore,
} from './autotune';
export { optimizerConfig, type OptimizerConfig, type OptimizerKind } from './ops/optimizer';
export { seededRandom, type Random } from './random';
export { tutorialModel, type TutorialModel } from './tutorial';
export { expectImagesFit, mnistFromFiles, MNIST_FILES, MNIST_PARTS, MNIST_SHA256, pixelValues, type Dataset, type Mnist, type MnistPart } from './data';
export { readModelFile } from './modelFile';
export { encodeKeras, kerasFormat, loadKerasModel, readAnyModelFile, readKerasModel, toKeras, KERAS_LAYOUT_VERSION, type KerasFormat, type KerasModelFile } from './keras';
export { readCheckpoint } from './checkpoint';
export {
  builtInSource,
  checkKernel,
  compileMessages,
  convolveDigit,
  fullShape,
  gpuCapabilities,
  kernelConstants,
  timeKernel,
  timestampRounding,
  workbenchKernels,
  type CheckResult,
  type Comparison,
  type Edit,
  type Shape,
  type Timing,
  type WorkbenchKernel,
} from './workbench';
export { fromTorch, modelFileFromTorch, modelFileToTorch, toTorch, torchFiles, TORCH_FORMAT } from './torchConvert';
