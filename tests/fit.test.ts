// fit as Keras users call it, on a small dense model and random data: History,
// validationSplit, initialEpoch, callbacks that stop training and restore
// weights, verbose output, and terminateOnNaN off.
import { describe, expect, test } from 'vitest';
import { dense, flatten } from '../src/engine/layers';
import { sequential, type Model } from '../src/engine/model';
import { earlyStopping } from '../src/engine/training/callbacks';
import { setProgressWriter } from '../src/engine/training/progress';
import { seededRandom, testGpu } from './helpers';

const FEATURES = 6;
const ROWS = 50;

function data(seed = 5) {
  const random = seededRandom(seed);
  const x = Float32Array.from({ length: ROWS * FEATURES }, () => random() * 2 - 1);
  // A label a model can learn: the sign of the first two features.
  const y = Uint8Array.from({ length: ROWS }, (_, i) => Number(x[i * FEATURES] > 0) + 2 * Number(x[i * FEATURES + 1] > 0));
  return { x, y };
}

async function model(seed = 2): Promise<Model> {
  const m = sequential([flatten({ inputShape: [FEATURES] }), dense({ units: 12, activation: 'relu' }), dense({ units: 4, activation: 'softmax' })]);
  m.compile({ metrics: ['accuracy'], optimizer: 'adam', seed, gpu: await testGpu() });
  return m;
}

describe('fit', () => {
  test("validationSplit validates on the last rows, trains on the rest: Keras' split, floor(count * (1 - split))", async () => {
    const { x, y } = data();
    // 50 rows at 0.1: the first 45 train, the last 5 validate.
    const split = await model();
    const history = await split.fit(x, y, { epochs: 2, batchSize: 8, validationSplit: 0.1 });
    const alone = await model();
    const trained = await alone.fit(x.subarray(0, 45 * FEATURES), y.subarray(0, 45), { epochs: 2, batchSize: 8, validationData: [x.subarray(45 * FEATURES), y.subarray(45)] });
    expect(history.history).toEqual(trained.history);
    expect(Object.keys(history.history).sort()).toEqual(['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    const last = await split.evaluate(x.subarray(45 * FEATURES), y.subarray(45));
    expect([last.loss, last.accuracy]).toEqual([history.history.val_loss[1], history.history.val_accuracy[1]]);
    await expect(split.fit(x, y, { validationSplit: 1 })).rejects.toThrow('fit(): validationSplit must be between 0 and 1, got 1');
    await expect(split.fit(x.subarray(0, FEATURES), y.subarray(0, 1), { validationSplit: 0.5 })).rejects.toThrow(
      'fit(): 1 samples cannot be split into a training and a validation set with validationSplit 0.5',
    );
    split.destroy();
    alone.destroy();
  });

  test('initialEpoch numbers the epochs run from it, as Keras does', async () => {
    const { x, y } = data();
    const m = await model();
    const epochsSeen: number[] = [];
    const history = await m.fit(x, y, { epochs: 5, initialEpoch: 3, batchSize: 10, callbacks: { onEpochBegin: (epoch) => void epochsSeen.push(epoch) } });
    expect(history.epoch).toEqual([3, 4]);
    expect(epochsSeen).toEqual([3, 4]);
    expect(history.history.loss).toHaveLength(2);
    m.destroy();
  });

  test('earlyStopping with restoreBestWeights ends with the weights of the best epoch', async () => {
    const { x, y } = data();
    const m = await model();
    const weights: Float32Array[][] = [];
    // A rate so high that the validation loss soon stops improving.
    m.compile({ metrics: ['accuracy'], optimizer: { kind: 'adam', learningRate: 0.5, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }, seed: 2, gpu: await testGpu() });
    const stopper = earlyStopping({ monitor: 'val_loss', patience: 2, restoreBestWeights: true });
    const history = await m.fit(x, y, {
      epochs: 30,
      batchSize: 10,
      validationSplit: 0.2,
      callbacks: [stopper, { onEpochEnd: async () => void weights.push((await m.getWeights()).map((w) => w.values)) }],
    });
    const losses = history.history.val_loss;
    const best = losses.indexOf(Math.min(...losses));
    expect(history.epoch.length).toBeLessThan(30);
    expect(history.stopped?.reason).toBe('stopTraining');
    expect(stopper.bestEpoch).toBe(best);
    expect(stopper.stoppedEpoch).toBe(history.epoch.at(-1));
    expect(history.epoch.length - 1 - best).toBe(2);
    expect((await m.getWeights()).map((w) => w.values)).toEqual(weights[best]);
    m.destroy();
  });

  test("verbose prints Keras' log through the progress writer: the epoch, the bar at updates, the epoch's line", async () => {
    const { x, y } = data();
    const m = await model();
    const lines: string[] = [];
    const updates: string[] = [];
    setProgressWriter({ update: (text) => void updates.push(text), line: (text) => void lines.push(text) });
    try {
      await m.fit(x, y, { epochs: 2, batchSize: 10, updateEvery: 2, validationSplit: 0.2 });
      expect(lines).toHaveLength(4);
      expect(lines[0]).toBe('Epoch 1/2');
      expect(lines[1]).toMatch(/^4\/4 ━{20} \d+s \d+ms\/step - accuracy: \d\.\d{4} - loss: \d\.\d{4} - val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4} \(epoch mean: accuracy \d\.\d{4}, loss \d\.\d{4}\)$/);
      expect(lines[2]).toBe('Epoch 2/2');
      expect(updates.map((u) => u.slice(0, 4))).toEqual(['2/4 ', '4/4 ', '2/4 ', '4/4 ']);
      lines.length = 0;
      await m.fit(x, y, { epochs: 1, batchSize: 10, verbose: 0 });
      expect(lines).toEqual([]);
    } finally {
      setProgressWriter(undefined);
      m.destroy();
    }
  });

  test("a rebuild for a bigger batch keeps the optimizer's state and rate: training goes on as if there had been none", async () => {
    const { x, y } = data();
    const run = async (evaluateBetween: boolean) => {
      const m = await model();
      await m.fit(x, y, { epochs: 1, batchSize: 10, shuffle: false });
      m.learningRate = 0.005;
      // Evaluating 50 rows at once builds the graph again, for 50 rows.
      if (evaluateBetween) await m.evaluate(x, y, { batchSize: 50 });
      const { history } = await m.fit(x, y, { epochs: 2, batchSize: 10, shuffle: false });
      const rate = m.learningRate;
      m.destroy();
      return { history, rate };
    };
    const plain = await run(false);
    expect(plain.rate).toBe(Math.fround(0.005));
    expect(await run(true)).toEqual(plain);
  });

  test('compile keeps the weights, as in Keras, and starts the optimizer afresh', async () => {
    const { x, y } = data();
    const m = await model();
    await m.fit(x, y, { epochs: 1, batchSize: 10 });
    const trained = await m.getWeights();
    m.compile({ optimizer: 'sgd', gpu: await testGpu() });
    expect(await m.getWeights()).toEqual(trained);
    m.destroy();
  });

  test('terminateOnNaN: false lets a NaN loss train on, where the default stops with the step', async () => {
    const { x, y } = data();
    x[7 * FEATURES] = NaN;
    const m = await model();
    await expect(m.fit(x, y, { epochs: 1, batchSize: 10, shuffle: false })).rejects.toThrow(/^training stopped: the loss is NaN at epoch 1\/1, step 1\/5/);
    const history = await m.fit(x, y, { epochs: 2, batchSize: 10, shuffle: false, terminateOnNaN: false });
    expect(history.history.loss.every(Number.isNaN)).toBe(true);
    m.destroy();
  });
});
