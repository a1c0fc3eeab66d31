// meanError.wgsl (Keras' meanSquaredError and meanAbsoluteError, as a loss and
// as the mse and mae metrics) against the float64 reference.
import { describe, expect, test } from 'vitest';
import { meanErrorBackward, meanErrorForward, type ErrorKind } from '../src/engine/ops/meanError';
import * as reference from '../src/reference/meanError';
import { sumsAfter, total } from '../src/reference/metrics';
import { expectClose, F32, GRADCHECK, numericGradient, randomArray, run, seededRandom, testGpu, upload, zeros } from './helpers';

const cases: [ErrorKind, number, number][] = [];
for (const kind of ['squared', 'absolute'] as const) {
  for (const N of [1, 7, 257]) for (const R of [1, 10, 784]) cases.push([kind, N, R]);
}

describe.each(cases)('mean %s error N=%i R=%i', (kind, N, R) => {
  const random = seededRandom(N * 10000 + R * 10 + (kind === 'squared' ? 1 : 2));
  const y = randomArray(random, N * R, -2, 2);
  const targets = randomArray(random, N * R, 0, 1);
  const name = `mean ${kind} error N=${N} R=${R}`;

  test('forward, as the loss', async () => {
    const { device } = await testGpu();
    const sums = await zeros([1]);
    const runningMeans = await zeros([2]);
    const dispatch = await meanErrorForward(device, kind, { y: await upload([N, R], y), targets: await upload([N, R], targets), sums, runningMeans });
    const [[got], means] = await run(dispatch, sums, runningMeans);
    expectClose(`${name} forward`, [got], [total(reference.meanErrorLosses(kind, y, targets, N, R))], { atol: F32.atol * N, rtol: F32.rtol });
    expect(means[0]).toBe(N);
  });

  test('backward', async () => {
    const { device } = await testGpu();
    const dY = await zeros([N, R]);
    const dispatch = await meanErrorBackward(device, kind, { y: await upload([N, R], y), targets: await upload([N, R], targets), dY });
    const [got] = await run(dispatch, dY);
    expectClose(`${name} backward`, got, reference.meanErrorBackward(kind, y, targets, N, R), { atol: F32.atol / (N * R), rtol: F32.rtol });
  });

  if (N * R > 100) return;
  test('reference backward matches central differences', () => {
    const meanLoss = (v: Float64Array) => [total(reference.meanErrorLosses(kind, v, targets, N, R)) / N];
    expectClose(`${name} d/dy`, reference.meanErrorBackward(kind, y, targets, N, R), numericGradient(meanLoss, y, [1]), GRADCHECK);
  });
});

test('as metrics, after a loss: the rows are counted once, and each adds its own sum and running mean', async () => {
  const { device } = await testGpu();
  const random = seededRandom(8);
  const R = 6;
  const steps = [5, 300, 1].map((N) => ({ N, y: randomArray(random, N * R), targets: randomArray(random, N * R) }));
  // The squared error as the loss and as a metric, the absolute one as a second metric.
  const sums = await zeros([3]);
  const runningMeans = await zeros([4]);
  const dispatches = [];
  for (const { N, y, targets } of steps) {
    const t = { y: await upload([N, R], y), targets: await upload([N, R], targets), sums, runningMeans };
    dispatches.push(await meanErrorForward(device, 'squared', t), await meanErrorForward(device, 'squared', t, 1), await meanErrorForward(device, 'absolute', t, 2));
  }
  const [gotSums, gotMeans] = await run(dispatches, sums, runningMeans);
  const want = sumsAfter(
    steps.map(({ N, y, targets }) => {
      const squared = total(reference.meanErrorLosses('squared', y, targets, N, R));
      return { rows: N, totals: [squared, squared, total(reference.meanErrorLosses('absolute', y, targets, N, R))] };
    }),
  );
  expectClose('mse, mse, mae sums', gotSums, want.sums, { atol: F32.atol * 306, rtol: F32.rtol });
  expect(gotMeans[0]).toBe(306);
  expectClose('their running means', gotMeans, want.runningMeans, { atol: F32.atol * 3, rtol: F32.rtol });
  expect(gotSums[1]).toBe(gotSums[0]);
});

test('a NaN output gives a NaN loss and gradient, for both errors', async () => {
  const { device } = await testGpu();
  for (const kind of ['squared', 'absolute'] as const) {
    const y = await upload([2, 2], [0.5, NaN, 1, 2]);
    const targets = await upload([2, 2], [0, 0, 1, 1]);
    const sums = await zeros([1]);
    const dY = await zeros([2, 2]);
    const [[loss]] = await run(await meanErrorForward(device, kind, { y, targets, sums, runningMeans: await zeros([2]) }), sums);
    expect(loss, kind).toBeNaN();
    const [grad] = await run(await meanErrorBackward(device, kind, { y, targets, dY }), dY);
    expect([...grad].map(Number.isNaN), kind).toEqual([false, true, false, false]);
  }
});
