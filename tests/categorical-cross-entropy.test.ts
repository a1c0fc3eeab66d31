// softmaxCrossEntropy.wgsl against target rows (Keras' categorical
// cross-entropy), clipped as a softmax layer's probabilities are and from
// logits, against the float64 reference; one-hot rows against the labels'
// kernel; and the labels' kernel from logits (unclipped).
import { describe, expect, test } from 'vitest';
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from '../src/engine/ops/softmaxCrossEntropy';
import * as reference from '../src/reference/softmaxCrossEntropy';
import { total } from '../src/reference/metrics';
import { expectClose, F32, GRADCHECK, numericGradient, randomArray, run, seededRandom, testGpu, upload, uploadLabels, zeros } from './helpers';

/** Rows of C probabilities: one-hot, or soft (random, normalised), some rows with zeros. */
function targetRows(random: () => number, N: number, C: number, oneHot: boolean): Float64Array {
  const t = new Float64Array(N * C);
  for (let i = 0; i < N; i++) {
    if (oneHot) {
      t[i * C + Math.floor(random() * C)] = 1;
      continue;
    }
    const row = Array.from({ length: C }, () => (random() < 0.3 ? 0 : random()));
    const sum = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((v, j) => (t[i * C + j] = Math.fround(v / sum)));
  }
  return t;
}

/** Σ loss and the running means after one forward dispatch from cleared sums. */
async function forwardSums(logits: ArrayLike<number>, targets: ArrayLike<number>, N: number, C: number, clipped: boolean) {
  const { device } = await testGpu();
  const sums = await zeros([1]);
  const runningMeans = await zeros([2]);
  const dispatch = await softmaxCrossEntropyForward(device, { logits: await upload([N, C], logits), targets: await upload([N, C], targets), sums, runningMeans }, { clipped });
  const [[lossSum], means] = await run(dispatch, sums, runningMeans);
  return { lossSum, runningMeans: means };
}

async function backward(logits: ArrayLike<number>, targets: ArrayLike<number>, N: number, C: number, clipped: boolean) {
  const { device } = await testGpu();
  const dLogits = await zeros([N, C]);
  const dispatch = await softmaxCrossEntropyBackward(device, { logits: await upload([N, C], logits), targets: await upload([N, C], targets), dLogits }, { clipped });
  return (await run(dispatch, dLogits))[0];
}

// Logits in ±4 give probabilities inside the clip; in ±40 many are clipped.
// Row counts on both sides of forward's 256 invocations.
const cases: [number, number, number, boolean][] = [];
for (const N of [1, 7, 257]) {
  for (const C of [1, 3, 10]) {
    for (const scale of [4, 40]) for (const oneHot of [true, false]) cases.push([N, C, scale, oneHot]);
  }
}

describe.each(cases)('categorical cross-entropy N=%i C=%i logits in ±%i one-hot=%s', (N, C, scale, oneHot) => {
  const random = seededRandom(N * 1000 + C * 10 + scale + (oneHot ? 1 : 0));
  const logits = randomArray(random, N * C, -scale, scale);
  const targets = targetRows(random, N, C, oneHot);

  for (const clipped of [true, false]) {
    const name = `categorical N=${N} C=${C} scale=${scale} one-hot=${oneHot} clipped=${clipped}`;
    test(`forward, ${clipped ? 'clipped' : 'from logits'}`, async () => {
      const got = await forwardSums(logits, targets, N, C, clipped);
      const want = total(reference.categoricalLosses(logits, targets, N, C, clipped));
      // A sum of N·C terms, each with float32 rounding, the unclipped ones up to ~2·scale.
      expectClose(`${name} forward`, [got.lossSum], [want], { atol: F32.atol * N * C * (clipped ? 1 : scale), rtol: F32.rtol });
      expect(got.runningMeans[0]).toBe(N);
      expectClose(`${name} running mean`, [got.runningMeans[1]], [got.lossSum / N], { atol: 0, rtol: 1e-6 });
    });

    test(`backward, ${clipped ? 'clipped' : 'from logits'}`, async () => {
      const got = await backward(logits, targets, N, C, clipped);
      expectClose(`${name} backward`, got, reference.categoricalBackward(logits, targets, N, C, clipped), { atol: F32.atol / N, rtol: F32.rtol });
    });

    if (N * C > 100) continue;
    test(`reference backward matches central differences, ${clipped ? 'clipped' : 'from logits'}`, () => {
      const meanLoss = (z: Float64Array) => [total(reference.categoricalLosses(z, targets, N, C, clipped)) / N];
      expectClose(`${name} d/dlogits`, reference.categoricalBackward(logits, targets, N, C, clipped), numericGradient(meanLoss, logits, [1]), GRADCHECK);
    });
  }
});

describe('one-hot rows against labels', () => {
  const [N, C] = [300, 10];
  const random = seededRandom(5);
  const logits = randomArray(random, N * C, -30, 30);
  const labels = Uint32Array.from({ length: N }, () => Math.floor(random() * C));
  const oneHot = Float64Array.from({ length: N * C }, (_, k) => (labels[Math.floor(k / C)] === k % C ? 1 : 0));

  test('give the labels loss bit for bit, clipped or not', async () => {
    const { device } = await testGpu();
    for (const clipped of [true, false]) {
      const sums = await zeros([1]);
      const runningMeans = await zeros([2]);
      const dispatch = await softmaxCrossEntropyForward(device, { logits: await upload([N, C], logits), labels: await uploadLabels([N], labels), sums, runningMeans }, { clipped });
      const [[fromLabels]] = await run(dispatch, sums);
      expect((await forwardSums(logits, oneHot, N, C, clipped)).lossSum, `clipped=${clipped}`).toBe(fromLabels);
    }
  });

  test("give the labels' gradient bit for bit where nothing is clipped", async () => {
    const { device } = await testGpu();
    const inside = randomArray(random, N * C, -4, 4);
    const dLogits = await zeros([N, C]);
    const dispatch = await softmaxCrossEntropyBackward(device, { logits: await upload([N, C], inside), labels: await uploadLabels([N], labels), dLogits });
    const [fromLabels] = await run(dispatch, dLogits);
    expect([...(await backward(inside, oneHot, N, C, true))]).toEqual([...fromLabels]);
  });
});

test('labels from logits are not clipped', async () => {
  const { device } = await testGpu();
  const [N, C] = [7, 5];
  // Row 0: the label trails by 40 (past the clip); row 1: it leads by 40.
  const logits = Float64Array.from({ length: N * C }, (_, k) => (k === 0 ? -40 : k === C + 1 ? 40 : 0));
  const labels = Uint32Array.of(0, 1, 2, 3, 4, 0, 1);
  const sums = await zeros([1]);
  const runningMeans = await zeros([2]);
  const dispatch = await softmaxCrossEntropyForward(device, { logits: await upload([N, C], logits), labels: await uploadLabels([N], labels), sums, runningMeans }, { clipped: false });
  const [[got]] = await run(dispatch, sums);
  const want = total(reference.softmaxCrossEntropyLosses(logits, labels, N, C, false));
  expect(want).toBeGreaterThan(total(reference.softmaxCrossEntropyLosses(logits, labels, N, C)) + 20);
  expectClose('sparse from logits', [got], [want], { atol: F32.atol * N, rtol: F32.rtol });
});

test('target rows of another shape are refused', async () => {
  const { device } = await testGpu();
  const t = { logits: await zeros([4, 10]), targets: await zeros([4, 9]), sums: await zeros([1]), runningMeans: await zeros([2]) };
  await expect(softmaxCrossEntropyForward(device, t)).rejects.toThrow('softmaxCrossEntropy(): targets has shape [4, 9] but [4, 10] was expected');
  const rows = { ...t, targets: await zeros([4, 10]), sums: await zeros([2]), runningMeans: await zeros([3]) };
  await expect(softmaxCrossEntropyForward(device, rows, { accuracyAt: 1 })).rejects.toThrow('softmaxCrossEntropy(): the accuracy of target rows is a metric of its own');
});
