// metrics.wgsl against the float64 reference: categorical, binary and top-k
// categorical accuracy (and top-k for labels), each added to its own sum and
// running mean after the loss' (sums.wgsl), ties and NaNs included.
import { describe, expect, test } from 'vitest';
import { meanErrorForward } from '../src/engine/ops/meanError';
import { metricForward, type MetricKernel } from '../src/engine/ops/metrics';
import { meanErrorLosses } from '../src/reference/meanError';
import * as reference from '../src/reference/metrics';
import { expectClose, F32, randomArray, run, seededRandom, testGpu, upload, uploadLabels, zeros } from './helpers';

/** Outputs from `levels` values (few levels: many ties), as probabilities or anything else. */
function outputs(random: () => number, count: number, levels: number): Float64Array {
  return Float64Array.from({ length: count }, () => Math.fround(Math.floor(random() * levels) / levels));
}

/** The metric's total over one step from sums [loss, metric] (the rows counted as the loss would). */
async function metricTotal(metric: MetricKernel, y: ArrayLike<number>, classes: { targets: ArrayLike<number> } | { labels: ArrayLike<number> }, shape: number[], k?: number) {
  const { device } = await testGpu();
  const sums = await zeros([2]);
  const runningMeans = await upload([3], [shape[0], 0, 0]);
  const t = 'targets' in classes ? { targets: await upload(shape, classes.targets) } : { labels: await uploadLabels([shape[0]], classes.labels) };
  const dispatch = await metricForward(device, metric, { y: await upload(shape, y), ...t, sums, runningMeans }, { at: 1, k });
  const [got, means] = await run(dispatch, sums, runningMeans);
  // The loss' sum and the rows seen are the loss' to write.
  expect([got[0], means[0], means[1]]).toEqual([0, shape[0], 0]);
  expectClose(`${metric} running mean`, [means[2]], [got[1] / shape[0]], { atol: 0, rtol: 1e-6 });
  return got[1];
}

// Row counts on both sides of the 256 invocations; 1, 2 and 10 classes; few levels (ties) and many.
const cases: [number, number, number][] = [];
for (const N of [1, 7, 257]) for (const C of [1, 2, 10]) for (const levels of [3, 1 << 20]) cases.push([N, C, levels]);

describe.each(cases)('metrics N=%i C=%i levels=%i', (N, C, levels) => {
  const random = seededRandom(N * 1000 + C * 10 + levels);
  const y = outputs(random, N * C, levels);
  const oneHot = Float64Array.from({ length: N * C }, () => 0);
  for (let i = 0; i < N; i++) oneHot[i * C + Math.floor(random() * C)] = 1;
  const labels = reference.targetClasses(oneHot, N, C);

  test('categorical accuracy', async () => {
    expect(await metricTotal('categoricalAccuracy', y, { targets: oneHot }, [N, C])).toBe(reference.total(reference.categoricalAccuracy(y, oneHot, N, C)));
  });

  test('binary accuracy, of targets 0 and 1 and others', async () => {
    // Fractional targets are never matched; 0.5 itself counts as 0.
    const targets = Float64Array.from(oneHot, (v, j) => (j % 7 === 3 ? 0.5 : v));
    const want = reference.total(reference.binaryAccuracy(y, targets, N, C));
    expectClose(`binary accuracy N=${N} C=${C}`, [await metricTotal('binaryAccuracy', y, { targets }, [N, C])], [want], { atol: F32.atol * N, rtol: F32.rtol });
  });

  for (const k of [1, 2, 5]) {
    test(`top-${k} categorical accuracy, of targets and of labels`, async () => {
      const want = reference.total(reference.topK(y, labels, N, C, k));
      expect(await metricTotal('topKCategoricalAccuracy', y, { targets: oneHot }, [N, C], k)).toBe(want);
      expect(await metricTotal('sparseTopKCategoricalAccuracy', y, { labels }, [N, C], k)).toBe(want);
    });
  }
});

test('top-k counts ties for the target, a NaN of its own as -Infinity, and a label out of range as a miss', async () => {
  const y = Float64Array.of(0.1, 0.3, 0.3, 0.3, 0.0, NaN, 0.2, 0.5, 0.9, 0.4);
  // Row 0: three outputs tie at 0.3, above the target's 0.1... and row 1's own output is NaN.
  const labels = Uint32Array.of(1, 0);
  const want = reference.topK(y, labels, 2, 5, 1);
  expect([...want]).toEqual([1, 0]);
  expect(await metricTotal('sparseTopKCategoricalAccuracy', y, { labels }, [2, 5], 1)).toBe(1);
  expect([...reference.topK(y, labels, 2, 5, 5)]).toEqual([1, 1]);
  expect(await metricTotal('sparseTopKCategoricalAccuracy', y, { labels }, [2, 5], 5)).toBe(2);
  expect(await metricTotal('sparseTopKCategoricalAccuracy', y, { labels: Uint32Array.of(5, 9) }, [2, 5], 5)).toBe(0);
});

test('metrics after a loss each add to their own sum and running mean, over steps', async () => {
  const { device } = await testGpu();
  const random = seededRandom(4);
  const C = 10;
  const steps = [128, 300, 7].map((N) => {
    const y = randomArray(random, N * C, 0, 1);
    const targets = Float64Array.from({ length: N * C }, () => 0);
    for (let i = 0; i < N; i++) targets[i * C + Math.floor(random() * C)] = 1;
    return { N, y, targets };
  });
  const sums = await zeros([4]);
  const runningMeans = await zeros([5]);
  const dispatches = [];
  // The mean squared error as the loss, which counts the rows, then three metrics.
  for (const { N, y, targets } of steps) {
    const t = { y: await upload([N, C], y), targets: await upload([N, C], targets), sums, runningMeans };
    dispatches.push(
      await meanErrorForward(device, 'squared', t),
      await metricForward(device, 'categoricalAccuracy', t, { at: 1 }),
      await metricForward(device, 'topKCategoricalAccuracy', t, { at: 2 }),
      await metricForward(device, 'binaryAccuracy', t, { at: 3 }),
    );
  }
  const [gotSums, gotMeans] = await run(dispatches, sums, runningMeans);
  const want = reference.sumsAfter(
    steps.map(({ N, y, targets }) => ({
      rows: N,
      totals: [
        reference.total(meanErrorLosses('squared', y, targets, N, C)),
        reference.total(reference.categoricalAccuracy(y, targets, N, C)),
        reference.total(reference.topK(y, reference.targetClasses(targets, N, C), N, C, 5)),
        reference.total(reference.binaryAccuracy(y, targets, N, C)),
      ],
    })),
  );
  expectClose('a loss and three metrics over three steps', gotSums, want.sums, { atol: F32.atol * 435, rtol: F32.rtol });
  expect(gotMeans[0]).toBe(435);
  expectClose('their running means', gotMeans, want.runningMeans, { atol: F32.atol * 3, rtol: F32.rtol });
});

test('a metric is refused at the loss sum, with the wrong classes, or with k below 1', async () => {
  const { device } = await testGpu();
  const t = { y: await zeros([4, 10]), targets: await zeros([4, 10]), sums: await zeros([2]), runningMeans: await zeros([3]) };
  await expect(metricForward(device, 'categoricalAccuracy', t, { at: 0 })).rejects.toThrow("categorical_accuracy(): sums[0] is the loss'");
  await expect(metricForward(device, 'sparseTopKCategoricalAccuracy', t, { at: 1 })).rejects.toThrow('sparse_top_k_categorical_accuracy(): takes labels');
  await expect(metricForward(device, 'topKCategoricalAccuracy', t, { at: 1, k: 0 })).rejects.toThrow('top_k_categorical_accuracy(): k must be a positive integer, got 0');
  await expect(metricForward(device, 'binaryAccuracy', { ...t, targets: await zeros([4, 9]) }, { at: 1 })).rejects.toThrow('binary_accuracy(): targets has shape [4, 9] but [4, 10] was expected');
});
