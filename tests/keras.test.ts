// Keras files in and out (src/engine/keras/), in Node and in the browser: the
// fixtures of tests/fixtures/keras (made by its make.py in the layouts each
// Keras version writes) load and predict what Keras' own definitions give
// (make.py's float64 NumPy pass) and what our float64 reference gives; a saved
// .keras has Keras 3's layout and loads back bit-exact; and each hostile or
// unsupported file is refused, naming the file, the layer and what is wrong,
// before the GPU is touched.
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import { describe, expect, test } from 'vitest';
import type { Gpu } from '../src/engine/device';
import { readKerasModel, toKeras, encodeKeras, loadKerasModel, kerasFormat } from '../src/engine/keras';
import { readHdf5, isDataset, isGroup, type Group } from '../src/engine/keras/hdf5';
import { averagePooling2d, batchNormalization, conv2d, dense, dropout, flatten, maxPooling2d } from '../src/engine/layers';
import { loadModelBytes, modelFromFile, sequential } from '../src/engine/model';
import { modelGradients } from '../src/reference/model';
import expected from './fixtures/keras/expected.json';
import { expectClose, seededRandom, testGpu } from './helpers';
import { deflatedZeros, zipOf } from './zipBomb';

/** A fixture's bytes: from disk in Node, from the test server in the browser. */
async function fixture(name: string): Promise<Uint8Array> {
  const url = new URL(`./fixtures/keras/${name}`, import.meta.url);
  if (typeof window === 'undefined') {
    const fsModule = 'node:fs/promises';
    const { readFile } = await import(/* @vite-ignore */ fsModule);
    return new Uint8Array(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`fetching ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

// Any use of this device fails the test with its own message: a file must be refused before the GPU.
const noGpu = new Proxy({} as Gpu, {
  get: () => {
    throw new Error('the GPU was touched before the file was refused');
  },
});

/** The error loading `bytes` gives, as a plain Error (not a TypeError from deep inside), and how long it took. */
async function refusal(bytes: Uint8Array, source: string): Promise<Error & { ms: number }> {
  const started = performance.now();
  const error = await loadKerasModel(bytes, { source, gpu: noGpu }).then(
    () => new Error('loaded'),
    (e: unknown) => e as Error,
  );
  expect(error.constructor).toBe(Error);
  return Object.assign(error, { ms: performance.now() - started });
}

/** Float64 softmax of each row of `logits`. */
function softmaxRows(logits: ArrayLike<number>, classes: number): Float64Array {
  const out = new Float64Array(logits.length);
  for (let r = 0; r < logits.length / classes; r++) {
    const row = Array.from({ length: classes }, (_, c) => logits[r * classes + c]);
    const max = Math.max(...row);
    const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
    row.forEach((v, c) => (out[r * classes + c] = Math.exp(v - max) / sum));
  }
  return out;
}

/** A .keras fixture with its config.json (as an object) changed by `edit`. */
async function editedKeras(name: string, edit: (config: any) => void): Promise<Uint8Array> {
  const members = unzipSync(await fixture(name));
  const config = JSON.parse(strFromU8(members['config.json']));
  edit(config);
  return zipSync({ ...members, 'config.json': strToU8(JSON.stringify(config)) }, { level: 0 });
}

const layerOf = (config: any, name: string) => config.config.layers.find((l: any) => l.config.name === name);

const FIXTURES: Record<string, string> = {
  'keras2.1-sequential.h5': 'Keras 2.1 .h5: config a list, no InputLayer, byte-string attributes, weights at conv2d_1/conv2d_1/kernel:0',
  'keras2.2-functional.h5': "tf.keras 2.2.4 .h5: Functional, fixed batch size, 'same' stride 2, average pooling 'same', axis as a list",
  'keras3.3-sequential.h5': 'Keras 3.3 .h5: weights at dense/sequential/dense/kernel, tanh and sigmoid, logits last',
  'keras2.13.keras': 'tf.keras 2.13 .keras: _layer_checkpoint_dependencies\\conv2d groups numbered with gaps',
  'keras2.15.keras': 'tf.keras 2.15 .keras: layers\\dense groups, batch normalization, softmax_v2',
  'keras3.1-sequential.keras': 'Keras 3.1 .keras: layers/dense_10 after layers/dense_9, a dropout between',
  'keras3.11-functional.keras': 'Keras 3.11 .keras: Functional, input_layer group, DTypePolicy, activation as a function object',
  'keras3.11-layers.keras':
    "Keras 3.11 .keras, Functional: Rescaling, Conv2D and Dense without a bias, BatchNormalization without beta, gamma or both, Activation, ReLU, LeakyReLU, pooling 'same', GlobalAveragePooling2D, Reshape, elu, selu, gelu, softplus, leaky_relu, Softmax last",
  'keras2.12-layers.h5': "tf.keras 2.12 .h5: Reshape first, LeakyReLU's alpha, max pooling 'same' overlapping, GlobalMaxPooling2D, a Dense without a bias, Activation",
};

describe('Keras files load and predict as Keras does', () => {
  for (const [name, what] of Object.entries(FIXTURES)) {
    test(`${name} (${what})`, async () => {
      const bytes = await fixture(name);
      const file = await readKerasModel(bytes, name);
      const { inputShape, x, probabilities } = (expected as Record<string, { inputShape: number[]; x: number[]; probabilities: number[] }>)[name];
      expect(file.inputShape).toEqual(inputShape);
      expect(file.format).toBe(name.endsWith('.keras') ? 'keras' : 'h5');
      const model = await modelFromFile(file, { gpu: await testGpu() });
      const got = await model.predict(Float32Array.from(x));
      const classes = model.outputShape[0];
      // Keras' own definitions, in float64 NumPy: catches a weight in the wrong place or layout.
      expectClose(`${name} against Keras' definitions`, got, probabilities, { atol: 1e-5, rtol: 0 });
      // Our float64 reference with the same weights.
      const N = x.length / inputShape.reduce((a, b) => a * b, 1);
      const { logits } = modelGradients({ layers: file.layers, inputShape: file.inputShape, params: file.weights.map((w) => w.values), x, labels: new Array(N).fill(0), N });
      expectClose(`${name} against the float64 reference`, got, softmaxRows(logits, classes), { atol: 1e-5, rtol: 0 });
      model.destroy();
    });
  }

  test('a last layer of logits runs with a softmax, and says so', async () => {
    const file = await readKerasModel(await fixture('keras3.3-sequential.h5'), 'logits.h5');
    expect(file.layers[2]).toMatchObject({ type: 'dense', activation: 'softmax' });
    expect(file.notes).toEqual([
      "layer 'dense_2' (Dense) outputs logits (activation linear): it runs with a softmax, as a loss with from_logits=True applies one; predictions are probabilities, and a save writes the softmax",
    ]);
  });

  test('the format comes from the first bytes, not the name', async () => {
    const h5 = await fixture('keras2.1-sequential.h5');
    expect(kerasFormat(h5)).toBe('h5');
    expect(kerasFormat(await fixture('keras2.13.keras'))).toBe('keras');
    // An HDF5 file named .keras, as some are, loads as the HDF5 it is.
    expect((await readKerasModel(h5, 'model.keras')).format).toBe('h5');
    expect(kerasFormat(new Uint8Array([1, 2, 3]))).toBe(null);
  });
});

/** Every layer kind, with 'same' padding that splits unevenly and a seeded dropout. */
function everyKind() {
  return sequential([
    conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', inputShape: [9, 9, 2] }),
    batchNormalization({ momentum: 0.9, epsilon: 0.01 }),
    averagePooling2d({ poolSize: 2, padding: 'same' }),
    conv2d({ filters: 4, kernelSize: [2, 1], activation: 'tanh' }),
    maxPooling2d({ poolSize: [1, 2] }),
    flatten(),
    dropout({ rate: 0.25, seed: 5 }),
    dense({ units: 7, activation: 'sigmoid' }),
    dense({ units: 10, activation: 'softmax' }),
  ]);
}

/** Weights unlike any initialisation, so that one put in another's place shows. */
async function randomWeights(model: ReturnType<typeof everyKind>) {
  const random = seededRandom(3);
  const weights = (await model.getWeights()).map((w) => ({ ...w, values: w.values.map(() => Math.fround(0.5 + random())) }));
  await model.setWeights(weights);
  return weights;
}

/** An HDF5 file's groups, datasets (with shape and type) and attributes, as paths. */
function layout(root: Group, path = ''): string[] {
  const lines = Object.keys(root.attrs).map((a) => `${path}/@${a}`);
  for (const key of root.keys()) {
    const entity = root.get(key);
    if (isGroup(entity)) lines.push(`${path}/${key}/`, ...layout(entity, `${path}/${key}`));
    else if (isDataset(entity)) lines.push(`${path}/${key} ${entity.dtype} [${entity.shape}]`);
  }
  return lines;
}

describe('saving', () => {
  test('a .keras file written here loads back bit-exact, and so does our own format', async () => {
    const model = everyKind();
    model.compile({ gpu: await testGpu(), seed: 1 });
    const weights = await randomWeights(model);
    const back = await readKerasModel(await toKeras(model), 'saved.keras');
    expect({ inputShape: back.inputShape, layers: back.layers }).toEqual({ inputShape: model.inputShape, layers: model.layers });
    expect(back.notes).toEqual([]);
    expect(back.weights.map((w) => w.name)).toEqual(weights.map((w) => w.name));
    back.weights.forEach((w, i) => expect(new Uint8Array(w.values.buffer), w.name).toEqual(new Uint8Array(weights[i].values.buffer)));
    // Through the GPU and our own format, from a Keras file.
    const loaded = await modelFromFile(back, { gpu: await testGpu() });
    const ours = await loadModelBytes(await loaded.toBytes(), { gpu: await testGpu() });
    const again = await ours.getWeights();
    again.forEach((w, i) => expect(new Uint8Array(w.values.buffer), w.name).toEqual(new Uint8Array(weights[i].values.buffer)));
    for (const m of [model, loaded, ours]) m.destroy();
  });

  test("a .keras file written here has Keras 3's layout: members, config keys, groups and datasets", async () => {
    const model = everyKind();
    model.compile({ gpu: await testGpu(), seed: 1 });
    const bytes = await toKeras(model);
    model.destroy();
    // Keras' members, in its order, stored (Keras writes them uncompressed).
    const members = unzipSync(bytes);
    expect(Object.keys(members)).toEqual(['metadata.json', 'config.json', 'model.weights.h5']);
    expect(JSON.parse(strFromU8(members['metadata.json']))).toMatchObject({ keras_version: '3.1.1', date_saved: expect.stringMatching(/^\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d$/) });
    const config = JSON.parse(strFromU8(members['config.json']));
    // The keys Keras 3.1.1 writes (from its files: see docs/keras.md); BatchNormalization's and AveragePooling2D's from 3.x files.
    expect(Object.keys(config)).toEqual(['module', 'class_name', 'config', 'registered_name', 'build_config']);
    expect(Object.keys(config.config)).toEqual(['name', 'trainable', 'dtype', 'layers', 'build_input_shape']);
    const keys: Record<string, string[]> = {
      InputLayer: ['batch_shape', 'dtype', 'sparse', 'name'],
      Conv2D: ['name', 'trainable', 'dtype', 'filters', 'kernel_size', 'strides', 'padding', 'data_format', 'dilation_rate', 'groups', 'activation', 'use_bias',
        'kernel_initializer', 'bias_initializer', 'kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint'],
      BatchNormalization: ['name', 'trainable', 'dtype', 'axis', 'momentum', 'epsilon', 'center', 'scale', 'beta_initializer', 'gamma_initializer',
        'moving_mean_initializer', 'moving_variance_initializer', 'beta_regularizer', 'gamma_regularizer', 'beta_constraint', 'gamma_constraint'],
      AveragePooling2D: ['name', 'trainable', 'dtype', 'pool_size', 'padding', 'strides', 'data_format'],
      MaxPooling2D: ['name', 'trainable', 'dtype', 'pool_size', 'padding', 'strides', 'data_format'],
      Flatten: ['name', 'trainable', 'dtype', 'data_format'],
      Dropout: ['name', 'trainable', 'dtype', 'rate', 'seed', 'noise_shape'],
      Dense: ['name', 'trainable', 'dtype', 'units', 'activation', 'use_bias', 'kernel_initializer', 'bias_initializer', 'kernel_regularizer', 'bias_regularizer',
        'kernel_constraint', 'bias_constraint'],
    };
    const layers = config.config.layers as { module: string; class_name: string; config: Record<string, unknown>; registered_name: null }[];
    expect(layers.map((l) => `${l.class_name} ${l.config.name}`)).toEqual([
      'InputLayer input_layer', 'Conv2D conv2d', 'BatchNormalization batch_normalization', 'AveragePooling2D average_pooling2d', 'Conv2D conv2d_1',
      'MaxPooling2D max_pooling2d', 'Flatten flatten', 'Dropout dropout', 'Dense dense', 'Dense dense_1',
    ]);
    for (const layer of layers) {
      expect(Object.keys(layer.config), layer.class_name).toEqual(keys[layer.class_name]);
      expect(layer).toMatchObject({ module: 'keras.layers', registered_name: null });
    }
    expect(layers[1].config).toMatchObject({ strides: [2, 2], padding: 'same', activation: 'relu' });
    expect(layers[4]).toMatchObject({ build_config: { input_shape: [null, 3, 3, 3] } });
    // Each layer's variables under layers/<name>/vars/<i>, float32, no attributes; the model's own empty vars.
    const h5 = await readHdf5(members['model.weights.h5'], 'model.weights.h5', (root) => layout(root));
    expect(h5).toEqual([
      '/layers/',
      '/layers/average_pooling2d/', '/layers/average_pooling2d/vars/',
      '/layers/batch_normalization/', '/layers/batch_normalization/vars/',
      '/layers/batch_normalization/vars/0 <f [3]', '/layers/batch_normalization/vars/1 <f [3]', '/layers/batch_normalization/vars/2 <f [3]', '/layers/batch_normalization/vars/3 <f [3]',
      '/layers/conv2d/', '/layers/conv2d/vars/', '/layers/conv2d/vars/0 <f [3,3,2,3]', '/layers/conv2d/vars/1 <f [3]',
      '/layers/conv2d_1/', '/layers/conv2d_1/vars/', '/layers/conv2d_1/vars/0 <f [2,1,3,4]', '/layers/conv2d_1/vars/1 <f [4]',
      '/layers/dense/', '/layers/dense/vars/', '/layers/dense/vars/0 <f [8,7]', '/layers/dense/vars/1 <f [7]',
      '/layers/dense_1/', '/layers/dense_1/vars/', '/layers/dense_1/vars/0 <f [7,10]', '/layers/dense_1/vars/1 <f [10]',
      '/layers/dropout/', '/layers/dropout/vars/',
      '/layers/flatten/', '/layers/flatten/vars/',
      '/layers/max_pooling2d/', '/layers/max_pooling2d/vars/',
      '/vars/',
    ]);
  });

  test.each(['keras3.11-layers.keras', 'keras2.12-layers.h5'])('%s saved as .keras loads back with the same layers, bit-exact', async (name) => {
    const file = await readKerasModel(await fixture(name), name);
    const written = await encodeKeras(file);
    const back = await readKerasModel(written, 'saved.keras');
    expect({ inputShape: back.inputShape, layers: back.layers }).toEqual({ inputShape: file.inputShape, layers: file.layers });
    expect(back.weights.map((w) => [w.name, w.shape])).toEqual(file.weights.map((w) => [w.name, w.shape]));
    back.weights.forEach((w, i) => expect(new Uint8Array(w.values.buffer), w.name).toEqual(new Uint8Array(file.weights[i].values.buffer)));
    if (name !== 'keras3.11-layers.keras') return;
    // Each class as Keras 3 writes it: the ReLU and Softmax layers as the Activation layers they are.
    const layers = JSON.parse(strFromU8(unzipSync(written)['config.json'])).config.layers as { class_name: string; config: Record<string, unknown> }[];
    expect(layers.map((l) => `${l.class_name} ${l.config.name}`)).toEqual([
      'InputLayer input_layer', 'Rescaling rescaling', 'Conv2D conv2d', 'BatchNormalization batch_normalization', 'Activation activation', 'MaxPooling2D max_pooling2d',
      'Conv2D conv2d_1', 'BatchNormalization batch_normalization_1', 'LeakyReLU leaky_re_lu', 'AveragePooling2D average_pooling2d', 'Conv2D conv2d_2',
      'BatchNormalization batch_normalization_2', 'Activation activation_1', 'GlobalAveragePooling2D global_average_pooling2d', 'Reshape reshape',
      'Dense dense', 'Dense dense_1', 'Dropout dropout', 'Dense dense_2', 'Activation activation_2',
    ]);
    const config = (i: number) => layers[i].config;
    expect([config(1), config(2), config(3), config(5)]).toMatchObject([{ scale: 2, offset: -1 }, { use_bias: false, activation: 'elu' }, { center: false, scale: true }, { padding: 'same' }]);
    expect([config(7), config(8), config(11), config(12)]).toMatchObject([{ center: true, scale: false }, { negative_slope: 0.1 }, { center: false, scale: false }, { activation: 'relu' }]);
    expect([config(13), config(14), config(16), config(19)]).toMatchObject([{ keepdims: true }, { target_shape: [-1] }, { use_bias: false, activation: 'leaky_relu' }, { activation: 'softmax' }]);
    // A batch normalization without beta holds three variables: gamma and the moving statistics.
    const groups = await readHdf5(unzipSync(written)['model.weights.h5'], 'weights', (root) => layout(root).filter((line) => line.startsWith('/layers/batch_normalization/vars/')));
    expect(groups).toEqual(['/layers/batch_normalization/vars/', '/layers/batch_normalization/vars/0 <f [4]', '/layers/batch_normalization/vars/1 <f [4]', '/layers/batch_normalization/vars/2 <f [4]']);
  });

  test("a Keras 3 fixture's config and groups read back as this writer writes them", async () => {
    // The fixture follows Keras 3.1's own files; written again, its layers keep their classes, names and groups.
    const file = await readKerasModel(await fixture('keras3.1-sequential.keras'), 'keras3.1-sequential.keras');
    const written = unzipSync(await encodeKeras(file));
    const original = unzipSync(await fixture('keras3.1-sequential.keras'));
    const names = (bytes: Uint8Array) => JSON.parse(strFromU8(bytes)).config.layers.map((l: any) => `${l.class_name} ${l.config.name}`);
    expect(names(written['config.json'])).toEqual(names(original['config.json']));
    const groups = (bytes: Uint8Array) => readHdf5(bytes, 'weights', (root) => layout(root).filter((line) => line.startsWith('/layers/')));
    expect(await groups(written['model.weights.h5'])).toEqual(await groups(original['model.weights.h5']));
  });
});

describe('refused, naming the file, the layer and what is wrong, before the GPU', () => {
  test('layer classes, settings and graphs that cannot run here', async () => {
    const cases: [string, (config: any) => void, string][] = [
      ['an LSTM', (c) => (layerOf(c, 'flatten').class_name = 'LSTM'), "x.keras: config.json: layer 'flatten' (LSTM) is not supported: no layer kind here reads Keras' LSTM (these do: Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, LeakyReLU, MaxPooling2D, ReLU, Rescaling, Reshape, Softmax)"],
      ['channels_first pooling', (c) => (layerOf(c, 'max_pooling2d').config.data_format = 'channels_first'), `x.keras: config.json: layer 'max_pooling2d' (MaxPooling2D): data_format "channels_first" is not supported (only "channels_last" or null)`],
      ['channels_first', (c) => (layerOf(c, 'conv2d').config.data_format = 'channels_first'), `x.keras: config.json: layer 'conv2d' (Conv2D): data_format "channels_first" is not supported (only "channels_last" or null)`],
      ['dilation', (c) => (layerOf(c, 'conv2d').config.dilation_rate = [2, 2]), "x.keras: config.json: layer 'conv2d' (Conv2D): dilation_rate [2,2] is not supported (only 1 or [1,1])"],
      ['groups', (c) => (layerOf(c, 'conv2d').config.groups = 3), "x.keras: config.json: layer 'conv2d' (Conv2D): groups 3 is not supported (only 1)"],
      ['a bias neither on nor off', (c) => (layerOf(c, 'dense').config.use_bias = 'no'), 'x.keras: config.json: layer \'dense\' (Dense): use_bias "no" is not supported (only true or false)'],
      ['a padding Keras does not have', (c) => (layerOf(c, 'max_pooling2d').config.padding = 'full'), `x.keras: config.json: layer 'max_pooling2d' (MaxPooling2D): unknown padding "full" (use valid, same)`],
      ['an activation', (c) => (layerOf(c, 'dense').config.activation = 'swish'), `x.keras: config.json: layer 'dense' (Dense): activation "swish" is not supported (only linear, relu, sigmoid, softmax, softmax_v2, tanh, elu, selu, softplus, leaky_relu, gelu)`],
      ['batch normalization off the last axis', (c) => (layerOf(c, 'batch_normalization').config.axis = 1), "x.keras: config.json: layer 'batch_normalization' (BatchNormalization): axis 1 is not supported (only the last, 3 or -1, for a [8, 8, 4] input)"],
      ['an input the first layer cannot take', (c) => (layerOf(c, 'input_layer').config.batch_shape = [null, 10, 10]), "x.keras: config.json: layer 'conv2d' (Conv2D): expects an [height, width, channels] input, got [10, 10]"],
      ['an open input size', (c) => (layerOf(c, 'input_layer').config.batch_shape = [null, null, null, 3]), 'x.keras: config.json: its input shape [null,null,null,3] leaves sizes open or is not made of positive integers'],
      ['a subclassed model', (c) => (c.class_name = 'MyModel'), 'x.keras: config.json: the model is a "MyModel"; only Sequential and Functional models can be read'],
      [
        'a branch (Add)',
        (c) => {
          const add = { module: 'keras.layers', class_name: 'Add', config: { name: 'add' }, name: 'add', inbound_nodes: [{ args: [[tensor('dropout'), tensor('flatten')]], kwargs: {} }] };
          c.config.layers.splice(6, 0, add);
          layerOf(c, 'dense').inbound_nodes[0].args[0] = tensor('add');
        },
        "x.keras: config.json: layer 'add' (Add) takes 2 inputs (dropout, flatten): the model branches; only a chain of layers can be read",
      ],
      [
        'a branch (Concatenate), the second path through its own layer',
        (c) => {
          const concatenate = { module: 'keras.layers', class_name: 'Concatenate', config: { name: 'concatenate', axis: -1 }, name: 'concatenate', inbound_nodes: [{ args: [[tensor('dropout'), tensor('flatten')]], kwargs: {} }] };
          c.config.layers.splice(6, 0, concatenate);
          layerOf(c, 'dense').inbound_nodes[0].args[0] = tensor('concatenate');
        },
        "x.keras: config.json: layer 'concatenate' (Concatenate) takes 2 inputs (dropout, flatten): the model branches; only a chain of layers can be read",
      ],
    ];
    const tensor = (from: string) => ({ class_name: '__keras_tensor__', config: { shape: [null, 64], dtype: 'float32', keras_history: [from, 0, 0] } });
    for (const [what, edit, message] of cases) {
      const error = await refusal(await editedKeras('keras3.11-functional.keras', edit), 'x.keras');
      expect(error.message, what).toBe(message);
    }
  });

  test("the other layers' settings that cannot run here", async () => {
    const cases: [string, (config: any) => void, string][] = [
      ['a capped ReLU (ReLU6)', (c) => (layerOf(c, 're_lu').config.max_value = 6), "x.keras: config.json: layer 're_lu' (ReLU): max_value 6 is not supported (only null)"],
      ['a ReLU with a threshold', (c) => (layerOf(c, 're_lu').config.threshold = 0.5), "x.keras: config.json: layer 're_lu' (ReLU): threshold 0.5 is not supported (only 0)"],
      ['a softmax over the batch', (c) => (layerOf(c, 'softmax').config.axis = 0), "x.keras: config.json: layer 'softmax' (Softmax): axis 0 is not supported (only the last, 1 or -1)"],
      ['a scale per channel', (c) => (layerOf(c, 'rescaling').config.scale = [1, 2]), "x.keras: config.json: layer 'rescaling' (Rescaling): scale [1,2] is not supported (only a number)"],
      ['an activation layer of an unknown activation', (c) => (layerOf(c, 'activation').config.activation = 'mish'), `x.keras: config.json: layer 'activation' (Activation): activation "mish" is not supported (only linear, relu, sigmoid, softmax, softmax_v2, tanh, elu, selu, softplus, leaky_relu, gelu)`],
      ['batch normalization with renorm', (c) => (layerOf(c, 'batch_normalization').config.renorm = true), "x.keras: config.json: layer 'batch_normalization' (BatchNormalization): renorm true is not supported (only false)"],
      ['a center that is not a boolean', (c) => (layerOf(c, 'batch_normalization').config.center = 'no'), 'x.keras: config.json: layer \'batch_normalization\' (BatchNormalization): center "no" is not supported (only true or false)'],
      ['global pooling of channels_first', (c) => (layerOf(c, 'global_average_pooling2d').config.data_format = 'channels_first'), `x.keras: config.json: layer 'global_average_pooling2d' (GlobalAveragePooling2D): data_format "channels_first" is not supported (only "channels_last" or null)`],
      ['a reshape to another size', (c) => (layerOf(c, 'reshape').config.target_shape = [4]), "x.keras: config.json: layer 'reshape' (Reshape): targetShape [4] does not hold the 5 values of the [1, 1, 5] input"],
      ['a reshape without a target shape', (c) => delete layerOf(c, 'reshape').config.target_shape, "x.keras: config.json: layer 'reshape' (Reshape): targetShape missing must be a list of sizes"],
      ['a dilation given as one number', (c) => (layerOf(c, 'conv2d_1').config.dilation_rate = 2), "x.keras: config.json: layer 'conv2d_1' (Conv2D): dilation_rate 2 is not supported (only 1 or [1,1])"],
    ];
    for (const [what, edit, message] of cases) {
      const error = await refusal(await editedKeras('keras3.11-layers.keras', edit), 'x.keras');
      expect(error.message, what).toBe(message);
    }
  });

  test('a config that does not match the weights', async () => {
    const wider = await editedKeras('keras3.11-functional.keras', (c) => (layerOf(c, 'dense').config.units = 11));
    expect((await refusal(wider, 'x.keras')).message).toBe("x.keras: model.weights.h5: layers/dense/vars/0 has shape [64, 10] but layer 'dense' (Dense) takes a [64, 11] kernel");
    // A Dense layer the config lacks: its group is left over.
    const fewer = await editedKeras('keras3.1-sequential.keras', (c) => {
      c.config.layers.splice(-1, 1);
      c.config.layers[c.config.layers.length - 1].config.activation = 'softmax';
    });
    expect((await refusal(fewer, 'x.keras')).message).toBe('x.keras: model.weights.h5: it holds variables for layers the config does not have: layers/dense_11');
    // One more Dense layer than the weights hold.
    const more = await editedKeras('keras2.15.keras', (c) => c.config.layers.push({ class_name: 'Dense', config: { name: 'dense_9', units: 10, activation: 'softmax' } }));
    expect((await refusal(more, 'x.keras')).message).toBe("x.keras: model.weights.h5: no weights for layer 'dense_9' (Dense): the file has no more groups of dense variables (under layers/) than the layers before it took");
    const hostile = await refusal(await fixture('hostile-dataset-shape.h5'), 'h.h5');
    expect(hostile.message).toBe("h.h5: model_weights/dense/kernel has shape [784, 400000000] but layer 'dense' (Dense) takes a [784, 2] kernel");
    expect(hostile.ms).toBeLessThan(5000);
  });

  test('a config claiming more parameters than the file holds: refused before any dataset is read', async () => {
    const h5 = await refusal(await fixture('hostile-config-shape.h5'), 'h.h5');
    expect(h5.message).toBe('h.h5: holds 8296 bytes, fewer than the 1256000000000 that the parameters of its model config take');
    expect(h5.ms).toBeLessThan(5000);
    const zip = await editedKeras('keras3.11-functional.keras', (c) => (layerOf(c, 'dense').config.units = 1e8));
    expect((await refusal(zip, 'z.keras')).message).toBe('z.keras: model.weights.h5 declares 26248 bytes, fewer than the 26000000512 that the parameters of config.json take');
  });

  test('a zip bomb: a member inflating past what it declares, or declaring too much', async () => {
    const config = strToU8(JSON.stringify({ class_name: 'Sequential', config: { layers: [{ class_name: 'Dense', config: { name: 'dense', units: 10, activation: 'softmax', batch_input_shape: [null, 4] } }] } }));
    // 64 KiB declared, 256 MiB inflated: stopped where it passes 64 KiB.
    const bomb = zipOf([
      { name: 'config.json', data: config, size: config.length, method: 0 },
      { name: 'model.weights.h5', data: deflatedZeros(256 << 20), size: 64 << 10, method: 8 },
    ]);
    expect(bomb.length).toBeLessThan(2_000_000);
    const past = await refusal(bomb, 'bomb.keras');
    expect(past.message).toBe('bomb.keras: model.weights.h5: inflates past the 65536 bytes it declares');
    expect(past.ms).toBeLessThan(5000);
    const claims = zipOf([
      { name: 'config.json', data: config, size: config.length, method: 0 },
      { name: 'model.weights.h5', data: new Uint8Array(1 << 20), size: 0xfffffff0, method: 0 },
    ]);
    expect((await refusal(claims, 'claims.keras')).message).toBe('claims.keras: model.weights.h5: declares 4294967280 bytes, more than the 16778816 it may hold');
    // A config claiming 25 million parameters, and a 100 kB member declaring their 100 MB.
    const claimed = strToU8(JSON.stringify({ class_name: 'Sequential', config: { layers: [{ class_name: 'Dense', config: { name: 'dense', units: 5000, activation: 'softmax', batch_input_shape: [null, 5000] } }] } }));
    const ratio = zipOf([
      { name: 'config.json', data: claimed, size: claimed.length, method: 0 },
      { name: 'model.weights.h5', data: deflatedZeros(16 << 20), size: 100_020_000, method: 8 },
    ]);
    expect((await refusal(ratio, 'ratio.keras')).message).toBe(
      'ratio.keras: model.weights.h5 declares 100020000 bytes from 105681 compressed: more than 16 times, which float weights never compress to',
    );
    const bigConfig = zipOf([{ name: 'config.json', data: deflatedZeros(1 << 20), size: 64 << 20, method: 8 }]);
    expect((await refusal(bigConfig, 'big.keras')).message).toBe('big.keras: config.json: declares 67108864 bytes, more than the 16777216 it may hold');
  });

  test('broken and foreign files', async () => {
    const h5 = await fixture('keras2.1-sequential.h5');
    expect((await refusal(h5.subarray(0, 3000), 'cut.h5')).message).toBe('cut.h5: HDF5 cannot read it: File has been truncated');
    expect((await refusal(new Uint8Array([1, 2, 3]), 'x.bin')).message).toBe("x.bin: not a Keras file: it starts with neither a zip's signature (.keras) nor HDF5's (.h5)");
    expect((await refusal(await fixture('weights-only.h5'), 'w.h5')).message).toBe("w.h5: holds weights only (Keras' save_weights), no model config: save the whole model (model.save) to open it here");
    const noConfig = zipSync({ 'model.weights.h5': new Uint8Array(8), 'README.md': strToU8('hello') }, { level: 0 });
    expect((await refusal(noConfig, 'other.zip')).message).toBe('other.zip: not a .keras file: the archive has no config.json (it holds model.weights.h5, README.md)');
    const keras = await fixture('keras2.13.keras');
    expect((await refusal(keras.subarray(0, keras.length - 10), 'cut.keras')).message).toBe('cut.keras: not a zip archive that can be read: no end of central directory record');
    const notJson = zipSync({ 'config.json': strToU8('{"class_name": ') }, { level: 0 });
    expect((await refusal(notJson, 'j.keras')).message).toMatch(/^j\.keras: config\.json: its model config is not JSON \(/);
  });
});
