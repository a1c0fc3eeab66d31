// PyTorch export and import with files: a directory PyTorch users can run
// (the weights, model.py, predict.py, train.py, a README), and weights back from it.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Gpu } from '../engine/device';
import type { Model } from '../engine/model';
import { fromTorch, torchFiles } from '../engine/torchConvert';
import { readSafetensorsFile, writeFileAtomically } from './files';

/**
 * Writes `dir` (created if absent) for PyTorch: model.safetensors in its names
 * and layouts, model.py, predict.py, train.py and README.md, each file whole or
 * not at all. `model` is a model or a model file's bytes; returns the paths written.
 */
export async function exportTorch(model: Model | Uint8Array, dir: string, source?: string): Promise<string[]> {
  // Converted before anything is written: a model PyTorch cannot hold leaves no directory behind.
  const files = await torchFiles(model, source);
  await mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (const { name, bytes } of files) {
    const path = join(dir, name);
    await writeFileAtomically(path, bytes);
    paths.push(path);
  }
  return paths;
}

/** The model in a PyTorch safetensors file that exportTorch or train.py wrote, checked whole before it is built. */
export async function importTorch(path: string, options: { gpu?: Gpu } = {}): Promise<Model> {
  return fromTorch(await readSafetensorsFile(path, 'a PyTorch safetensors file'), { source: path, gpu: options.gpu });
}
