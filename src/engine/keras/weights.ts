// Each layer's variables in a Keras weights file, found, checked against the
// config (count, shape, float type) before any is read, then read as ours.
//
// A .keras file's model.weights.h5 does not name its groups after the layers:
// Keras names them by class in model order (layers/dense, layers/dense_1; tf.keras
// 2.13 skipped numbers: dense, dense_2, dense_4) under `layers/`, or as
// top-level groups with a literal backslash (`layers\dense_1` in tf.keras 2.15,
// `_layer_checkpoint_dependencies\dense` in 2.13), each holding vars/0..n. So
// the k-th layer of a class with variables takes the k-th group of that class'
// name that holds any, in numeric order. A legacy .h5 file names each layer's
// group after it (model_weights/<layer>) and lists its datasets in the group's
// weight_names attribute (`dense_1/kernel:0` in Keras 2, `sequential/dense/kernel`
// or `kernel` in Keras 3).
import { formatShape, sizeOf } from '../buffers';
import type { Weight } from '../safetensors';
import { kerasLayerName, kerasSnakeCase, type KerasModel } from './config';
import { isDataset, isGroup, textListAttribute, type Dataset, type Group } from './hdf5';

/** A layer's datasets, where the file holds them (`layers/dense/vars/0`, for errors). */
interface Found {
  layer: number;
  datasets: { path: string; dataset: Dataset }[];
}

const LAYER_GROUP_PREFIXES = ['layers\\', '_layer_checkpoint_dependencies\\'];

/** The group `name` under `parent`, or undefined. */
const subgroup = (parent: Group, name: string): Group | undefined => {
  const entity = parent.keys().includes(name) ? parent.get(name) : null;
  return isGroup(entity) ? entity : undefined;
};

/** The datasets a .keras file's layer group holds in vars/, in numeric order. */
function groupVariables(group: Group, path: string): { path: string; dataset: Dataset }[] {
  const vars = subgroup(group, 'vars');
  if (!vars) return [];
  return vars
    .keys()
    .filter((key) => /^\d+$/.test(key))
    .sort((a, b) => Number(a) - Number(b))
    .flatMap((key) => {
      const dataset = vars.get(key);
      return isDataset(dataset) ? [{ path: `${path}/vars/${key}`, dataset }] : [];
    });
}

/** The layers' datasets in a .keras file's model.weights.h5 (see the top of this file). */
function findKerasWeights(root: Group, model: KerasModel, fail: (what: string) => never): Found[] {
  // Layer groups holding variables, by class name, each list in numeric order.
  const groups = new Map<string, { number: number; path: string; datasets: Found['datasets'] }[]>();
  const add = (name: string, group: Group, path: string) => {
    const datasets = groupVariables(group, path);
    if (datasets.length === 0) return;
    const [, base, number] = /^(.*?)(?:_(\d+))?$/.exec(name)!;
    groups.set(base, [...(groups.get(base) ?? []), { number: Number(number ?? 0), path, datasets }]);
  };
  const layers = subgroup(root, 'layers');
  for (const name of layers?.keys() ?? []) {
    const group = subgroup(layers!, name);
    if (group) add(name, group, `layers/${name}`);
  }
  for (const key of root.keys()) {
    const prefix = LAYER_GROUP_PREFIXES.find((p) => key.startsWith(p));
    const group = prefix && subgroup(root, key);
    if (group) add(key.slice(prefix.length), group, key);
  }
  for (const list of groups.values()) list.sort((a, b) => a.number - b.number);

  const found: Found[] = [];
  model.layers.forEach((layer, i) => {
    if (layer.shape.params.length === 0) return;
    const base = kerasSnakeCase(layer.className);
    const list = groups.get(base) ?? [];
    const group = list.shift();
    if (!group) fail(`no weights for ${kerasLayerName(layer)}: the file has no more groups of ${base} variables (under layers/) than the layers before it took`);
    found.push({ layer: i, datasets: group.datasets });
  });
  const left = [...groups.values()].flat();
  if (left.length > 0) fail(`it holds variables for layers the config does not have: ${left.map((g) => g.path).join(', ')}`);
  return found;
}

/** The layers' datasets in a legacy .h5 file (see the top of this file). */
function findLegacyWeights(root: Group, model: KerasModel, fail: (what: string) => never): Found[] {
  const weights = subgroup(root, 'model_weights') ?? fail('it has a model_config but no model_weights group');
  const found: Found[] = [];
  const names = new Set<string>();
  model.layers.forEach((layer, i) => {
    names.add(layer.name);
    if (layer.shape.params.length === 0) return;
    const group = subgroup(weights, layer.name) ?? fail(`no weights for ${kerasLayerName(layer)}: there is no group model_weights/${layer.name}`);
    const list = textListAttribute(group, 'weight_names') ?? fail(`model_weights/${layer.name} has no weight_names attribute listing its datasets`);
    const datasets = list.map((name) => {
      const path = `model_weights/${layer.name}/${name}`;
      const dataset = group.get(name);
      return isDataset(dataset) ? { path, dataset } : fail(`${path}, which weight_names lists for ${kerasLayerName(layer)}, is not a dataset`);
    });
    found.push({ layer: i, datasets });
  });
  for (const name of textListAttribute(weights, 'layer_names') ?? []) {
    const group = subgroup(weights, name);
    if (!names.has(name) && group && (textListAttribute(group, 'weight_names') ?? []).length > 0) {
      fail(`it holds weights for a layer '${name}' that its model config does not have`);
    }
  }
  return found;
}

/** Checks each layer's datasets against its parameters (count, shape, float type), then reads them as ours. */
function readFound(model: KerasModel, found: Found[], fail: (what: string) => never): Weight[] {
  for (const { layer, datasets } of found) {
    const { shape } = model.layers[layer];
    const at = kerasLayerName(model.layers[layer]);
    if (datasets.length !== shape.params.length) {
      const expected = shape.params.map((p) => p.name).join(', ');
      fail(`${at} has ${datasets.length} variables in the file (${datasets.map((d) => d.path).join(', ')}) but takes ${shape.params.length} (${expected})`);
    }
    datasets.forEach(({ path, dataset }, k) => {
      const spec = shape.params[k];
      const dims = dataset.shape;
      if (!dims || dims.join() !== spec.shape.join()) {
        fail(`${path} has shape ${dims ? formatShape(dims) : 'none'} but ${at} takes a ${formatShape(spec.shape)} ${spec.name}`);
      }
      if (dataset.dtype !== '<f' && dataset.dtype !== '<d') fail(`${path} holds ${JSON.stringify(dataset.dtype)} values, not little-endian float32 or float64`);
    });
  }
  // Everything is checked: only now is any variable read.
  return found.flatMap(({ layer, datasets }) =>
    datasets.map(({ dataset }, k) => {
      const spec = model.layers[layer].shape.params[k];
      const value = dataset.value as Float32Array | Float64Array;
      if (value.length !== sizeOf(spec.shape)) fail(`${datasets[k].path} holds ${value.length} values, not ${sizeOf(spec.shape)}`);
      return { name: `layers.${layer}.${spec.name}`, shape: spec.shape, values: value instanceof Float32Array ? value : Float32Array.from(value) };
    }),
  );
}

/** The model's weights from a .keras file's model.weights.h5; errors start with `source`. */
export function readKerasWeights(root: Group, model: KerasModel, source: string): Weight[] {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  return readFound(model, findKerasWeights(root, model, fail), fail);
}

/** The model's weights from a legacy .h5 file; errors start with `source`. */
export function readLegacyWeights(root: Group, model: KerasModel, source: string): Weight[] {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  return readFound(model, findLegacyWeights(root, model, fail), fail);
}
