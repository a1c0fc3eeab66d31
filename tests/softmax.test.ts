// softmax.wgsl against the float64 reference, forward and backward, from
// moderate logits to ±1000.
import { describe, expect, test } from 'vitest';
import { softmaxBackward, softmaxForward } from '../src/engine/ops/softmax';
import * as reference from '../src/reference/softmax';
import { expectClose, F32, GRADCHECK, numericGradient, randomArray, run, seededRandom, testGpu, upload, zeros } from './helpers';

/** The forward's output as the GPU stores it, for the backward's input. */
function float32(values: ArrayLike<number>): Float64Array {
  return new Float64Array(new Float32Array(values));
}

/** Forward and backward on the GPU against the reference, for one input. */
async function checkSoftmax(what: string, rows: number, C: number, x: Float64Array, dOut: Float64Array) {
  const { device } = await testGpu();
  const y = await zeros([rows, C]);
  const [gotY] = await run(await softmaxForward(device, { x: await upload([rows, C], x), y }), y);
  const want = reference.softmaxForward(x, rows, C);
  expectClose(`softmax forward ${what}`, gotY, want, F32);
  expect(gotY.every(Number.isFinite)).toBe(true);

  const wantY = float32(want);
  const dInput = await zeros([rows, C]);
  const dispatch = await softmaxBackward(device, { y: await upload([rows, C], wantY), dOut: await upload([rows, C], dOut), dInput });
  const [gotInput] = await run(dispatch, dInput);
  expectClose(`softmax backward ${what}`, gotInput, reference.softmaxBackward(wantY, dOut, rows, C), F32);
  expect(gotInput.every(Number.isFinite)).toBe(true);
}

const shapes: [number, number][] = [1, 7, 128].flatMap((rows) => [1, 10, 1000].map((C): [number, number] => [rows, C]));

describe.each(shapes)('softmax rows=%i C=%i', (rows, C) => {
  const random = seededRandom(rows * 10000 + C);
  const dOut = randomArray(random, rows * C);
  const x = randomArray(random, rows * C, -5, 5);

  test('forward and backward', () => checkSoftmax(`rows=${rows} C=${C}`, rows, C, x, dOut));

  // exp(1000) overflows even float64: only the shift by the row's maximum keeps these finite.
  test('logits up to ±1000', () => {
    const large = randomArray(random, rows * C, -1000, 1000);
    return checkSoftmax(`logits ±1000 rows=${rows} C=${C}`, rows, C, large, dOut);
  });

  // Finite differences cost one forward per input: only on the small shapes.
  if (rows * C > 2000) return;
  test('reference backward matches central differences', () => {
    const analytic = reference.softmaxBackward(reference.softmaxForward(x, rows, C), dOut, rows, C);
    const numeric = numericGradient((v) => reference.softmaxForward(v, rows, C), x, dOut);
    expectClose(`softmax d/dx rows=${rows} C=${C}`, analytic, numeric, GRADCHECK);
  });
});

test('softmax of equal logits at ±1000 is uniform', async () => {
  const C = 10;
  const x = new Float64Array(3 * C);
  x.fill(1000, 0, C);
  x.fill(-1000, C, 2 * C);
  x.fill(-1000, 2 * C).fill(1000, 2 * C, 2 * C + 1);
  const dOut = randomArray(seededRandom(3), x.length);
  await checkSoftmax('equal logits ±1000', 3, C, x, dOut);
});

describe('softmax errors', () => {
  test('an input that is not [rows, C] is named', async () => {
    const { device } = await testGpu();
    await expect(softmaxForward(device, { x: await zeros([2, 3, 4]), y: await zeros([2, 3, 4]) })).rejects.toThrow(
      'softmax(): x must be [rows, C], got [2, 3, 4]',
    );
  });
  test('a wrong output shape is named', async () => {
    const { device } = await testGpu();
    await expect(softmaxForward(device, { x: await zeros([4, 10]), y: await zeros([10, 4]) })).rejects.toThrow(
      'softmax(): y has shape [10, 4] but [4, 10] was expected',
    );
  });
  test('a wrong gradient shape is named', async () => {
    const { device } = await testGpu();
    const dispatch = softmaxBackward(device, { y: await zeros([4, 10]), dOut: await zeros([4, 10]), dInput: await zeros([4, 9]) });
    await expect(dispatch).rejects.toThrow('softmax(): dInput has shape [4, 9] but [4, 10] was expected');
  });
});
