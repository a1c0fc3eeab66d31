// The Node entry: the engine, on Dawn, with files. Importing it makes
// `defaultGpu()` (and so every model not given a device) use Dawn, and keeps
// the autotuner's choices in a file in the cache directory.
import { autotuneMode, setTuningDefaults } from '../engine/autotune';
import { setDefaultGpu } from '../engine/device';
import { loadModelBytes, type CompileOptions, type Model } from '../engine/model';
import { createGpu } from './dawn';
import { fileTuningStore, readNamedFile, writeFileAtomically } from './files';
import { setProgressWriter } from '../engine/training/progress';
import { stdoutProgress } from './progress';

export * from '../engine';
export { createGpu, type DawnOptions } from './dawn';
export { cacheHome, fileTuningStore, writeFileAtomically } from './files';
export { exportTorch, importTorch } from './torchDirectory';
export { stdoutProgress } from './progress';
export { csvLogger, modelCheckpoint } from './callbacks';
export { defaultCacheDir, loadMnist, mnistPaths, type LoadMnistOptions, type LogStream } from './mnist';

setDefaultGpu(() => createGpu());
// fit prints Keras' log by default in Node (verbose 1), as Keras does.
setProgressWriter(stdoutProgress);
// Kernel choices outlive the process: the next run on this adapter times nothing.
// WEBGPU_TRAIN_AUTOTUNE=off|cached|full sets the mode of models compiled without one (the tests pin 'off').
const mode = process.env.WEBGPU_TRAIN_AUTOTUNE === undefined ? undefined : autotuneMode('WEBGPU_TRAIN_AUTOTUNE', process.env.WEBGPU_TRAIN_AUTOTUNE);
setTuningDefaults({ store: () => fileTuningStore(), ...(mode && { mode }) });

/** Writes the model file whole or not at all: to a temporary file, then renamed over `path`. */
export async function saveModel(model: Model, path: string): Promise<void> {
  await writeFileAtomically(path, await model.toBytes());
}

/** Loads a model file written by `saveModel()` (or the page's "save"), checked whole before anything is built. */
export async function loadModel(path: string, options: Pick<CompileOptions, 'gpu' | 'onProgress' | 'onTuningNotice'> = {}): Promise<Model> {
  return loadModelBytes(await readNamedFile(path, 'a model file'), { ...options, source: path });
}
