// softmax_cross_entropy.wgsl against the float64 reference: the summed loss,
// its gradient, labels out of range and accumulation over dispatches.
import { describe, expect, test } from 'vitest';
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from '../src/engine/ops/softmax_cross_entropy';
import * as reference from './reference/softmax_cross_entropy';
import {
  expectClose,
  F32,
  GRADCHECK,
  numericGradient,
  randomArray,
  run,
  seededRandom,
  testGpu,
  upload,
  uploadLabels,
  zeros,
} from './helpers';

function randomLabels(random: () => number, N: number, C: number): Uint32Array {
  return Uint32Array.from({ length: N }, () => Math.floor(random() * C));
}

// Logits in ±4 give losses inside the clip; in ±100 most are clipped, and a
// naive softmax would overflow.
const cases: [number, number, number][] = [];
for (const N of [1, 7, 128, 1000]) {
  for (const C of [2, 10, 1000]) {
    for (const scale of [4, 100]) cases.push([N, C, scale]);
  }
}

describe.each(cases)('softmaxCrossEntropy N=%i C=%i logits in ±%i', (N, C, scale) => {
  const name = `softmaxCrossEntropy N=${N} C=${C} scale=${scale}`;
  const random = seededRandom(N * 10000 + C * 10 + scale);
  const logits = randomArray(random, N * C, -scale, scale);
  const labels = randomLabels(random, N, C);

  test('forward', async () => {
    const { device } = await testGpu();
    const lossSum = await zeros([1]);
    const dispatch = await softmaxCrossEntropyForward(device, {
      logits: await upload([N, C], logits),
      labels: await uploadLabels([N], labels),
      lossSum,
    });
    const [got] = await run(dispatch, lossSum);
    // A sum of N losses, each with float32 rounding.
    const want = reference.softmaxCrossEntropyForward(logits, labels, N, C);
    expectClose(`${name} forward`, got, [want], { atol: F32.atol * N, rtol: F32.rtol });
  });

  test('backward', async () => {
    const { device } = await testGpu();
    const dLogits = await zeros([N, C]);
    const dispatch = await softmaxCrossEntropyBackward(device, {
      logits: await upload([N, C], logits),
      labels: await uploadLabels([N], labels),
      dLogits,
    });
    const [got] = await run(dispatch, dLogits);
    // Every value is divided by N: so is the tolerance.
    const want = reference.softmaxCrossEntropyBackward(logits, labels, N, C);
    expectClose(`${name} backward`, got, want, { atol: F32.atol / N, rtol: F32.rtol });
  });

  // Finite differences cost two losses per logit: only on small shapes, and
  // with logits inside the clip, where the unclipped gradient is the gradient.
  if (N * C > 2000 || scale > 4) return;
  test('reference backward matches central differences of the mean loss', () => {
    const meanLoss = (z: Float64Array) => [reference.softmaxCrossEntropyForward(z, labels, N, C) / N];
    expectClose('d/dlogits', reference.softmaxCrossEntropyBackward(logits, labels, N, C), numericGradient(meanLoss, logits, [1]), GRADCHECK);
  });
});

describe('softmaxCrossEntropy labels out of range', () => {
  const [N, C] = [7, 10];
  const random = seededRandom(7);
  const logits = randomArray(random, N * C, -4, 4);
  const labels = randomLabels(random, N, C);
  labels[3] = C;
  labels[5] = 0xffffffff;

  test('make their rows NaN and no others', () => {
    const losses = reference.softmaxCrossEntropyLosses(logits, labels, N, C);
    expect([...losses].map((loss, i) => (Number.isNaN(loss) ? i : -1)).filter((i) => i >= 0)).toEqual([3, 5]);
  });

  test('make the GPU loss sum NaN', async () => {
    const { device } = await testGpu();
    const lossSum = await zeros([1]);
    const dispatch = await softmaxCrossEntropyForward(device, {
      logits: await upload([N, C], logits),
      labels: await uploadLabels([N], labels),
      lossSum,
    });
    const [got] = await run(dispatch, lossSum);
    expect(got[0]).toBeNaN();
  });

  test('give their rows softmax / N and leave the others exact', async () => {
    const { device } = await testGpu();
    const dLogits = await zeros([N, C]);
    const dispatch = await softmaxCrossEntropyBackward(device, {
      logits: await upload([N, C], logits),
      labels: await uploadLabels([N], labels),
      dLogits,
    });
    const [got] = await run(dispatch, dLogits);
    const want = reference.softmaxCrossEntropyBackward(logits, labels, N, C);
    for (const row of [3, 5]) {
      expect(want.subarray(row * C, (row + 1) * C).reduce((a, b) => a + b, 0)).toBeCloseTo(1 / N, 12);
    }
    expectClose('softmaxCrossEntropy backward, labels out of range', got, want, { atol: F32.atol / N, rtol: F32.rtol });
  });
});

test('softmaxCrossEntropy forward adds to the accumulator at each dispatch', async () => {
  const { device } = await testGpu();
  const [N, C] = [128, 10];
  const random = seededRandom(2);
  const logits = randomArray(random, N * C, -4, 4);
  const labels = randomLabels(random, N, C);
  const lossSum = await upload([1], [0.25], 'lossSum');
  const dispatch = await softmaxCrossEntropyForward(device, {
    logits: await upload([N, C], logits),
    labels: await uploadLabels([N], labels),
    lossSum,
  });
  const [got] = await run([dispatch, dispatch], lossSum);
  const want = 0.25 + 2 * reference.softmaxCrossEntropyForward(logits, labels, N, C);
  expectClose('softmaxCrossEntropy two dispatches', got, [want], { atol: F32.atol * N, rtol: F32.rtol });
});

test('the reference loss is clipped as Keras clips probabilities', () => {
  // Row 0: the label's logit leads by 40, p ≈ 1; row 1: it trails by 40, p ≈ 4e-18.
  const losses = reference.softmaxCrossEntropyLosses([40, 0, 0, 40], [0, 0], 2, 2);
  expect([...losses]).toEqual([reference.MIN_LOSS, reference.MAX_LOSS]);
  expect(reference.MIN_LOSS).toBeCloseTo(-Math.log(1 - 1e-7), 15);
  expect(reference.MAX_LOSS).toBeCloseTo(16.118095650958, 12);
});

describe('softmaxCrossEntropy errors', () => {
  test('float labels are refused', async () => {
    const { device } = await testGpu();
    await expect(
      softmaxCrossEntropyForward(device, { logits: await zeros([4, 10]), labels: await zeros([4]), lossSum: await zeros([1]) }),
    ).rejects.toThrow('softmaxCrossEntropy(): labels must be u32 class indices but are f32');
  });
  test('a label count that is not the row count is named', async () => {
    const { device } = await testGpu();
    await expect(
      softmaxCrossEntropyBackward(device, { logits: await zeros([4, 10]), labels: await zeros([5], 'labels', 'u32'), dLogits: await zeros([4, 10]) }),
    ).rejects.toThrow('softmaxCrossEntropy(): labels have shape [5] but logits have 4 rows ([4, 10])');
  });
  test('logits that are not a matrix are refused', async () => {
    const { device } = await testGpu();
    await expect(
      softmaxCrossEntropyForward(device, { logits: await zeros([4, 2, 5]), labels: await zeros([4], 'labels', 'u32'), lossSum: await zeros([1]) }),
    ).rejects.toThrow('softmaxCrossEntropy(): logits must be [N, C] but have shape [4, 2, 5]');
  });
  test('an accumulator of the wrong shape is named', async () => {
    const { device } = await testGpu();
    await expect(
      softmaxCrossEntropyForward(device, { logits: await zeros([4, 10]), labels: await zeros([4], 'labels', 'u32'), lossSum: await zeros([4]) }),
    ).rejects.toThrow('softmaxCrossEntropy(): lossSum has shape [4] but [1] was expected');
  });
  test('a gradient of the wrong shape is named', async () => {
    const { device } = await testGpu();
    await expect(
      softmaxCrossEntropyBackward(device, { logits: await zeros([4, 10]), labels: await zeros([4], 'labels', 'u32'), dLogits: await zeros([10, 4]) }),
    ).rejects.toThrow('softmaxCrossEntropy(): dLogits has shape [10, 4] but [4, 10] was expected');
  });
});
