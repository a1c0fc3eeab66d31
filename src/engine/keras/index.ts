// Keras models in and out: .keras zips (Keras 3, and tf.keras 2.13-2.15, which
// wrote them too) and legacy .h5 files (Keras 2.2.4 to 3.x) read as our model
// files, and our models written as Keras 3 .keras files. Browser-safe: bytes in,
// bytes out. Which format a file is comes from its first bytes, never its name
// (some .keras files are HDF5). The formats, the layouts of each Keras version
// and the refusals are described in docs/keras.md.
//
// A hostile file is refused before anything large is allocated: the config is
// read first (at most 16 MiB) and gives every parameter's shape; the weights must
// hold at least as many bytes as those take (a file claiming huge layers in a
// few bytes is refused there), a zip member may declare at most what the config
// accounts for and stops inflating past what it declared, and every dataset's
// shape and type is checked before any is read.
import type { Gpu } from '../device';
import { modelFromFile, type CompileOptions, type Model } from '../model';
import { checkWeights, readModelFile, type ModelFile } from '../modelFile';
import { checkMemoryBudget, type BudgetOptions } from '../memoryBudget';
import type { Weight } from '../safetensors';
import { kerasConfig, parameterBytes, readKerasConfig, type KerasModel } from './config';
import { encodeHdf5, HDF5_SIGNATURE, readHdf5, textAttribute } from './hdf5';
import { readKerasWeights, readLegacyWeights } from './weights';
import { encodeZip, unzipMember, ZIP_SIGNATURE, zipMembers, type ZipMember } from './zip';

/** A .keras zip or a legacy HDF5 .h5 file. */
export type KerasFormat = 'keras' | 'h5';

/** A Keras file read as our model file, with what differs in how it runs here. */
export interface KerasModelFile extends ModelFile {
  format: KerasFormat;
  /** The Keras version that wrote it, as the file says (null when it does not). */
  kerasVersion: string | null;
  /** Said to the user: what runs differently from Keras (a last layer's logits given a softmax, a frozen layer trained). */
  notes: string[];
}

/** The Keras release whose .keras layout encodeKeras writes (an early 3.x layout, which later releases read too). */
export const KERAS_LAYOUT_VERSION = '3.1.1';

/** The most a .keras file's config.json or metadata.json may declare. */
const JSON_LIMIT = 16 << 20;
/**
 * The most model.weights.h5 may declare beyond the parameters' own bytes: the
 * optimizer's state (Adam's two moments, an EMA), which Keras saves beside them,
 * and HDF5's own structures.
 */
const weightsLimit = (parameters: number) => 8 * parameters + (16 << 20);
/**
 * The most a deflated model.weights.h5 may declare for each byte it takes in
 * the archive (beyond 1 MiB): trained float weights hardly compress (Keras
 * stores them uncompressed anyway), so a member claiming more is no weights
 * file, and a config claiming huge layers cannot make a small archive allocate much.
 */
const DEFLATE_RATIO = 16;

const startsWith = (bytes: Uint8Array, signature: readonly number[]) => bytes.length >= signature.length && signature.every((b, i) => bytes[i] === b);

/** Which Keras file `bytes` is, by its first bytes (a zip's or HDF5's signature), or null for neither. */
export function kerasFormat(bytes: Uint8Array): KerasFormat | null {
  if (startsWith(bytes, ZIP_SIGNATURE)) return 'keras';
  if (startsWith(bytes, HDF5_SIGNATURE)) return 'h5';
  return null;
}

/** The layers and weights of a Keras model, as a model file. */
function modelFile(model: KerasModel, weights: Weight[], source: string): ModelFile {
  const layers = model.layers.map((l) => l.config);
  const shapes = model.layers.map((l) => l.shape);
  checkWeights(layers, shapes, weights, source);
  return { inputShape: model.inputShape, layers, shapes, weights };
}

async function readZipped(bytes: Uint8Array, source: string): Promise<Omit<KerasModelFile, 'format'>> {
  const members = zipMembers(bytes, source);
  const member = (name: string): ZipMember => {
    const found = members.find((m) => m.name === name);
    if (!found) throw new Error(`${source}: not a .keras file: the archive has no ${name} (it holds ${members.map((m) => m.name).join(', ') || 'nothing'})`);
    return found;
  };
  const text = async (name: string) => new TextDecoder().decode(await unzipMember(bytes, member(name), JSON_LIMIT, `${source}: ${name}`));
  const model = readKerasConfig(await text('config.json'), `${source}: config.json`);
  let kerasVersion: string | null = null;
  if (members.some((m) => m.name === 'metadata.json')) {
    try {
      const version = JSON.parse(await text('metadata.json')).keras_version;
      kerasVersion = typeof version === 'string' ? version : null;
    } catch {
      // The version is only shown: a metadata.json that says nothing readable leaves it unknown.
    }
  }
  const needed = parameterBytes(model);
  const weightsMember = member('model.weights.h5');
  const what = `${source}: model.weights.h5`;
  if (weightsMember.size < needed) throw new Error(`${what} declares ${weightsMember.size} bytes, fewer than the ${needed} that the parameters of config.json take`);
  if (weightsMember.method !== 0 && weightsMember.size > DEFLATE_RATIO * weightsMember.compressedSize + (1 << 20)) {
    throw new Error(`${what} declares ${weightsMember.size} bytes from ${weightsMember.compressedSize} compressed: more than ${DEFLATE_RATIO} times, which float weights never compress to`);
  }
  const weightsBytes = await unzipMember(bytes, weightsMember, weightsLimit(needed), what);
  const weights = await readHdf5(weightsBytes, what, (root) => readKerasWeights(root, model, what));
  return { ...modelFile(model, weights, source), kerasVersion, notes: model.notes };
}

async function readLegacy(bytes: Uint8Array, source: string): Promise<Omit<KerasModelFile, 'format'>> {
  return readHdf5(bytes, source, (root) => {
    const text = textAttribute(root, 'model_config');
    if (text === undefined) {
      throw new Error(
        root.attrs['layer_names'] !== undefined
          ? `${source}: holds weights only (Keras' save_weights), no model config: save the whole model (model.save) to open it here`
          : `${source}: not a Keras model file: the HDF5 file has no model_config attribute`,
      );
    }
    const model = readKerasConfig(text, source);
    const needed = parameterBytes(model);
    if (bytes.length < needed) throw new Error(`${source}: holds ${bytes.length} bytes, fewer than the ${needed} that the parameters of its model config take`);
    const weights = readLegacyWeights(root, model, source);
    return { ...modelFile(model, weights, source), kerasVersion: textAttribute(root, 'keras_version') ?? null, notes: model.notes };
  });
}

/**
 * A Keras file (.keras or .h5, told apart by content) as a checked model file;
 * nothing is built. `source` names the file in errors.
 */
export async function readKerasModel(bytes: Uint8Array, source: string, options: BudgetOptions = {}): Promise<KerasModelFile> {
  const format = kerasFormat(bytes);
  if (format === null) throw new Error(`${source}: not a Keras file: it starts with neither a zip's signature (.keras) nor HDF5's (.h5)`);
  const file = { format, ...(await (format === 'keras' ? readZipped(bytes, source) : readLegacy(bytes, source))) };
  // The memory its model needs at `options.batch`, as readModelFile checks ours (memoryBudget.ts).
  checkMemoryBudget(file.inputShape, file.shapes, source, options);
  return file;
}

/** A model from a Keras file (.keras or .h5), read and checked whole before the model is made. */
export async function loadKerasModel(bytes: Uint8Array, options: { source?: string; gpu?: Gpu } & Pick<CompileOptions, 'loss' | 'metrics'> = {}): Promise<Model> {
  return modelFromFile(await readKerasModel(bytes, options.source ?? 'Keras model'), options);
}

/**
 * A model file's architecture and weights as a Keras 3 .keras file: the zip
 * Keras writes (metadata.json, config.json, model.weights.h5, stored), the
 * config in Keras 3's serialization and each layer's variables under
 * layers/<name>/vars/<i>, so that keras.models.load_model opens it.
 */
export async function encodeKeras(file: Omit<ModelFile, 'weights'> & { weights: readonly Weight[] }): Promise<Uint8Array> {
  const { json, names } = kerasConfig(file);
  const byName = new Map(file.weights.map((w) => [w.name, w]));
  const weights = await encodeHdf5((root) => {
    const layers = root.create_group('layers');
    file.shapes.forEach(({ params }, i) => {
      const vars = layers.create_group(names[i]).create_group('vars');
      params.forEach((spec, k) => vars.create_dataset({ name: String(k), data: byName.get(`layers.${i}.${spec.name}`)!.values, shape: spec.shape, dtype: '<f' }));
    });
    // The model's own variables (none), as Keras writes them.
    root.create_group('vars');
  });
  const metadata = { keras_version: KERAS_LAYOUT_VERSION, date_saved: kerasDate(new Date()) };
  const text = (value: string) => new TextEncoder().encode(value);
  return encodeZip({ 'metadata.json': text(JSON.stringify(metadata)), 'config.json': text(json), 'model.weights.h5': weights });
}

/** Keras' date_saved: `2024-06-26@16:51:48`. */
const kerasDate = (date: Date) => date.toISOString().slice(0, 19).replace('T', '@');

/** The model as a Keras 3 .keras file (see encodeKeras). */
export async function toKeras(model: Model): Promise<Uint8Array> {
  return encodeKeras({ inputShape: [...model.inputShape], layers: [...model.layers], shapes: model.shapes, weights: await model.getWeights() });
}

/** A model file of ours or a Keras file, told apart by content, read and checked whole; nothing is built. */
/**
 * A model file of any format we read, told apart by its first bytes: ours, or
 * a Keras .keras or .h5 file; the memory its model needs at `options.batch`
 * checked (memoryBudget.ts) before a graph is built for it.
 */
export async function readAnyModelFile(
  bytes: Uint8Array,
  source: string,
  options: BudgetOptions = {},
): Promise<ModelFile & { format: KerasFormat | 'webgpu-train'; kerasVersion: string | null; notes: string[] }> {
  if (kerasFormat(bytes)) return readKerasModel(bytes, source, options);
  return { ...readModelFile(bytes, source, options), format: 'webgpu-train', kerasVersion: null, notes: [] };
}
