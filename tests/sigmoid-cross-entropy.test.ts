// sigmoidCrossEntropy.wgsl (Keras' binary cross-entropy, fused with the
// sigmoid or from logits) against the float64 reference: the loss Keras 3
// computes (probabilities clipped to [1e-7, 1 - 1e-7]) and its exact gradient.
import { describe, expect, test } from 'vitest';
import { sigmoidCrossEntropyBackward, sigmoidCrossEntropyForward } from '../src/engine/ops/sigmoidCrossEntropy';
import * as reference from '../src/reference/sigmoidCrossEntropy';
import { total } from '../src/reference/metrics';
import { expectClose, F32, GRADCHECK, numericGradient, randomArray, run, seededRandom, testGpu, upload, zeros } from './helpers';

/** Targets in [0, 1]: half of them 0 or 1 (as MNIST's pixels mostly are), the rest between. */
function targetValues(random: () => number, count: number): Float64Array {
  return Float64Array.from({ length: count }, () => {
    const r = random();
    return r < 0.25 ? 0 : r < 0.5 ? 1 : Math.fround(random());
  });
}

async function forwardSums(logits: ArrayLike<number>, targets: ArrayLike<number>, shape: number[], clipped: boolean) {
  const { device } = await testGpu();
  const sums = await zeros([1]);
  const runningMeans = await zeros([2]);
  const dispatch = await sigmoidCrossEntropyForward(device, { logits: await upload(shape, logits), targets: await upload(shape, targets), sums, runningMeans }, { clipped });
  const [[lossSum], means] = await run(dispatch, sums, runningMeans);
  return { lossSum, runningMeans: means };
}

async function backward(logits: ArrayLike<number>, targets: ArrayLike<number>, shape: number[], clipped: boolean) {
  const { device } = await testGpu();
  const dLogits = await zeros(shape);
  const dispatch = await sigmoidCrossEntropyBackward(device, { logits: await upload(shape, logits), targets: await upload(shape, targets), dLogits }, { clipped });
  return (await run(dispatch, dLogits))[0];
}

// Logits in ±4 stay inside the clip (|z| <= 16.1); in ±30 a fair part is
// clipped, and a naive log(1 - σ(z)) would be -inf. Rows on both sides of
// forward's 256 invocations; values a row from 1 to the autoencoder's 784.
const cases: [number, number, number][] = [];
for (const N of [1, 7, 257]) {
  for (const R of [1, 5, 784]) for (const scale of [4, 30]) cases.push([N, R, scale]);
}

describe.each(cases)('binary cross-entropy N=%i R=%i logits in ±%i', (N, R, scale) => {
  const random = seededRandom(N * 10000 + R * 10 + scale);
  const logits = randomArray(random, N * R, -scale, scale);
  const targets = targetValues(random, N * R);
  for (const clipped of [true, false]) {
    const name = `binary N=${N} R=${R} scale=${scale} clipped=${clipped}`;
    test(`forward, ${clipped ? 'clipped' : 'from logits'}`, async () => {
      const got = await forwardSums(logits, targets, [N, R], clipped);
      const want = total(reference.sigmoidCrossEntropyLosses(logits, targets, N, R, clipped));
      // N row means, each of R values with float32 rounding.
      expectClose(`${name} forward`, [got.lossSum], [want], { atol: F32.atol * N, rtol: F32.rtol });
      expect(got.runningMeans[0]).toBe(N);
      expectClose(`${name} running mean`, [got.runningMeans[1]], [got.lossSum / N], { atol: 0, rtol: 1e-6 });
    });

    test(`backward, ${clipped ? 'clipped' : 'from logits'}`, async () => {
      const got = await backward(logits, targets, [N, R], clipped);
      expectClose(`${name} backward`, got, reference.sigmoidCrossEntropyBackward(logits, targets, N, R, clipped), { atol: F32.atol / (N * R), rtol: F32.rtol });
    });

    if (N * R > 100) continue;
    test(`reference backward matches central differences, ${clipped ? 'clipped' : 'from logits'}`, () => {
      const meanLoss = (z: Float64Array) => [total(reference.sigmoidCrossEntropyLosses(z, targets, N, R, clipped)) / N];
      expectClose(`${name} d/dlogits`, reference.sigmoidCrossEntropyBackward(logits, targets, N, R, clipped), numericGradient(meanLoss, logits, [1]), GRADCHECK);
    });
  }
});

test('binary cross-entropy takes an image-shaped output as rows of its values', async () => {
  const random = seededRandom(3);
  const [N, H, W] = [3, 5, 7];
  const logits = randomArray(random, N * H * W, -6, 6);
  const targets = targetValues(random, N * H * W);
  const got = await forwardSums(logits, targets, [N, H, W, 1], true);
  expectClose('binary [3, 5, 7, 1]', [got.lossSum], [total(reference.sigmoidCrossEntropyLosses(logits, targets, N, H * W))], { atol: F32.atol * N, rtol: F32.rtol });
});

test("the clipped loss is Keras': bounded by -log(1e-7) a value, and the reference's probabilities give it", () => {
  // A logit of 40 against 0 and of -40 against 1: each p clipped, each loss -log(1e-7) (to float64's rounding of 1 - 1e-7).
  const losses = reference.sigmoidCrossEntropyLosses([40, -40], [0, 1], 2, 1);
  for (const loss of losses) expect(loss).toBeCloseTo(-Math.log(1e-7), 8);
  // Unclipped, the same logits give losses of 40.
  for (const loss of reference.sigmoidCrossEntropyLosses([40, -40], [0, 1], 2, 1, false)) expect(loss).toBeCloseTo(40, 12);
  expect([...reference.sigmoidCrossEntropyBackward([40, -40, 3], [0, 1, 1], 1, 3)]).toEqual([0, 0, (1 / (1 + Math.exp(-3)) - 1) / 3]);
});

test('a NaN logit or target makes the loss and its gradient NaN', async () => {
  const logits = Float64Array.of(1, NaN, 2, 3, 4, 5);
  const targets = Float64Array.of(0, 1, 0.5, NaN, 1, 0);
  expect((await forwardSums(logits, targets, [2, 3], true)).lossSum).toBeNaN();
  const got = await backward(logits, targets, [2, 3], true);
  expect([...got].map(Number.isNaN)).toEqual([false, true, false, true, false, false]);
});

test('targets of another shape are refused', async () => {
  const { device } = await testGpu();
  const t = { logits: await zeros([4, 10]), targets: await zeros([4, 9]), sums: await zeros([1]), runningMeans: await zeros([2]) };
  await expect(sigmoidCrossEntropyForward(device, t)).rejects.toThrow('sigmoidCrossEntropy(): targets has shape [4, 9] but [4, 10] was expected');
});

test('small losses keep their digits: log(1 + e^-|z|) is not rounded off at 1', async () => {
  // Confident and right, unclipped: each loss is about e^-|z| (6e-6 to 1e-6), below the ulp of 1.
  const logits = Float64Array.of(-12, -14, 13, 12.5);
  const targets = Float64Array.of(0, 0, 1, 1);
  for (const clipped of [true, false]) {
    const got = await forwardSums(logits, targets, [1, 4], clipped);
    expectClose(`small losses, clipped=${clipped}`, [got.lossSum], [total(reference.sigmoidCrossEntropyLosses(logits, targets, 1, 4, clipped))], { atol: 0, rtol: 1e-5 });
  }
});
