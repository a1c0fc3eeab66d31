// Keras' model config (a .keras file's config.json, an .h5 file's model_config)
// as our architecture, and ours as Keras 3's config.json.
//
// Read: a Sequential model, or a Functional one whose layers form one chain from
// one input to one output; Keras 2's serialization (`batch_input_shape`, the
// input shape on the first layer, no InputLayer, inbound nodes as lists) and
// Keras 3's (`batch_shape`, `build_config`, inbound nodes holding
// `__keras_tensor__`s). Each layer is converted by the layer kind that reads
// its class (layers/: each kind's `keras.read`) and checked against its input
// shape by that kind, so an error names the layer as the file does.
import { sizeOf } from '../buffers';
import { kerasClasses, kerasReader, layerKind, type LayerConfig, type LayerShape } from '../layers';
import { isObject, quoteJson } from '../safetensors';
import type { Architecture } from '../modelFile';

/** A layer of a Keras model as we run it, with its name and class in the file. */
export interface KerasLayer {
  name: string;
  className: string;
  config: LayerConfig;
  shape: LayerShape;
}

/** A Keras model config, read. */
export interface KerasModel {
  inputShape: number[];
  layers: KerasLayer[];
  /** What differs from the file in how it runs here, said to the user (a last layer's logits given a softmax). */
  notes: string[];
}

/** `layer 'conv2d_1' (Conv2D)`: how errors name a layer of a Keras file. */
export const kerasLayerName = (layer: { name: string; className: string }) => `layer '${layer.name}' (${layer.className})`;

/** Keras' name for a class' objects (`MaxPooling2D` → `max_pooling2d`): its layers' default names and weight groups. */
export function kerasSnakeCase(className: string): string {
  return className
    .replace(/\W+/g, '')
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/** A model layer entry: its class, config and name (Functional entries carry the name beside the config too). */
interface Entry {
  className: string;
  config: Record<string, unknown>;
  name: string;
  inbound: unknown;
}

/** The layers Keras' Functional `inbound_nodes` feed into one layer, one list per call of it. */
function inboundLayers(nodes: unknown): string[][] {
  if (!Array.isArray(nodes)) return [];
  return nodes.map((node) => {
    // Keras 2: [["conv2d", 0, 0, {}], ...]; Keras 3: {"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["conv2d", 0, 0]}}], "kwargs": {}}.
    if (Array.isArray(node)) return node.filter(Array.isArray).map((tensor) => String(tensor[0]));
    const names: string[] = [];
    const walk = (value: unknown) => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (isObject(value) && value.class_name === '__keras_tensor__' && isObject(value.config) && Array.isArray(value.config.keras_history)) {
        names.push(String(value.config.keras_history[0]));
      } else if (isObject(value)) Object.values(value).forEach(walk);
    };
    walk(isObject(node) ? node.args : node);
    return names;
  });
}

/** `input_layers`/`output_layers`: one [name, node, tensor] triple (Keras 3, one input) or a list of them. */
function endpointNames(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return (Array.isArray(value[0]) ? value : [value]).map((triple) => String((triple as unknown[])[0]));
}

/** A Functional model's entries in the order data flows through them: refused unless they form one chain. */
function chain(entries: Entry[], config: Record<string, unknown>, fail: (what: string) => never): Entry[] {
  const inputs = endpointNames(config.input_layers);
  const outputs = endpointNames(config.output_layers);
  if (inputs.length !== 1 || outputs.length !== 1) {
    fail(`the model has ${inputs.length} inputs and ${outputs.length} outputs; only a chain of layers from one input to one output can be read`);
  }
  const next = new Map<string, Entry>();
  for (const entry of entries) {
    const calls = inboundLayers(entry.inbound);
    if (calls.length === 0) continue;
    if (calls.length > 1) fail(`${kerasLayerName(entry)} is called ${calls.length} times (a shared layer); only a chain of layers can be read`);
    const [from] = calls;
    if (from.length !== 1) {
      fail(`${kerasLayerName(entry)} takes ${from.length} inputs (${from.join(', ')}): the model branches; only a chain of layers can be read`);
    }
    const taken = next.get(from[0]);
    if (taken) fail(`layer '${from[0]}' feeds both '${taken.name}' and '${entry.name}': the model branches; only a chain of layers can be read`);
    next.set(from[0], entry);
  }
  const byName = new Map(entries.map((entry) => [entry.name, entry]));
  const ordered = [byName.get(inputs[0]) ?? fail(`its input layer '${inputs[0]}' is not among its layers`)];
  for (let entry = next.get(inputs[0]); entry; entry = next.get(entry.name)) ordered.push(entry);
  const last = ordered[ordered.length - 1];
  if (last.name !== outputs[0]) fail(`its chain of layers from '${inputs[0]}' ends at '${last.name}', not at its output '${outputs[0]}'`);
  if (ordered.length !== entries.length) {
    const off = entries.filter((entry) => !ordered.includes(entry)).map((entry) => entry.name);
    fail(`layers ${off.join(', ')} are not on the chain from '${inputs[0]}' to '${outputs[0]}'`);
  }
  return ordered;
}

/** A batch shape ([null, 28, 28, 1], the batch size fixed or not) as our input shape, or undefined. */
function inputOf(shape: unknown, fail: (what: string) => never): number[] | undefined {
  if (!Array.isArray(shape) || shape.length < 2) return undefined;
  const input = shape.slice(1);
  if (!input.every((d) => Number.isSafeInteger(d) && d > 0)) fail(`its input shape ${quoteJson(shape)} leaves sizes open or is not made of positive integers`);
  return input as number[];
}

/** Fields that change training, which we do not follow: said, not refused (evaluating is not affected). */
const TRAINING_ONLY = ['kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint', 'beta_regularizer', 'gamma_regularizer'];

/** A Keras model config (JSON text) as our layers, each checked against its input; `source` names the file in errors. */
export function readKerasConfig(text: string, source: string): KerasModel {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  let model: unknown;
  try {
    model = JSON.parse(text);
  } catch (error) {
    return fail(`its model config is not JSON (${(error as Error).message})`);
  }
  if (!isObject(model)) return fail(`its model config is ${quoteJson(model)}, not a JSON object`);
  const { class_name: className } = model;
  const config = Array.isArray(model.config) ? { layers: model.config } : model.config;
  if (!isObject(config) || !Array.isArray(config.layers)) return fail(`its model config has no list of layers`);
  const entries: Entry[] = config.layers.map((entry, i) => {
    if (!isObject(entry) || typeof entry.class_name !== 'string' || !isObject(entry.config)) {
      return fail(`layer ${i} of its config is ${quoteJson(entry)}, not an object with a class_name and a config`);
    }
    const name = entry.config.name ?? entry.name ?? `#${i}`;
    return { className: entry.class_name, config: entry.config, name: String(name), inbound: entry.inbound_nodes };
  });
  let ordered: Entry[];
  if (className === 'Sequential') ordered = [...entries];
  else if (className === 'Functional' || className === 'Model') ordered = chain(entries, config, fail);
  else return fail(`the model is a ${quoteJson(className)}; only Sequential and Functional models can be read`);

  // The input shape: the InputLayer's, else the first layer's (Keras 2), else the model's build shape (Keras 3).
  let inputShape: number[] | undefined;
  if (ordered[0]?.className === 'InputLayer') {
    const { config: input } = ordered.shift()!;
    inputShape = inputOf(input.batch_shape ?? input.batch_input_shape, fail);
  }
  if (ordered.length === 0) fail('the model has no layers');
  inputShape ??=
    inputOf(ordered[0].config.batch_input_shape, fail) ??
    inputOf(config.build_input_shape, fail) ??
    inputOf(isObject(model.build_config) ? model.build_config.input_shape : undefined, fail) ??
    fail('the file does not say the shape of its input (no InputLayer, batch_input_shape or build_config)');

  const notes: string[] = [];
  let input = inputShape;
  const layers = ordered.map((entry, i): KerasLayer => {
    const at = kerasLayerName(entry);
    if (entry.className === 'InputLayer') fail(`${at} is not the model's first layer`);
    const read = kerasReader(entry.className) ?? fail(`${at} is not supported: no layer kind here reads Keras' ${entry.className} (these do: ${kerasClasses().join(', ')})`);
    let layer: LayerConfig;
    let shape: LayerShape;
    try {
      layer = read(entry.config, input);
      shape = layerKind(layer, i).shape(layer, input, at);
    } catch (error) {
      const message = (error as Error).message;
      return fail(message.startsWith(at) ? message : `${at}: ${message}`);
    }
    if (entry.config.trainable === false) notes.push(`${at} is frozen in Keras (trainable: false); training here updates it too`);
    const ignored = TRAINING_ONLY.filter((field) => entry.config[field] != null);
    if (ignored.length > 0) notes.push(`${at} has ${ignored.join(', ')}, which training here does not apply`);
    input = shape.output;
    return { name: entry.name, className: entry.className, config: layer, shape };
  });
  layers[0].config = { ...layers[0].config, inputShape };

  // Our models end in a softmax, which the loss takes; Keras models often end in
  // logits, compiled with from_logits=True: the same loss, accuracy and argmax.
  const last = layers[layers.length - 1];
  if (last.config.type === 'dense' && last.config.activation === 'linear') {
    last.config = { ...last.config, activation: 'softmax' };
    notes.push(`${kerasLayerName(last)} outputs logits (activation linear): it runs with a softmax, as a loss with from_logits=True applies one; predictions are probabilities, and a save writes the softmax`);
  }
  return { inputShape, layers, notes };
}

/** The bytes the model's parameters take as float32: what a weights file must hold at least. */
export const parameterBytes = (model: KerasModel) => 4 * model.layers.reduce((n, { shape }) => n + shape.params.reduce((m, p) => m + sizeOf(p.shape), 0), 0);

/** Each layer's Keras name, as Keras names layers and their weight groups: its class' snake case, then _1, _2, ... in model order. */
export function kerasNames(classNames: readonly string[]): string[] {
  const used = new Map<string, number>();
  return classNames.map((className) => {
    const base = kerasSnakeCase(className);
    const count = used.get(base) ?? 0;
    used.set(base, count + 1);
    return count === 0 ? base : `${base}_${count}`;
  });
}

/**
 * Our architecture as Keras 3's config.json: a Sequential model with an
 * InputLayer, each layer as its kind writes it, in the serialization Keras 3
 * writes (module, class_name, config, registered_name, build_config). Dtypes
 * are written as names, which every Keras 3 release reads.
 */
export function kerasConfig(architecture: Architecture & { shapes: LayerShape[] }): { json: string; names: string[] } {
  const { inputShape, layers, shapes } = architecture;
  const written = layers.map((layer, i) => layerKind(layer, i).keras.write(layer));
  const names = kerasNames(written.map((w) => w.className));
  const batchShape = [null, ...inputShape];
  const input = { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: batchShape, dtype: 'float32', sparse: false, name: 'input_layer' }, registered_name: null };
  const entries = written.map(({ className, config }, i) => ({
    module: 'keras.layers',
    class_name: className,
    config: { name: names[i], trainable: true, dtype: 'float32', ...config },
    registered_name: null,
    build_config: { input_shape: [null, ...(i === 0 ? inputShape : shapes[i - 1].output)] },
  }));
  const model = {
    module: 'keras',
    class_name: 'Sequential',
    config: { name: 'sequential', trainable: true, dtype: 'float32', layers: [input, ...entries], build_input_shape: batchShape },
    registered_name: null,
    build_config: { input_shape: batchShape },
  };
  return { json: JSON.stringify(model), names };
}
