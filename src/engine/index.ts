// The public API, the same in a browser and in Node: build, train, evaluate
// and save models on WebGPU. Node's extras (Dawn, files, the MNIST cache) are in src/node.
export { createGpu, defaultGpu, describeAdapter, freshGpu, setDefaultGpu, type AdapterDescription, type Gpu, type GpuOptions } from './device';
export { activation, averagePooling2d, batchNormalization, conv2d, dense, dropout, flatten, globalAveragePooling2d, globalMaxPooling2d, maxPooling2d, rescaling, reshape, type ActivationName, type LayerConfig } from './layers';
export {
  loadModelBytes,
  modelFromFile,
  sequential,
  Model,
  type CheckpointInfo,
  type CompileOptions,
  type EpochLogs,
  type EvaluateOptions,
  type FitOptions,
  type KernelProfile,
  type LayerOutput,
  type Logs,
  type ShapedArray,
  type DeviceLoss,
  type Weight,
} from './model';
export { Graph, type GraphOptions, type Inputs, type Plan, type StepOptions } from './graph';
export { DataSets, type DeviceData, type Pass } from './dataSets';
export { runPass, type PassOptions } from './training/pass';
export { encodeDispatches, kernelName, PRECISIONS, type Dispatch, type KernelOverride, type KernelOverrides, type Precision, type Work } from './pipelines';
export { LOSS_SCALE_DEFAULTS, type LossScaleConfig } from './ops/lossScale';
export { formatMs, KernelProfiler, kernelRuns, stats, Timestamps, timestampRoundingMs, type KernelRun, type Stats } from './profile';
export { describeSetup, type SetupListener, type SetupProgress } from './setupProgress';
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
export { OPTIMIZER_KINDS, optimizerConfig, type OptimizerConfig, type OptimizerKind } from './ops/optimizer';
export {
  cosineDecay,
  exponentialDecay,
  learningRateSchedule,
  piecewiseConstantDecay,
  type CosineDecay,
  type ExponentialDecay,
  type LearningRate,
  type LearningRateSchedule,
  type PiecewiseConstantDecay,
} from './ops/schedule';
export type { Clipping } from './ops/clip';
export { seededRandom, type Random } from './random';
export {
  earlyStopping,
  learningRateScheduler,
  modelCheckpoint,
  reduceLROnPlateau,
  terminateOnNaN,
  type BatchDetails,
  type Callback,
  type EarlyStopping,
  type Mode,
  type TrainedModel,
} from './training/callbacks';
export { History } from './training/history';
export { formatDuration, formatLogs, progressLine, runEstimate, runEstimator, setProgressWriter, whyTrainingEnded, type ProgressWriter } from './training/progress';
export { tutorialModel, tutorialRecipe, type TutorialModel, type TutorialRecipe } from './tutorial';
export { lossConfig, LOSSES, METRICS, type LossConfig, type LossKind, type LossOption, type MetricName } from './losses';
export { expectImagesFit, mnistFromFiles, MNIST_FILES, MNIST_PARTS, MNIST_SHA256, pixelValues, type Dataset, type Mnist, type MnistPart } from './data';
export { readModelFile } from './modelFile';
export { encodeKeras, kerasFormat, loadKerasModel, readAnyModelFile, readKerasModel, toKeras, KERAS_LAYOUT_VERSION, type KerasFormat, type KerasModelFile } from './keras';
export { checkPosition, checkResumable, readCheckpoint } from './checkpoint';
export { fromTorch, modelFileFromTorch, modelFileToTorch, toTorch, torchFiles, TORCH_FORMAT } from './torchConvert';
