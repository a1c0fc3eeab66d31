// accuracy.wgsl against the CPU reference: argmax ties, labels out of range,
// and accumulation over dispatches.
import { describe, expect, test } from 'vitest';
import { accuracyForward } from '../src/engine/ops/accuracy';
import * as reference from './reference/accuracy';
import { run, seededRandom, testGpu, upload, uploadLabels, zeros } from './helpers';

/**
 * Predictions drawn from `levels` values (few levels: many ties), and labels
 * that hit each row's first maximum, its last one (wrong on a tie), another
 * class, and classes out of range.
 */
function randomBatch(seed: number, N: number, C: number, levels: number) {
  const random = seededRandom(seed);
  const predictions = Float64Array.from({ length: N * C }, () => Math.floor(random() * levels) / levels - 0.5);
  const labels = Uint32Array.from({ length: N }, (_, i) => {
    const row = predictions.subarray(i * C, (i + 1) * C);
    const r = random();
    if (r < 0.4) return reference.argmax(row, 0, C);
    if (r < 0.6) return row.lastIndexOf(Math.max(...row));
    if (r < 0.8) return Math.floor(random() * C);
    return r < 0.9 ? C : 0xffffffff;
  });
  return { predictions, labels };
}

async function countOnGpu(predictions: Float64Array, labels: Uint32Array, N: number, C: number, initial = 0, dispatches = 1) {
  const { device } = await testGpu();
  const correct = await uploadLabels([1], [initial], 'correct');
  const dispatch = await accuracyForward(device, {
    predictions: await upload([N, C], predictions),
    labels: await uploadLabels([N], labels),
    correct,
  });
  const [got] = await run(Array(dispatches).fill(dispatch), correct);
  return got[0];
}

// Row counts on both sides of the 64-row workgroup, and one class (always right
// unless the label is out of range).
const cases: [number, number, number][] = [];
for (const N of [1, 7, 64, 65, 1000]) {
  for (const C of [1, 2, 10]) {
    for (const levels of [3, 1 << 20]) cases.push([N, C, levels]);
  }
}

describe.each(cases)('accuracy N=%i C=%i levels=%i', (N, C, levels) => {
  test('forward', async () => {
    const { predictions, labels } = randomBatch(N * 1000 + C * 10 + levels, N, C, levels);
    const want = reference.accuracyForward(predictions, labels, N, C);
    console.info(`accuracy N=${N} C=${C} levels=${levels}: ${want} of ${N} correct`);
    expect(await countOnGpu(predictions, labels, N, C)).toBe(want);
  });
});

test('accuracy takes the first maximum on ties, as numpy', async () => {
  const predictions = Float64Array.of(1, 3, 3, 2, 2, 2, 5, 1, 5, 0, 0, 7);
  const firsts = [0, 1, 2, 3].map((i) => reference.argmax(predictions, i, 3));
  expect(firsts).toEqual([1, 0, 0, 2]);
  // Labelled with the first maximum, every row is right; with the last, only the untied one.
  expect(await countOnGpu(predictions, Uint32Array.from(firsts), 4, 3)).toBe(4);
  expect(await countOnGpu(predictions, Uint32Array.of(2, 2, 2, 2), 4, 3)).toBe(1);
});

test('accuracy adds to the count at each dispatch', async () => {
  const [N, C] = [100, 10];
  const { predictions, labels } = randomBatch(3, N, C, 3);
  const want = 5 + 2 * reference.accuracyForward(predictions, labels, N, C);
  expect(await countOnGpu(predictions, labels, N, C, 5, 2)).toBe(want);
});

describe('accuracy errors', () => {
  test('float labels are refused', async () => {
    const { device } = await testGpu();
    await expect(
      accuracyForward(device, { predictions: await zeros([4, 10]), labels: await zeros([4]), correct: await zeros([1], 'correct', 'u32') }),
    ).rejects.toThrow('accuracy(): labels must be u32 class indices but are f32');
  });
  test('a label count that is not the row count is named', async () => {
    const { device } = await testGpu();
    await expect(
      accuracyForward(device, { predictions: await zeros([4, 10]), labels: await zeros([3], 'labels', 'u32'), correct: await zeros([1], 'correct', 'u32') }),
    ).rejects.toThrow('accuracy(): labels have shape [3] but predictions have 4 rows ([4, 10])');
  });
  test('predictions that are not a matrix are refused', async () => {
    const { device } = await testGpu();
    await expect(
      accuracyForward(device, { predictions: await zeros([40]), labels: await zeros([40], 'labels', 'u32'), correct: await zeros([1], 'correct', 'u32') }),
    ).rejects.toThrow('accuracy(): predictions must be [N, C] but have shape [40]');
  });
  test('a float count is refused', async () => {
    const { device } = await testGpu();
    await expect(
      accuracyForward(device, { predictions: await zeros([4, 10]), labels: await zeros([4], 'labels', 'u32'), correct: await zeros([1]) }),
    ).rejects.toThrow('accuracy(): correct must be one u32 but is f32 [1]');
  });
});
