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
// round trip is exact.
import modelPy from '../../python/model.py?raw';
import predictPy from '../../python/predict.py?raw';
import readme from '../../python/README.md?raw';
import trainPy from '../../python/train.py?raw';
import { formatShape, sizeOf } from './buffers';
import { layerName, type LayerConfig, type LayerShape } from './layers';
import { loadModelBytes, type Model } from './model';
import { encodeModelFile, MODEL_FORMAT, readArchitecture, readModelFile, type Architecture } from './modelFile';
import { decodeSafetensors, encodeSafetensors, type Weight } from './safetensors';
import type { Gpu } from './device';

/** The metadata format of the PyTorch file, as safetensors' own PyTorch writer names it. */
export const TORCH_FORMAT = 'pt';

/**
 * For a flat tensor: where each value in PyTorch's order sits in ours, or null
 * where the two orders agree.
 */
type Order = Uint32Array | null;

/** One parameter: our name and shape, PyTorch's, and `gather[t]`, the index in ours of PyTorch's value t (null: the same). */
interface TorchParam {
  ours: string;
  shape: number[];
  torch: string;
  torchShape: number[];
  gather: Uint32Array | null;
}

interface TorchLayer {
  params: TorchParam[];
  /** The order of the layer's output, when it is flat. */
  order: Order;
}

type Mapping<C extends LayerConfig> = (config: C, input: readonly number[], shape: LayerShape, order: Order, at: { index: number; name: string }) => TorchLayer;

const same = (at: { index: number }, ours: string, torch: string, shape: number[], gather: Uint32Array | null = null): TorchParam => ({
  ours: `layers.${at.index}.${ours}`,
  shape,
  torch: `${at.index}.${torch}`,
  torchShape: shape,
  gather,
});

/** A layer that holds no parameters and whose output keeps its input's order (elementwise). */
const passOrder: Mapping<LayerConfig> = (_config, _input, _shape, order) => ({ params: [], order });
/** An image layer without parameters: its output is an image again, whose order PyTorch's layout fixes. */
const imageOnly: Mapping<LayerConfig> = () => ({ params: [], order: null });

/** How each layer kind maps: a new kind does not compile until it has an entry. */
const MAPPINGS: { [T in LayerConfig['type']]: Mapping<Extract<LayerConfig, { type: T }>> } = {
  conv2d(_config, _input, shape, _order, at) {
    const [kernel, bias] = shape.params;
    const [KH, KW, C_in, C_out] = kernel.shape;
    const gather = new Uint32Array(sizeOf(kernel.shape));
    let t = 0;
    for (let co = 0; co < C_out; co++) {
      for (let ci = 0; ci < C_in; ci++) {
        for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) gather[t++] = ((kh * KW + kw) * C_in + ci) * C_out + co;
      }
    }
    return {
      params: [{ ...same(at, 'kernel', 'weight', kernel.shape), torchShape: [C_out, C_in, KH, KW], gather }, same(at, 'bias', 'bias', bias.shape)],
      order: null,
    };
  },

  dense(_config, _input, shape, order, at) {
    const [kernel, bias] = shape.params;
    const [inputs, units] = kernel.shape;
    const gather = new Uint32Array(inputs * units);
    for (let o = 0; o < units; o++) for (let i = 0; i < inputs; i++) gather[o * inputs + i] = (order ? order[i] : i) * units + o;
    return {
      params: [{ ...same(at, 'kernel', 'weight', kernel.shape), torchShape: [units, inputs], gather }, same(at, 'bias', 'bias', bias.shape)],
      order: null,
    };
  },

  batchNormalization(_config, input, shape, order, at) {
    // PyTorch's BatchNorm normalizes dimension 1: the features of [N, F], the channels of NCHW.
    if (input.length !== 1 && input.length !== 3) {
      throw new Error(`${at.name}: cannot export to PyTorch: its input ${formatShape(input)} is neither [features] nor [height, width, channels], and PyTorch's BatchNorm normalizes over dimension 1`);
    }
    const names: [string, string][] = [['gamma', 'weight'], ['beta', 'bias'], ['moving_mean', 'running_mean'], ['moving_variance', 'running_var']];
    const params = names.map(([ours, torch], k) => same(at, ours, torch, shape.params[k].shape, input.length === 1 ? order : null));
    return { params, order: input.length === 1 ? order : null };
  },

  flatten(_config, input, _shape, order) {
    if (input.length === 1) return { params: [], order };
    if (input.length !== 3 || input[2] === 1) return { params: [], order: null };
    const [H, W, C] = input;
    const flat = new Uint32Array(H * W * C);
    let t = 0;
    for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) flat[t++] = (h * W + w) * C + c;
    return { params: [], order: flat };
  },

  dropout: passOrder,
  maxPooling2d: imageOnly,
  averagePooling2d: imageOnly,
};

/** Every parameter of the architecture, in layer order, with its PyTorch name, shape and permutation; refuses what PyTorch cannot hold. */
export function torchParams(architecture: Architecture & { shapes: LayerShape[] }): TorchParam[] {
  const { layers, inputShape, shapes } = architecture;
  let input: readonly number[] = inputShape;
  let order: Order = null;
  const params: TorchParam[] = [];
  layers.forEach((layer, index) => {
    const name = layerName(layer, index);
    const mapping = MAPPINGS[layer.type] as Mapping<LayerConfig> | undefined;
    if (!mapping) throw new Error(`${name}: cannot export to PyTorch: no mapping for layer type '${layer.type}'`);
    const mapped = mapping(layer, input, shapes[index], order, { index, name });
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
  const { weights, metadata } = decodeSafetensors(bytes, source);
  if (metadata.format === MODEL_FORMAT) throw new Error(`${source}: is a webgpu-train model file already, not a PyTorch export (load it as it is)`);
  if (metadata.architecture === undefined) {
    throw new Error(`${source}: not a PyTorch export: no architecture in its metadata (train.py and the export write it; a bare state dict does not say which model it is)`);
  }
  const architecture = readArchitecture(metadata.architecture, source);
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
  if (byName.size > 0) {
    const extra = [...byName.keys()];
    throw new Error(`${source}: the model has no parameter named ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ` and ${extra.length - 5} more` : ''}`);
  }
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
