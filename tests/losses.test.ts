// compile({ loss, metrics }) end to end: the losses train models, fused with
// the last layer's activation or from its logits; the metrics are in the logs
// by Keras' names; y is labels, one-hot rows or any target rows, float32 or
// bytes; a last layer or a y that does not fit is refused, naming what is
// wrong; and the Keras blog's autoencoder learns its images.
import { describe, expect, test } from 'vitest';
import { dense, flatten, type ActivationName } from '../src/engine/layers';
import type { LossOption, MetricName } from '../src/engine/losses';
import { sequential, type Model } from '../src/engine/model';
import { tutorialModel, tutorialRecipe } from '../src/engine/tutorial';
import { seededRandom, testGpu } from './helpers';
import { testMnist } from './mnist';

const ROWS = 60;
const FEATURES = 8;
const CLASSES = 4;
const random = seededRandom(17);
const x = Float32Array.from({ length: ROWS * FEATURES }, () => random() * 2 - 1);
// A class a model can learn: the signs of the first two features.
const labels = Uint8Array.from({ length: ROWS }, (_, i) => Number(x[i * FEATURES] > 0) + 2 * Number(x[i * FEATURES + 1] > 0));
const oneHot = Float32Array.from({ length: ROWS * CLASSES }, (_, k) => (labels[Math.floor(k / CLASSES)] === k % CLASSES ? 1 : 0));

/** 8 -> 12 -> 4 (`activation`), compiled with the loss and metrics given and a fixed seed. */
async function model(activation: ActivationName, loss: LossOption, metrics: MetricName[] = []): Promise<Model> {
  const m = sequential([flatten({ inputShape: [FEATURES] }), dense({ units: 12, activation: 'relu' }), dense({ units: CLASSES, activation })]);
  m.compile({ optimizer: 'adam', loss, metrics, seed: 5, gpu: await testGpu() });
  return m;
}

const weights = async (m: Model) => (await m.getWeights()).map((w) => [...w.values]);

describe('losses train models', () => {
  test("without metrics the logs hold the loss only, as Keras'; each metric is logged by Keras' name", async () => {
    const plain = await model('softmax', 'sparseCategoricalCrossentropy');
    const history = await plain.fit(x, labels, { epochs: 1, batchSize: 16, verbose: 0 });
    expect(Object.keys(history.history)).toEqual(['loss']);
    expect(Object.keys(await plain.evaluate(x, labels))).toEqual(['loss']);
    const all = await model('softmax', 'categoricalCrossentropy', ['accuracy', 'topKCategoricalAccuracy', 'mse', 'mae']);
    const logged = await all.fit(x, oneHot, { epochs: 2, batchSize: 16, validationSplit: 0.25, verbose: 0 });
    expect(Object.keys(logged.history).sort()).toEqual(
      ['accuracy', 'loss', 'mae', 'mse', 'top_k_categorical_accuracy'].flatMap((name) => [name, `val_${name}`]).sort(),
    );
    // Four classes: each is in the top 5.
    expect(logged.history.top_k_categorical_accuracy).toEqual([1, 1]);
    for (const values of Object.values(logged.history)) for (const v of values) expect(Number.isFinite(v)).toBe(true);
    expect(Object.keys(logged.epochs[0].printed).sort()).toEqual(['accuracy', 'loss', 'mae', 'mse', 'top_k_categorical_accuracy']);
    plain.destroy();
    all.destroy();
  });

  test('categorical cross-entropy on one-hot rows trains as the sparse one on labels: the same losses and weights', async () => {
    const sparse = await model('softmax', 'sparseCategoricalCrossentropy');
    const categorical = await model('softmax', 'categoricalCrossentropy');
    const a = await sparse.fit(x, labels, { epochs: 2, batchSize: 16, verbose: 0 });
    const b = await categorical.fit(x, oneHot, { epochs: 2, batchSize: 16, verbose: 0 });
    expect(b.history.loss).toEqual(a.history.loss);
    expect(await weights(categorical)).toEqual(await weights(sparse));
    sparse.destroy();
    categorical.destroy();
  });

  test('fromLogits on a linear last layer trains as the loss fused with its softmax or sigmoid; predict gives the logits', async () => {
    for (const [activation, kind] of [
      ['softmax', 'sparseCategoricalCrossentropy'],
      ['sigmoid', 'binaryCrossentropy'],
    ] as const) {
      const y = kind === 'binaryCrossentropy' ? oneHot : labels;
      const fused = await model(activation, kind, ['accuracy']);
      const logits = await model('linear', { kind, fromLogits: true }, ['accuracy']);
      const a = await fused.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
      const b = await logits.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
      // Nothing is clipped this early, where the two losses differ.
      expect(b.history.loss, kind).toEqual(a.history.loss);
      expect(await weights(logits), kind).toEqual(await weights(fused));
      const outputs = await fused.predict(x.subarray(0, 3 * FEATURES));
      const z = await logits.predict(x.subarray(0, 3 * FEATURES));
      for (let i = 0; i < 3; i++) {
        const row = Array.from(z.subarray(i * CLASSES, (i + 1) * CLASSES));
        const want = activation === 'sigmoid' ? row.map((v) => 1 / (1 + Math.exp(-v))) : row.map((v) => Math.exp(v) / row.reduce((s, u) => s + Math.exp(u), 0));
        want.forEach((p, j) => expect(outputs[i * CLASSES + j]).toBeCloseTo(p, 6));
      }
      fused.destroy();
      logits.destroy();
    }
  });

  test('mean squared and absolute error train any last layer, its activation run backward by the layer', async () => {
    for (const [activation, loss] of [
      ['linear', 'mse'],
      ['sigmoid', 'meanSquaredError'],
      ['softmax', 'mae'],
      ['tanh', 'meanAbsoluteError'],
    ] as const) {
      const m = await model(activation, loss, ['accuracy']);
      const history = await m.fit(x, oneHot, { epochs: 12, batchSize: 16, verbose: 0 });
      const losses = history.history.loss;
      expect(losses.at(-1), `${activation} ${loss}`).toBeLessThan(losses[0]);
      // The accuracy of target rows is the categorical accuracy of the outputs.
      const predicted = await m.predict(x);
      let right = 0;
      for (let i = 0; i < ROWS; i++) {
        const row = Array.from(predicted.subarray(i * CLASSES, (i + 1) * CLASSES));
        if (row.indexOf(Math.max(...row)) === labels[i]) right++;
      }
      expect((await m.evaluate(x, oneHot)).accuracy).toBeCloseTo(right / ROWS, 6);
      m.destroy();
    }
  });
});

describe('what does not fit is refused, named', () => {
  const layers = (activation: ActivationName) => [flatten({ inputShape: [FEATURES] }), dense({ units: CLASSES, activation })];
  const compile = (activation: ActivationName, loss: LossOption, metrics: MetricName[] = []) => () => sequential(layers(activation)).compile({ loss, metrics });

  test('a last layer that does not fit the loss, at compile', () => {
    expect(compile('softmax', 'binaryCrossentropy')).toThrow(
      "binaryCrossentropy: the last layer must be dense or conv2d with a sigmoid activation (or linear, with fromLogits: true), but layer 1 (dense) has activation 'softmax'",
    );
    expect(compile('softmax', { kind: 'categoricalCrossentropy', fromLogits: true })).toThrow(
      "categoricalCrossentropy: with fromLogits, the last layer must be linear (it gives the logits), but layer 1 (dense) has activation 'softmax'",
    );
    expect(compile('sigmoid', 'sparseCategoricalCrossentropy')).toThrow(
      "sparseCategoricalCrossentropy: the last layer must be dense with a softmax activation (or linear, with fromLogits: true), but layer 1 (dense) has activation 'sigmoid'",
    );
    expect(compile('linear', { kind: 'meanSquaredError', fromLogits: true })).toThrow('compile(): fromLogits applies to the cross-entropies, not to meanSquaredError');
    expect(compile('linear', 'hinge' as LossOption)).toThrow("compile(): unknown loss 'hinge' (known: sparseCategoricalCrossentropy, categoricalCrossentropy, binaryCrossentropy, meanSquaredError, meanAbsoluteError, mse, mae)");
  });

  test('metrics that do not fit the targets', () => {
    expect(compile('softmax', 'sparseCategoricalCrossentropy', ['mse'])).toThrow("compile(): metric 'mse' needs targets of the output's shape, but sparseCategoricalCrossentropy takes labels");
    expect(compile('softmax', 'sparseCategoricalCrossentropy', ['topKCategoricalAccuracy'])).toThrow('(use sparseTopKCategoricalAccuracy)');
    expect(compile('softmax', 'categoricalCrossentropy', ['sparseTopKCategoricalAccuracy'])).toThrow(
      "compile(): metric 'sparseTopKCategoricalAccuracy' takes labels (sparseCategoricalCrossentropy); with categoricalCrossentropy's targets use topKCategoricalAccuracy",
    );
    expect(compile('softmax', 'categoricalCrossentropy', ['mse', 'mse'])).toThrow("compile(): metric 'mse' is given twice");
  });

  test('a y that is not what the loss takes', async () => {
    const categorical = await model('softmax', 'categoricalCrossentropy');
    await expect(categorical.fit(x, labels)).rejects.toThrow(`fit(): y holds ${ROWS} values, expected ${ROWS} rows of 4 one-hot values for categoricalCrossentropy`);
    await expect(categorical.fit(x, Uint8Array.from(oneHot))).rejects.toThrow("fit(): y is bytes, which stand for byte / 255; give categoricalCrossentropy's one-hot rows as a Float32Array");
    const doubled = Float32Array.from(oneHot, (v, k) => (k < CLASSES ? 2 * v : v));
    await expect(categorical.fit(x, doubled)).rejects.toThrow('fit(): y value');
    const halved = Float32Array.from(oneHot, (v, k) => (k < CLASSES ? v / 2 : v));
    await expect(categorical.fit(x, halved)).rejects.toThrow('fit(): y row 0 sums to 0.5, not 1: categoricalCrossentropy takes one-hot rows (or probabilities)');
    const binary = await model('sigmoid', 'binaryCrossentropy');
    await expect(binary.fit(x, Float32Array.from(oneHot, (v) => v - 0.5))).rejects.toThrow('fit(): y value 0 (row 0) is -0.5, outside [0, 1] for binaryCrossentropy');
    const regression = await model('linear', 'mse');
    await expect(regression.fit(x, Float32Array.from(oneHot, (v, k) => (k === 5 ? NaN : v)))).rejects.toThrow('fit(): y value 5 is NaN');
    await expect(regression.evaluate(x, oneHot.subarray(4))).rejects.toThrow(`evaluate(): y holds ${ROWS * CLASSES - 4} values, expected ${ROWS} rows of 4 target values for meanSquaredError`);
    for (const m of [categorical, binary, regression]) m.destroy();
  });
});

test("the Keras blog's autoencoder learns its images: bytes in, the same bytes as targets, on the GPU once", { timeout: 300_000 }, async () => {
  const mnist = await testMnist();
  const images = mnist.train.pixels.subarray(0, 512 * 784);
  const test = mnist.test.pixels.subarray(0, 256 * 784);
  const model = tutorialModel('autoencoder');
  const recipe = tutorialRecipe('autoencoder');
  model.compile({ optimizer: recipe.optimizer, loss: recipe.loss, metrics: recipe.metrics, seed: 3, gpu: await testGpu() });
  expect(model.paramCount).toBe(50_992);
  const uploads: string[] = [];
  const { device } = await testGpu();
  const createBuffer = device.createBuffer;
  device.createBuffer = function (descriptor: GPUBufferDescriptor) {
    if (descriptor.label?.startsWith('data set')) uploads.push(descriptor.label);
    return createBuffer.call(this, descriptor);
  };
  try {
    const before = await model.evaluate(test, test);
    const history = await model.fit(images, images, { epochs: 4, batchSize: 64, verbose: 0 });
    const after = await model.evaluate(test, test);
    console.info(`autoencoder on 512 images: test loss ${before.loss.toFixed(4)} -> ${after.loss.toFixed(4)}, mse ${before.mse.toFixed(4)} -> ${after.mse.toFixed(4)}; train ${history.history.loss.map((l) => l.toFixed(4)).join(' ')}`);
    expect(Object.keys(after)).toEqual(['loss', 'mse']);
    const losses = history.history.loss;
    for (let e = 1; e < losses.length; e++) expect(losses[e]).toBeLessThan(losses[e - 1]);
    expect(after.loss).toBeLessThan(before.loss - 0.1);
    expect(after.mse).toBeLessThan(before.mse);
    // x and y are the same bytes: each data set is uploaded once, its targets its inputs.
    expect(uploads.filter((label) => label.startsWith('data set targets'))).toEqual([]);
    // The reconstructions are probabilities, one per pixel.
    const reconstruction = await model.predict(test.subarray(0, 784));
    expect(reconstruction).toHaveLength(784);
    expect(reconstruction.every((p) => p > 0 && p < 1)).toBe(true);
  } finally {
    device.createBuffer = createBuffer;
    model.destroy();
  }
});
