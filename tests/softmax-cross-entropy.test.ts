// softmaxCrossEntropy.wgsl against the float64 reference: forward's summed
// loss, correct count and running means, its gradient, argmax ties, labels out
// of range and accumulation over dispatches.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../src/engine/buffers';
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from '../src/engine/ops/softmaxCrossEntropy';
import { kerasPrinted } from '../src/engine/ops/sums';
import type { Dispatch } from '../src/engine/pipelines';
import * as reference from '../src/reference/softmaxCrossEntropy';
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

interface Sums {
  sums: Tensor;
  runningMeans: Tensor;
}

/** The sums forward adds to (the loss' and the accuracy's), the running means cleared as at an epoch's start. */
async function sums(lossSum = 0, correct = 0): Promise<Sums> {
  return { sums: await upload([2], [lossSum, correct], 'sums'), runningMeans: await zeros([3], 'runningMeans') };
}

/** Forward on one batch, adding to `into`, the accuracy as the first metric. */
async function forward(logits: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number, into: Sums) {
  const { device } = await testGpu();
  return softmaxCrossEntropyForward(device, { logits: await upload([N, C], logits), labels: await uploadLabels([N], labels), ...into }, { accuracyAt: 1 });
}

/** Runs the dispatches and reads the sums back: Σ loss, the number correct, the running means. */
async function readSums(dispatches: Dispatch[], from: Sums) {
  const [[lossSum, correct], runningMeans] = await run(dispatches, from.sums, from.runningMeans);
  return { lossSum, correct, runningMeans };
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
    const into = await sums();
    const got = await readSums([await forward(logits, labels, N, C, into)], into);
    // A sum of N losses, each with float32 rounding.
    const want = reference.softmaxCrossEntropyForward(logits, labels, N, C);
    expectClose(`${name} forward`, [got.lossSum], [want], { atol: F32.atol * N, rtol: F32.rtol });
    expect(got.correct).toBe(reference.countCorrect(logits, labels, N, C));
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

  test('make the GPU loss sum NaN and count as wrong', async () => {
    const into = await sums();
    const got = await readSums([await forward(logits, labels, N, C, into)], into);
    expect(got.lossSum).toBeNaN();
    expect(got.correct).toBe(reference.countCorrect(logits, labels, N, C));
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

test('softmaxCrossEntropy forward adds to the sums at each dispatch', async () => {
  const [N, C] = [128, 10];
  const random = seededRandom(2);
  const logits = randomArray(random, N * C, -4, 4);
  const labels = randomLabels(random, N, C);
  const into = await sums(0.25, 5);
  const dispatch = await forward(logits, labels, N, C, into);
  const got = await readSums([dispatch, dispatch], into);
  const want = 0.25 + 2 * reference.softmaxCrossEntropyForward(logits, labels, N, C);
  expectClose('softmaxCrossEntropy two dispatches', [got.lossSum], [want], { atol: F32.atol * N, rtol: F32.rtol });
  expect(got.correct).toBe(5 + 2 * reference.countCorrect(logits, labels, N, C));
});

/**
 * Logits drawn from `levels` values (few levels: many ties), and labels that
 * hit each row's first maximum, its last one (wrong on a tie), another class,
 * and classes out of range.
 */
function tiedBatch(seed: number, N: number, C: number, levels: number) {
  const random = seededRandom(seed);
  const logits = Float64Array.from({ length: N * C }, () => Math.floor(random() * levels) / levels - 0.5);
  const labels = Uint32Array.from({ length: N }, (_, i) => {
    const row = logits.subarray(i * C, (i + 1) * C);
    const r = random();
    if (r < 0.4) return reference.argmax(row, 0, C);
    if (r < 0.6) return row.lastIndexOf(Math.max(...row));
    if (r < 0.8) return Math.floor(random() * C);
    return r < 0.9 ? C : 0xffffffff;
  });
  return { logits, labels };
}

/** The correct count after `dispatches` forward dispatches on sums that start at `initial`. */
async function countOnGpu(logits: Float64Array, labels: Uint32Array, N: number, C: number, { initial = 0, dispatches = 1 } = {}) {
  const into = await sums(0, initial);
  const dispatch = await forward(logits, labels, N, C, into);
  return (await readSums(Array(dispatches).fill(dispatch), into)).correct;
}

// Row counts on both sides of forward's 256 lanes and of two rows per lane, and
// one class (always right unless the label is out of range).
const countCases: [number, number, number][] = [];
for (const N of [1, 7, 64, 65, 255, 256, 257, 512, 513, 1000]) {
  for (const C of [1, 2, 10]) {
    for (const levels of [3, 1 << 20]) countCases.push([N, C, levels]);
  }
}

describe.each(countCases)('softmaxCrossEntropy correct N=%i C=%i levels=%i', (N, C, levels) => {
  test('forward', async () => {
    const { logits, labels } = tiedBatch(N * 1000 + C * 10 + levels, N, C, levels);
    const want = reference.countCorrect(logits, labels, N, C);
    console.info(`softmaxCrossEntropy N=${N} C=${C} levels=${levels}: ${want} of ${N} correct`);
    expect(await countOnGpu(logits, labels, N, C)).toBe(want);
  });
});

test('softmaxCrossEntropy counts the first maximum on ties, as numpy', async () => {
  const logits = Float64Array.of(1, 3, 3, 2, 2, 2, 5, 1, 5, 0, 0, 7);
  const firsts = [0, 1, 2, 3].map((i) => reference.argmax(logits, i, 3));
  expect(firsts).toEqual([1, 0, 0, 2]);
  // Labelled with the first maximum, every row is right; with the last, only the untied one.
  expect(await countOnGpu(logits, Uint32Array.from(firsts), 4, 3)).toBe(4);
  expect(await countOnGpu(logits, Uint32Array.of(2, 2, 2, 2), 4, 3)).toBe(1);
});

test('softmaxCrossEntropy adds to the count at each dispatch', async () => {
  const [N, C] = [100, 10];
  const { logits, labels } = tiedBatch(3, N, C, 3);
  const want = 5 + 2 * reference.countCorrect(logits, labels, N, C);
  expect(await countOnGpu(logits, labels, N, C, { initial: 5, dispatches: 2 })).toBe(want);
});

describe('softmaxCrossEntropy running means', () => {
  // An epoch of steps of different sizes (its last batch the smallest), as
  // consecutive dispatches on the same sums, from an epoch's cleared sums.
  const C = 10;
  const random = seededRandom(11);
  const batches = [128, 300, 7, 257, 1].map((N) => {
    const logits = randomArray(random, N * C, -4, 4);
    // Labels at the argmax half the time, so the accuracy is neither 0 nor 1.
    const labels = Uint32Array.from({ length: N }, (_, i) => (random() < 0.5 ? reference.argmax(logits, i, C) : Math.floor(random() * C)));
    return { logits, labels, N, C };
  });

  test('are the sums of the running loss and accuracy after each step', async () => {
    const into = await sums();
    const dispatches = await Promise.all(batches.map((b) => forward(b.logits, b.labels, b.N, b.C, into)));
    const got = await readSums(dispatches, into);
    const want = reference.metricSums(batches);
    const rows = batches.reduce((total, b) => total + b.N, 0);
    expectClose('softmaxCrossEntropy loss sum over 5 steps', [got.lossSum], [want.lossSum], { atol: F32.atol * rows, rtol: F32.rtol });
    expect(got.correct).toBe(want.correct);
    // Rows seen is exact; each running mean has float32 rounding, and there are 5.
    expect(got.runningMeans[0]).toBe(rows);
    expectClose('softmaxCrossEntropy running means over 5 steps', got.runningMeans, want.runningMeans, { atol: F32.atol * 5, rtol: F32.rtol });
  });

  test("give Keras' printed figures", () => {
    const { runningMeans, lossSum, correct } = reference.metricSums(batches);
    const seen = runningMeans[0];
    // Keras' figure: the mean of each step's running mean, the last counted twice.
    const after = batches.map((_, step) => reference.metricSums(batches.slice(0, step + 1)));
    const printed = (values: number[]) => (values.reduce((a, b) => a + b, 0) + values[values.length - 1]) / (values.length + 1);
    const loss = printed(after.map((m) => m.lossSum / m.runningMeans[0]));
    const accuracy = printed(after.map((m) => m.correct / m.runningMeans[0]));
    expect(kerasPrinted(runningMeans[1], lossSum / seen, batches.length)).toBeCloseTo(loss, 12);
    expect(kerasPrinted(runningMeans[2], correct / seen, batches.length)).toBeCloseTo(accuracy, 12);
  });
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
      softmaxCrossEntropyForward(device, { logits: await zeros([4, 10]), labels: await zeros([4]), ...(await sums()) }),
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
      softmaxCrossEntropyForward(device, { logits: await zeros([4, 2, 5]), labels: await zeros([4], 'labels', 'u32'), ...(await sums()) }),
    ).rejects.toThrow('softmaxCrossEntropy(): logits must be [N, C] but have shape [4, 2, 5]');
  });
  test('sums that are not a vector are named', async () => {
    const { device } = await testGpu();
    await expect(
      softmaxCrossEntropyForward(device, { logits: await zeros([4, 10]), labels: await zeros([4], 'labels', 'u32'), ...(await sums()), sums: await zeros([2, 2]) }),
    ).rejects.toThrow('softmaxCrossEntropy(): sums must be [1 + metrics] but have shape [2, 2]');
  });
  test('u32 sums are named', async () => {
    const { device } = await testGpu();
    await expect(
      softmaxCrossEntropyForward(device, { logits: await zeros([4, 10]), labels: await zeros([4], 'labels', 'u32'), ...(await sums()), sums: await zeros([2], 'sums', 'u32') }),
    ).rejects.toThrow('softmaxCrossEntropy(): sums must be f32 but is u32');
  });
  test('running means of the wrong shape are named', async () => {
    const { device } = await testGpu();
    await expect(
      softmaxCrossEntropyForward(device, { logits: await zeros([4, 10]), labels: await zeros([4], 'labels', 'u32'), ...(await sums()), runningMeans: await zeros([2]) }),
    ).rejects.toThrow('softmaxCrossEntropy(): runningMeans has shape [2] but [3] was expected');
  });
  test('an accuracy past the sums is named', async () => {
    const { device } = await testGpu();
    const t = { logits: await zeros([4, 10]), labels: await zeros([4], 'labels', 'u32'), ...(await sums()) };
    await expect(softmaxCrossEntropyForward(device, t, { accuracyAt: 2 })).rejects.toThrow('softmaxCrossEntropy(): sum 2 is not one of the 2 sums');
  });
  test('a gradient of the wrong shape is named', async () => {
    const { device } = await testGpu();
    await expect(
      softmaxCrossEntropyBackward(device, { logits: await zeros([4, 10]), labels: await zeros([4], 'labels', 'u32'), dLogits: await zeros([10, 4]) }),
    ).rejects.toThrow('softmaxCrossEntropy(): dLogits has shape [10, 4] but [4, 10] was expected');
  });
});
