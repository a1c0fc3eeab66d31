// The Node entry: the engine, on Dawn, with files. Importing it makes
// `defaultGpu()` (and so every model not given a device) use Dawn.
import { setDefaultGpu } from '../engine/device';
import { loadModelBytes, type Model } from '../engine/model';
import type { Gpu } from '../engine/device';
import { createGpu } from './dawn';
import { readNamedFile, writeFileAtomically } from './files';

export * from '../engine';
export { createGpu, type DawnOptions } from './dawn';
export { writeFileAtomically } from './files';
export { exportTorch, importTorch } from './torch';
export { defaultCacheDir, loadMnist, mnistPaths, type LoadMnistOptions, type LogStream } from './mnist';

setDefaultGpu(() => createGpu());

/** Writes the model file whole or not at all: to a temporary file, then renamed over `path`. */
export async function saveModel(model: Model, path: string): Promise<void> {
  await writeFileAtomically(path, await model.toBytes());
}

/** Loads a model file written by `saveModel()` (or the page's "save"), checked whole before anything is built. */
export async function loadModel(path: string, options: { gpu?: Gpu } = {}): Promise<Model> {
  return loadModelBytes(await readNamedFile(path, 'a model file'), { source: path, gpu: options.gpu });
}
