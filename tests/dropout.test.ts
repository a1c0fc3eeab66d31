// dropout.wgsl against the float64 reference: the exact mask of each step, the
// fraction kept, the scaling, the identity of inference and the gradient; and
// a model with dropout: inference deterministic, training drawing masks.
import { describe, expect, test } from 'vitest';
import { sizeOf } from '../src/engine/buffers';
import { dense, dropout, flatten, type LayerConfig } from '../src/engine/layers';
import { sequential, type Model } from '../src/engine/model';
import { dropoutAdvance, dropoutBackward, dropoutForward, dropoutInference } from '../src/engine/ops/dropout';
import * as reference from '../src/reference/dropout';
import { modelLoss } from '../src/reference/model';
import { expectClose, F32, GRADCHECK, numericGradient, randomArray, run, seededRandom, testGpu, upload, uploadLabels, zeros } from './helpers';

interface Case {
  shape: number[];
  rate: number;
  seed: number;
  /** The step counter's value before the step: the mask is drawn for step + 1. */
  step: number;
}

const cases: Case[] = [
  { shape: [2, 5, 3], rate: 0.5, seed: 1, step: 0 },
  // Rate 0 keeps everything; a rate close to 1 keeps a few elements, scaled by 100.
  { shape: [1, 7], rate: 0, seed: 2, step: 0 },
  { shape: [4, 250], rate: 0.99, seed: 3, step: 5 },
  // Around the workgroup size (64), and a counter far along.
  { shape: [3, 63], rate: 0.3, seed: 0xffffffff, step: 1000 },
  { shape: [1, 65], rate: 0.1, seed: 12345, step: 0xfffffffe },
];

const describeCase = (c: Case) => `shape=[${c.shape.join(', ')}] rate=${c.rate} seed=${c.seed} step=${c.step}`;

/** Nonzero inputs, so that a zero in y is a dropped element and nothing else. */
function nonzero(random: () => number, count: number): Float64Array {
  return randomArray(random, count, 0.25, 1).map((v, i) => (i % 2 ? -v : v));
}

/** The kept elements of y as a 0/1 mask. */
const keptOf = (y: ArrayLike<number>) => Float64Array.from(y, (v) => (v !== 0 ? 1 : 0));

/** A training step on the GPU from counter `step`: advance, then forward; y, dInput and the counter. */
async function trainingStep(c: Case, x: Float64Array, dOut: Float64Array) {
  const { device } = await testGpu();
  const options = { rate: c.rate, seed: c.seed };
  const step = await uploadLabels([1], [c.step], 'step');
  const y = await zeros(c.shape);
  const dInput = await upload(c.shape, new Float64Array(x.length).fill(NaN), 'dInput');
  const dispatches = [
    await dropoutAdvance(device, step),
    await dropoutForward(device, { x: await upload(c.shape, x), y, step }, options),
    await dropoutBackward(device, { dOut: await upload(c.shape, dOut, 'dOut'), dInput, step }, options),
  ];
  const [gotY, gotInput, gotStep] = await run(dispatches, y, dInput, step);
  return { y: gotY, dInput: gotInput, step: gotStep[0] };
}

describe.each(cases.map((c) => [describeCase(c), c] as const))('dropout %s', (name, c) => {
  const random = seededRandom(c.seed ^ (c.step * 31 + sizeOf(c.shape)));
  const count = sizeOf(c.shape);
  const x = nonzero(random, count);
  const dOut = randomArray(random, count);
  const mask = reference.dropoutMask(count, { rate: c.rate, seed: c.seed, step: c.step + 1 });

  test('training: the exact mask, scaled, and its gradient', async () => {
    const got = await trainingStep(c, x, dOut);
    expect(got.step, 'step counter after advance').toBe((c.step + 1) >>> 0);
    expectClose(`dropout mask ${name}`, keptOf(got.y), mask, { atol: 0, rtol: 0 });
    expectClose(`dropout forward ${name}`, got.y, reference.dropoutForward(x, mask, c.rate), F32);
    expectClose(`dropout backward ${name}`, got.dInput, reference.dropoutBackward(dOut, mask, c.rate), F32);
  });

  test('inference is the identity', async () => {
    const { device } = await testGpu();
    const y = await upload(c.shape, new Float64Array(count).fill(NaN), 'y');
    const [got] = await run(await dropoutInference(device, { x: await upload(c.shape, x), y }), y);
    expectClose(`dropout inference ${name}`, got, Float32Array.from(x), { atol: 0, rtol: 0 });
  });

  if (count <= 1000) {
    test('reference backward matches central differences', () => {
      const numeric = numericGradient((v) => reference.dropoutForward(v, mask, c.rate), x, dOut);
      expectClose(`dropout d/dx ${name}`, reference.dropoutBackward(dOut, mask, c.rate), numeric, GRADCHECK);
    });
  }
});

describe('dropout masks', () => {
  // 100,000 elements: the fraction kept has a standard deviation under 0.0016.
  const shape = [100, 1000];
  const count = sizeOf(shape);
  for (const rate of [0.1, 0.5, 0.9]) {
    test(`rate=${rate} keeps close to 1 - rate of ${count} elements, exactly where the reference does`, async () => {
      const x = new Float64Array(count).fill(1);
      const c = { shape, rate, seed: 77, step: 0 };
      const { y } = await trainingStep(c, x, x);
      const mask = reference.dropoutMask(count, { rate, seed: 77, step: 1 });
      expectClose(`dropout mask rate=${rate}`, keptOf(y), mask, { atol: 0, rtol: 0 });
      const kept = mask.reduce((a, b) => a + b, 0) / count;
      const sigma = Math.sqrt((rate * (1 - rate)) / count);
      console.info(`dropout rate=${rate}: kept ${kept.toFixed(4)}, expected ${(1 - rate).toFixed(4)} ± ${sigma.toExponential(1)}`);
      expect(Math.abs(kept - (1 - rate))).toBeLessThan(5 * sigma);
    });
  }

  test('each step draws a new mask, and the same seed and step the same one', () => {
    const options = { rate: 0.5, seed: 9, step: 1 };
    const first = reference.dropoutMask(1000, options);
    const same = reference.dropoutMask(1000, options);
    const next = reference.dropoutMask(1000, { ...options, step: 2 });
    const otherSeed = reference.dropoutMask(1000, { ...options, seed: 10 });
    const agreement = (a: Uint8Array, b: Uint8Array) => a.reduce((n, v, i) => n + (v === b[i] ? 1 : 0), 0) / a.length;
    expect(agreement(first, same)).toBe(1);
    // Independent masks of rate 0.5 agree on about half the elements.
    expect(Math.abs(agreement(first, next) - 0.5)).toBeLessThan(0.1);
    expect(Math.abs(agreement(first, otherSeed) - 0.5)).toBeLessThan(0.1);
  });
});

describe('dropout errors', () => {
  for (const rate of [1, -0.1, NaN]) {
    test(`rate=${rate} is refused, naming the layer`, () => {
      expect(() => sequential([flatten({ inputShape: [4] }), dropout({ rate }), dense({ units: 2, activation: 'softmax' })])).toThrow(
        `layer 1 (dropout): dropout(): rate must be a number in [0, 1), got ${rate}`,
      );
    });
  }
  test('a seed that is not a u32 is refused, naming the layer', () => {
    expect(() => sequential([dropout({ rate: 0.5, seed: -1, inputShape: [4] }), dense({ units: 2, activation: 'softmax' })])).toThrow(
      'layer 0 (dropout): dropout(): seed must be an integer in [0, 2^32), got -1',
    );
  });
  test('a wrong output shape is named', async () => {
    const { device } = await testGpu();
    const t = { x: await zeros([2, 3]), y: await zeros([2, 4]), step: await zeros([1], 'step', 'u32') };
    await expect(dropoutForward(device, t, { rate: 0.5, seed: 1 })).rejects.toThrow('dropout(): y has shape [2, 4] but [2, 3] was expected');
  });
  test('a float step counter is refused', async () => {
    const { device } = await testGpu();
    await expect(dropoutAdvance(device, await zeros([1]))).rejects.toThrow('dropout(): step must be u32 but is f32');
  });
});

describe('a model with dropout', () => {
  const inputShape = [6];
  const layers = (seed?: number): LayerConfig[] => [
    flatten({ inputShape }),
    dense({ units: 16, activation: 'relu' }),
    dropout({ rate: 0.5, seed }),
    dense({ units: 3, activation: 'softmax' }),
  ];
  const N = 12;
  const random = seededRandom(5);
  const x = Float32Array.from(randomArray(random, N * 6));
  const y = Uint32Array.from({ length: N }, () => Math.floor(random() * 3));

  async function compiled(seed: number, dropoutSeed?: number): Promise<Model> {
    const model = sequential(layers(dropoutSeed));
    model.compile({ optimizer: 'sgd', seed, gpu: await testGpu() });
    return model;
  }

  const referenceLoss = async (model: Model, config: LayerConfig[], step?: number) =>
    modelLoss({ layers: config, inputShape, params: (await model.getWeights()).map((w) => w.values), x, labels: y, N, step });

  test('evaluate and predict are deterministic, and are the model without dropout', async () => {
    const model = await compiled(1);
    try {
      const first = await model.evaluate(x, y, { batchSize: N });
      expect(await model.evaluate(x, y, { batchSize: N })).toEqual(first);
      const probabilities = await model.predict(x);
      expect([...(await model.predict(x))]).toEqual([...probabilities]);
      expectClose('evaluate loss with dropout', [first.loss], [await referenceLoss(model, layers())], F32);
    } finally {
      model.destroy();
    }
  });

  test('fit drops with the masks of each step', async () => {
    const model = await compiled(1, 4321);
    try {
      const config = layers(4321);
      // One full batch a step, so an epoch's loss is that of its one training forward, before the update.
      const inference = await referenceLoss(model, config);
      const stepOne = await referenceLoss(model, config, 1);
      const [first] = (await model.fit(x, y, { epochs: 1, batchSize: N, shuffle: false })).history.loss;
      expectClose('fit loss of step 1', [first], [stepOne], F32);
      expect(Math.abs(stepOne - inference), 'dropout changes the training loss').toBeGreaterThan(1e-3);
      const stepTwo = await referenceLoss(model, config, 2);
      const [second] = (await model.fit(x, y, { epochs: 1, batchSize: N, shuffle: false })).history.loss;
      expectClose('fit loss of step 2', [second], [stepTwo], F32);
    } finally {
      model.destroy();
    }
  });

  test('the same model seed gives the same training losses', async () => {
    const losses = async (seed: number) => {
      const model = await compiled(seed);
      try {
        return (await model.fit(x, y, { epochs: 3, batchSize: 5 })).history.loss;
      } finally {
        model.destroy();
      }
    };
    const first = await losses(21);
    expect(await losses(21)).toEqual(first);
    expect(await losses(22)).not.toEqual(first);
  });
});
