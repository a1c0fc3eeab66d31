// A model file: safetensors whose metadata holds the architecture as JSON. It is
// read and checked whole (header, architecture, every layer, every tensor's name,
// shape and bytes) before a model is made, so a hostile file never reaches the GPU.
import { formatShape, sizeOf } from './buffers';
import { layerName, layerShapes, type LayerConfig, type LayerShape } from './layers';
import { checkMemoryBudget, type BudgetOptions } from './memoryBudget';
import { decodeSafetensors, encodeSafetensors, isObject, printable, quoteJson, type Weight } from './safetensors';

export const MODEL_FORMAT = 'webgpu-train/1';

export interface Architecture {
  inputShape: number[];
  layers: LayerConfig[];
}

/** A checked model file: its architecture, each layer's shapes, and weights that match them exactly. */
export interface ModelFile extends Architecture {
  shapes: LayerShape[];
  weights: Weight[];
}

export function encodeModelFile(architecture: Architecture, weights: Weight[]): Uint8Array {
  return encodeSafetensors(weights, { format: MODEL_FORMAT, architecture: JSON.stringify(architecture) });
}

/**
 * The architecture JSON of a model file (or of `kind`, a checkpoint say),
 * each layer checked by its kind against its input, and the memory it needs
 * checked against the budget (memoryBudget.ts) at `options.batch`.
 */
export function readArchitecture(text: string, source: string, options: BudgetOptions & { kind?: string } = {}): Architecture & { shapes: LayerShape[] } {
  const { kind = 'a model file' } = options;
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  let architecture: unknown;
  try {
    architecture = JSON.parse(text);
  } catch (error) {
    return fail(`not ${kind}: its architecture is not JSON (${(error as Error).message})`);
  }
  if (!isObject(architecture)) return fail(`not ${kind}: its architecture is ${quoteJson(architecture)}, not an object with inputShape and layers`);
  const { inputShape, layers } = architecture;
  if (!Array.isArray(inputShape) || inputShape.length === 0 || !inputShape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    return fail(`inputShape is ${quoteJson(inputShape)}, not a list of positive integers`);
  }
  if (!Array.isArray(layers) || layers.length === 0) return fail(`layers is ${quoteJson(layers)}, not a list of at least one layer`);
  layers.forEach((layer, i) => {
    if (!isObject(layer) || typeof layer.type !== 'string') fail(`layer ${i} is ${quoteJson(layer)}, not an object with a type`);
  });
  let shapes: LayerShape[];
  try {
    shapes = layerShapes(layers as LayerConfig[], inputShape);
  } catch (error) {
    return fail((error as Error).message);
  }
  checkMemoryBudget(inputShape, shapes, source, options);
  return { inputShape, layers: layers as LayerConfig[], shapes };
}

/**
 * Checks that `weights` are exactly the parameters of layers with these
 * shapes: each named `layers.<i>.<name>`, of its shape, with as many values,
 * and nothing else. `what` starts each error.
 */
export function checkWeights(layers: readonly LayerConfig[], shapes: readonly LayerShape[], weights: readonly Weight[], what: string): void {
  const byName = new Map(weights.map((w) => [w.name, w]));
  shapes.forEach(({ params }, i) => {
    for (const spec of params) {
      const name = `layers.${i}.${spec.name}`;
      const weight = byName.get(name);
      if (!weight) throw new Error(`${what}: no values for ${name}, the ${formatShape(spec.shape)} ${spec.name} of ${layerName(layers[i], i)}`);
      if (weight.shape.join() !== spec.shape.join()) {
        throw new Error(`${what}: ${name} has shape ${formatShape(weight.shape)} but ${layerName(layers[i], i)} expects ${formatShape(spec.shape)}`);
      }
      if (weight.values.length !== sizeOf(spec.shape)) {
        throw new Error(`${what}: ${name} holds ${weight.values.length} values but its shape ${formatShape(spec.shape)} needs ${sizeOf(spec.shape)}`);
      }
      byName.delete(name);
    }
  });
  refuseExtraWeights([...byName.keys()], what);
}

/** Throws, naming the first five, when any weights are left over that no parameter of the model takes. */
export function refuseExtraWeights(extra: readonly string[], what: string): void {
  if (extra.length === 0) return;
  const more = extra.length > 5 ? ` and ${extra.length - 5} more` : '';
  throw new Error(`${what}: the model has no parameter named ${extra.slice(0, 5).map((name) => printable(name)).join(', ')}${more}`);
}

/**
 * A model file, checked whole; nothing is built. `source` names the file in
 * errors; the memory the model needs is checked at `options.batch` (see memoryBudget.ts).
 */
export function readModelFile(bytes: Uint8Array, source: string, options: BudgetOptions = {}): ModelFile {
  const { weights, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format !== MODEL_FORMAT) {
    const found = metadata.format === undefined ? 'its metadata has no format' : `format is '${printable(metadata.format)}'`;
    throw new Error(`${source}: not a model file: ${found}, expected '${MODEL_FORMAT}'`);
  }
  if (metadata.architecture === undefined) throw new Error(`${source}: not a model file: no architecture in its metadata`);
  const architecture = readArchitecture(metadata.architecture, source, options);
  checkWeights(architecture.layers, architecture.shapes, weights, source);
  return { ...architecture, weights };
}
