// Models to PyTorch and back: our weights in PyTorch's names and layouts, and the
// Python files (python/) that build and train the matching nn.Sequential. Browser-safe.
//
// Module i of the nn.Sequential is our layer i, so its tensors are `<i>.weight`,
// `<i>.bias`, `<i>.running_mean`, `<i>.running_var`. PyTorch holds images as
// NCHW ([C, H, W] per image) where we hold NHWC ([H, W, C]): a conv kernel
// [KH, KW, C_in, C_out] becomes [C_out, C_in, KH, KW], a dense kernel [in, out]
// becomes [out, in], and a flatten of an image orders its values (c, h, w) in
// PyTorch but (h, w, c) here, so the dense layer that reads them takes its
// input rows in PyTorch's order. Every conversion is a permutation, so the
// round trip is exact. Each layer kind maps its own parameters (the `torch` of
// its module in layers/); this file walks a model's layers and moves the bytes.
import modelPy from '../../python/model.py?raw';
import predictPy from '../../python/predict.py?raw';
import readme from '../../python/README.md?raw';
import trainPy from '../../python/train.py?raw';
import { formatShape, sizeOf } from './buffers';
import { layerKind, layerName, type LayerShape } from './layers';
import type { TorchOrder, TorchParam } from './layers/layer';
import { loadModelBytes, type Model } from './model';
import { encodeModelFile, MODEL_FORMAT, readArchitecture, readModelFile, refuseExtraWeights, type Architecture } from './modelFile';
import { decodeSafetensors, encodeSafetensors, type Weight } from './safetensors';
import type { Gpu } from './device';

/** The metadata format of the PyTorch file, as safetensors' own PyTorch writer names it. */
export const TORCH_FORMAT = 'pt';

/** Every parameter of the architecture, in layer order, with its PyTorch name, shape and permutation; refuses what PyTorch cannot hold. */
export function torchParams(architecture: Architecture & { shapes: LayerShape[] }): TorchParam[] {
  const { layers, inputShape, shapes } = architecture;
  let input: readonly number[] = inputShape;
  let order: TorchOrder = null;
  const params: TorchParam[] = [];
  layers.forEach((layer, index) => {
    const name = layerName(layer, index);
    const mapped = layerKind(layer, index).torch(layer, input, shapes[index], order, { index, name });
    params.push(...mapped.params);
    order = mapped.order;
    input = shapes[index].output;
  });
  return params;
}

function permute(values: Float32Array, gather: Uint32Array | null, toTorch: boolean): Float32Array {
  if (!gather) return values.slice();
  const out = new Float32Array(values.length);
  if (toTorch) for (let t = 0; t < gather.length; t++) out[t] = values[gather[t]];
  else for (let t = 0; t < gather.length; t++) out[gather[t]] = values[t];
  return out;
}

/** A model file (our bytes, as `Model.toBytes()` writes them) as a PyTorch safetensors file. `source` names it in errors. */
export function modelFileToTorch(bytes: Uint8Array, source: string): Uint8Array {
  const file = readModelFile(bytes, source);
  const byName = new Map(file.weights.map((w) => [w.name, w]));
  const weights: Weight[] = torchParams(file).map((p) => ({ name: p.torch, shape: p.torchShape, values: permute(byName.get(p.ours)!.values, p.gather, true) }));
  const architecture: Architecture = { inputShape: file.inputShape, layers: file.layers };
  return encodeSafetensors(weights, { format: TORCH_FORMAT, architecture: JSON.stringify(architecture) });
}

/**
 * A PyTorch safetensors file (as the export or train.py writes it: PyTorch's
 * names and layouts, the architecture in its metadata) as our model file,
 * checked whole. `source` names it in errors.
 */
export function modelFileFromTorch(bytes: Uint8Array, source: string): Uint8Array {
  const { weights, metadata } = decodeSafetensors(bytes, source, 'a PyTorch safetensors file');
  if (metadata.format === MODEL_FORMAT) throw new Error(`${source}: is a webgpu-train model file already, not a PyTorch export (load it as it is)`);
  if (metadata.architecture === undefined) {
    throw new Error(`${source}: not a PyTorch export: no architecture in its metadata (train.py and the export write it; a bare state dict does not say which model it is)`);
  }
  const architecture = readArchitecture(metadata.architecture, source);
  // The layouts' permutations are as long as the weights: none is built for a layer whose weights the file cannot hold.
  const held = weights.reduce((sum, w) => sum + w.values.length, 0);
  architecture.shapes.forEach(({ params }, i) => {
    const needs = params.reduce((sum, p) => sum + sizeOf(p.shape), 0);
    if (needs > held) {
      throw new Error(`${source}: ${layerName(architecture.layers[i], i)} has ${needs.toLocaleString('en-US')} parameters, more than the ${held.toLocaleString('en-US')} values the file holds`);
    }
  });
  const byName = new Map(weights.map((w) => [w.name, w]));
  const ours = torchParams(architecture).map((p) => {
    const layer = Number(p.torch.split('.')[0]);
    const what = layerName(architecture.layers[layer], layer);
    const weight = byName.get(p.torch);
    if (!weight) throw new Error(`${source}: no tensor ${p.torch}, the ${formatShape(p.torchShape)} ${p.torch.split('.')[1]} of ${what}`);
    if (weight.shape.join() !== p.torchShape.join()) {
      throw new Error(`${source}: ${p.torch} has shape ${formatShape(weight.shape)} but ${what} expects ${formatShape(p.torchShape)}`);
    }
    byName.delete(p.torch);
    return { name: p.ours, shape: p.shape, values: permute(weight.values, p.gather, false) };
  });
  refuseExtraWeights([...byName.keys()], source);
  return encodeModelFile({ inputShape: architecture.inputShape, layers: architecture.layers }, ours);
}

/** The model's weights as a PyTorch safetensors file (see modelFileToTorch). */
export async function toTorch(model: Model): Promise<Uint8Array> {
  return modelFileToTorch(await model.toBytes(), 'model');
}

/** A model from a PyTorch safetensors file that the export or train.py wrote. */
export async function fromTorch(bytes: Uint8Array, options: { source?: string; gpu?: Gpu } = {}): Promise<Model> {
  const source = options.source ?? 'PyTorch weights';
  return loadModelBytes(modelFileFromTorch(bytes, source), { source, gpu: options.gpu });
}

/**
 * Everything a PyTorch user needs, as files of one directory: model.safetensors,
 * model.py, predict.py, train.py and a README. `model` is a model or the bytes of a model file.
 */
export async function torchFiles(model: Model | Uint8Array, source = 'model'): Promise<{ name: string; bytes: Uint8Array }[]> {
  const weights = model instanceof Uint8Array ? modelFileToTorch(model, source) : await toTorch(model);
  const text = (s: string) => new TextEncoder().encode(s);
  return [
    { name: 'model.safetensors', bytes: weights },
    { name: 'model.py', bytes: text(modelPy) },
    { name: 'predict.py', bytes: text(predictPy) },
    { name: 'train.py', bytes: text(trainPy) },
    { name: 'README.md', bytes: text(readme) },
  ];
}
