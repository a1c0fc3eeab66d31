// The Node entry: the engine, on Dawn, with files. Importing it makes
// `defaultGpu()` (and so every model not given a device) use Dawn, and keeps
// the autotuner's choices in a file in the cache directory.
import { autotuneMode, setTuningDefaults } from '../engine/autotune';
import { setDefaultGpu } from '../engine/device';
import { kerasFormat, loadKerasModel, toKeras } from '../engine/keras';
import { loadModelBytes, type CompileOptions, type Model } from '../engine/model';
import { createGpu } from './dawn';
import { fileTuningStore, readModelFileBytes, writeFileAtomically } from './files';
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

/**
 * What `saveModel` writes at `path`, by its name: a Keras 3 .keras file for
 * `.keras`, else our model file (safetensors); `.h5` is refused (Keras' legacy
 * format is read, not written). Check it before the work whose result it saves.
 */
export function savedFormat(path: string): 'keras' | 'webgpu-train' {
  const name = path.toLowerCase();
  if (name.endsWith('.h5') || name.endsWith('.hdf5')) throw new Error(`${path}: Keras' legacy .h5 format is read, not written; save as .keras (Keras 3) or .safetensors`);
  return name.endsWith('.keras') ? 'keras' : 'webgpu-train';
}

/** Writes the model whole or not at all (a temporary file, then renamed over `path`), in the format its name asks for (`savedFormat`). */
export async function saveModel(model: Model, path: string): Promise<void> {
  const bytes = savedFormat(path) === 'keras' ? await toKeras(model) : await model.toBytes();
  await writeFileAtomically(path, bytes);
}

/**
 * Loads a model file written by `saveModel()` (or the page's "save"), or a
 * Keras .keras or .h5 file, told apart by content; checked whole before
 * anything is built, and compiled with `loss` and `metrics`.
 */
export async function loadModel(path: string, options: Pick<CompileOptions, 'gpu' | 'loss' | 'metrics' | 'onProgress' | 'onTuningNotice'> = {}): Promise<Model> {
  const bytes = await readModelFileBytes(path);
  const load = kerasFormat(bytes) ? loadKerasModel : loadModelBytes;
  return load(bytes, { ...options, source: path });
}
