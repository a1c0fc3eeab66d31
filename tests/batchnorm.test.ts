// batchnorm.wgsl against the float64 reference: the batch statistics and the
// moving ones' update, the normalization in training and inference, and the
// gradients; and a model with batch normalization under every optimizer.
import { describe, expect, test } from 'vitest';
import { sizeOf } from '../src/engine/buffers';
import { batchNormalization, dense, flatten } from '../src/engine/layers';
import { sequential } from '../src/engine/model';
import { batchNormBackward, batchNormForward, batchNormMovingStatistics, batchNormStatistics } from '../src/engine/ops/batchnorm';
import type { OptimizerKind } from '../src/engine/ops/optimizer';
import * as reference from '../src/reference/batchnorm';
import { expectClose, F32, GRADCHECK, numericGradient, randomArray, run, seededRandom, testGpu, upload, zeros } from './helpers';

/** x's shape: a batch of vectors [N, C] or of images [N, H, W, C]; statistics are per channel C. */
const shapes = [
  [4, 3],
  // One row: the variance is 0, and so is dInput.
  [1, 5],
  // Channels around the reductions' 16 lanes.
  [2, 3, 3, 17],
  [3, 5, 5, 16],
  [2, 7, 6, 33],
  // Rows far more than the lanes.
  [64, 13, 13, 8],
];
const options = { momentum: 0.9, epsilon: 1e-3 };

describe.each(shapes.map((shape) => [`shape=[${shape.join(', ')}]`, shape] as const))('batchNormalization %s', (name, shape) => {
  const random = seededRandom(sizeOf(shape) * 7 + shape.length);
  const C = shape[shape.length - 1];
  const rows = sizeOf(shape) / C;
  // Values away from zero mean and unit variance, so that normalising does something.
  const x = randomArray(random, sizeOf(shape), -1, 3);
  const dOut = randomArray(random, sizeOf(shape));
  const gamma = randomArray(random, C, 0.5, 1.5);
  const beta = randomArray(random, C, -0.5, 0.5);
  const movingMean = randomArray(random, C, -0.2, 0.2);
  const movingVariance = randomArray(random, C, 0.5, 1.5);

  const vectors = async () => ({
    gamma: await upload([C], gamma, 'gamma'),
    beta: await upload([C], beta, 'beta'),
    mean: await zeros([C], 'mean'),
    invStd: await zeros([C], 'inverse std'),
    movingMean: await upload([C], movingMean, 'moving mean'),
    movingVariance: await upload([C], movingVariance, 'moving variance'),
  });

  test('training: statistics, moving update, forward and backward', async () => {
    const { device } = await testGpu();
    const v = await vectors();
    const t = { x: await upload(shape, x), y: await zeros(shape), dOut: await upload(shape, dOut, 'dOut'), dInput: await zeros(shape, 'dInput') };
    // Stale gradients must be overwritten, not added to.
    const stale = new Float64Array(C).fill(NaN);
    const grads = { dGamma: await upload([C], stale, 'dGamma'), dBeta: await upload([C], stale, 'dBeta') };
    const moving = { mean: v.mean, invStd: v.invStd, movingMean: v.movingMean, movingVariance: v.movingVariance };
    const dispatches = [
      await batchNormStatistics(device, { x: t.x, ...moving }, options),
      await batchNormForward(device, { x: t.x, gamma: v.gamma, beta: v.beta, mean: v.mean, invStd: v.invStd, y: t.y }, options),
      ...(await batchNormBackward(
        device,
        { x: t.x, dOut: t.dOut, gamma: v.gamma, mean: v.mean, invStd: v.invStd, ...grads, dInput: t.dInput },
        options,
      )),
    ];
    const [gotMean, gotInvStd, gotMovingMean, gotMovingVariance, gotY, gotDGamma, gotDBeta, gotDInput] = await run(
      dispatches,
      v.mean,
      v.invStd,
      v.movingMean,
      v.movingVariance,
      t.y,
      grads.dGamma,
      grads.dBeta,
      t.dInput,
    );

    const stats = reference.batchStatistics(x, rows, C);
    const s = { gamma, beta, ...stats, epsilon: options.epsilon };
    expectClose(`batchNorm mean ${name}`, gotMean, stats.mean, F32);
    expectClose(`batchNorm 1/std ${name}`, gotInvStd, Float64Array.from(stats.variance, (v) => 1 / Math.sqrt(v + options.epsilon)), F32);
    expectClose(`batchNorm moving mean ${name}`, gotMovingMean, reference.movingUpdate(movingMean, stats.mean, options.momentum), F32);
    expectClose(`batchNorm moving variance ${name}`, gotMovingVariance, reference.movingUpdate(movingVariance, stats.variance, options.momentum), F32);
    expectClose(`batchNorm forward ${name}`, gotY, reference.batchNormForward(x, s, C), F32);
    const want = reference.batchNormBackward(x, dOut, s, rows, C);
    expectClose(`batchNorm dGamma ${name}`, gotDGamma, want.dGamma, F32);
    expectClose(`batchNorm dBeta ${name}`, gotDBeta, want.dBeta, F32);
    expectClose(`batchNorm dInput ${name}`, gotDInput, want.dInput, F32);
  });

  test('inference: the moving statistics, left as they are', async () => {
    const { device } = await testGpu();
    const v = await vectors();
    const y = await zeros(shape);
    const dispatches = [
      await batchNormMovingStatistics(device, { mean: v.mean, invStd: v.invStd, movingMean: v.movingMean, movingVariance: v.movingVariance }, options),
      await batchNormForward(device, { x: await upload(shape, x), gamma: v.gamma, beta: v.beta, mean: v.mean, invStd: v.invStd, y }, options),
    ];
    const [gotY, gotMovingMean, gotMovingVariance] = await run(dispatches, y, v.movingMean, v.movingVariance);
    const s = { gamma, beta, mean: movingMean, variance: movingVariance, epsilon: options.epsilon };
    expectClose(`batchNorm inference ${name}`, gotY, reference.batchNormForward(x, s, C), F32);
    expectClose(`batchNorm inference keeps moving mean ${name}`, gotMovingMean, Float32Array.from(movingMean), { atol: 0, rtol: 0 });
    expectClose(`batchNorm inference keeps moving variance ${name}`, gotMovingVariance, Float32Array.from(movingVariance), { atol: 0, rtol: 0 });
  });

  if (x.length <= 2000) {
    test('reference backward matches central differences', () => {
      const training = (xs: Float64Array, g: ArrayLike<number>, b: ArrayLike<number>) =>
        reference.batchNormForward(xs, { gamma: g, beta: b, ...reference.batchStatistics(xs, rows, C), epsilon: options.epsilon }, C);
      const s = { gamma, beta, ...reference.batchStatistics(x, rows, C), epsilon: options.epsilon };
      const want = reference.batchNormBackward(x, dOut, s, rows, C);
      expectClose(`batchNorm d/dx ${name}`, want.dInput, numericGradient((v) => training(v, gamma, beta), x, dOut), GRADCHECK);
      expectClose(`batchNorm d/dgamma ${name}`, want.dGamma, numericGradient((v) => training(x, v, beta), gamma, dOut), GRADCHECK);
      expectClose(`batchNorm d/dbeta ${name}`, want.dBeta, numericGradient((v) => training(x, gamma, v), beta, dOut), GRADCHECK);
    });
  }
});

describe('a model with batch normalization', () => {
  const layers = () => [
    flatten({ inputShape: [5] }),
    dense({ units: 6, activation: 'relu' }),
    batchNormalization({ momentum: 0.8 }),
    dense({ units: 3, activation: 'softmax' }),
  ];
  const N = 8;
  const random = seededRandom(3);
  const x = Float32Array.from(randomArray(random, N * 5));
  const y = Uint32Array.from({ length: N }, () => Math.floor(random() * 3));

  test('summary counts the moving statistics as non-trainable', () => {
    const summary = sequential(layers()).summary();
    expect(summary).toContain('Total params: 81');
    expect(summary).toContain('Trainable params: 69');
    expect(summary).toContain('Non-trainable params: 12');
  });

  // The moving statistics have a zero gradient and zero optimizer state: every
  // optimizer must leave them to the layer, which updates them from the batch
  // (AdamW, whose weight decay would shrink them, leaves them out).
  for (const optimizer of ['sgd', 'momentum', 'nesterov', 'rmsprop', 'adam', 'adamw'] as OptimizerKind[]) {
    test(`${optimizer}: a training step updates the moving statistics from the batch, and inference uses them`, async () => {
      const model = sequential(layers());
      model.compile({ optimizer, seed: 1, gpu: await testGpu() });
      try {
        const before = await model.getWeights();
        const weight = (weights: typeof before, name: string) => weights.find((w) => w.name === `layers.${name}`)!.values;
        // The batch statistics of the dense layer's output, from the weights before the step.
        const [kernel, bias] = [weight(before, '1.kernel'), weight(before, '1.bias')];
        const hidden = new Float64Array(N * 6);
        for (let n = 0; n < N; n++) {
          for (let u = 0; u < 6; u++) {
            let sum = bias[u];
            for (let k = 0; k < 5; k++) sum += x[n * 5 + k] * kernel[k * 6 + u];
            hidden[n * 6 + u] = Math.max(sum, 0);
          }
        }
        const stats = reference.batchStatistics(hidden, N, 6);
        await model.fit(x, y, { epochs: 1, batchSize: N, shuffle: false });
        const after = await model.getWeights();
        expectClose(
          `${optimizer} moving mean`,
          weight(after, '2.moving_mean'),
          reference.movingUpdate(weight(before, '2.moving_mean'), stats.mean, 0.8),
          F32,
        );
        expectClose(
          `${optimizer} moving variance`,
          weight(after, '2.moving_variance'),
          reference.movingUpdate(weight(before, '2.moving_variance'), stats.variance, 0.8),
          F32,
        );
        expect([...weight(after, '2.gamma')], 'gamma is trained').not.toEqual([...weight(before, '2.gamma')]);
        // Inference is deterministic and does not move the statistics.
        const probabilities = await model.predict(x);
        await model.evaluate(x, y);
        expect([...(await model.predict(x))]).toEqual([...probabilities]);
        expect([...weight(await model.getWeights(), '2.moving_mean')]).toEqual([...weight(after, '2.moving_mean')]);
      } finally {
        model.destroy();
      }
    });
  }
});

describe('batchNormalization errors', () => {
  test('a momentum outside [0, 1] is refused, naming the layer', () => {
    expect(() => sequential([flatten({ inputShape: [4] }), batchNormalization({ momentum: 1.5 }), dense({ units: 2, activation: 'softmax' })])).toThrow(
      'layer 1 (batchNormalization): batchNormalization(): momentum must be a number in [0, 1], got 1.5',
    );
  });
  test('a zero epsilon is refused, naming the layer', () => {
    expect(() => sequential([batchNormalization({ epsilon: 0, inputShape: [4] }), dense({ units: 2, activation: 'softmax' })])).toThrow(
      'layer 0 (batchNormalization): batchNormalization(): epsilon must be a positive number, got 0',
    );
  });
  test('per-channel vectors of the wrong length are named', async () => {
    const { device } = await testGpu();
    const [x, y] = [await zeros([2, 3]), await zeros([2, 3])];
    const t = { x, y, gamma: await zeros([4]), beta: await zeros([3]), mean: await zeros([3]), invStd: await zeros([3]) };
    await expect(batchNormForward(device, t, options)).rejects.toThrow('batchNormalization(): gamma has shape [4] but [3] was expected');
  });
});
