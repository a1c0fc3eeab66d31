// The public API: build, train, evaluate and save models on WebGPU.
export { createGpu, defaultGpu, describeAdapter, type AdapterDescription, type Gpu } from './device';
export { conv2d, dense, flatten, maxPooling2d, type LayerConfig } from './layers';
export { loadModelBytes, sequential, Model, type CompileOptions, type EpochLogs, type FitOptions, type Logs } from './model';
export { tutorialModel, type TutorialModel } from './tutorial';
export { mnistFromFiles, MNIST_FILES, MNIST_PARTS, MNIST_SHA256, type Dataset, type Mnist, type MnistPart } from './data';
