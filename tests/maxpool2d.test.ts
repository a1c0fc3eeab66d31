// maxpool2d.wgsl against the float64 reference: outputs, argmax and gradient.
import { describe, expect, test } from 'vitest';
import { maxPool2dBackward, maxPool2dForward, maxPool2dShape, type MaxPool2dOptions } from '../src/engine/ops/maxpool2d';
import * as activation from '../src/reference/activation';
import * as reference from '../src/reference/maxpool2d';
import {
  eachVariant,
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

// N images, H x W pixels, C channels; a PH x PW pool with strides SY, SX.
const cases: reference.PoolShape[] = [
  { N: 2, H: 26, W: 26, C: 32, PH: 2, PW: 2, SY: 2, SX: 2 },
  // Odd sizes: the last row and column fit no window and are dropped.
  { N: 2, H: 11, W: 11, C: 64, PH: 2, PW: 2, SY: 2, SX: 2 },
  { N: 1, H: 13, W: 13, C: 3, PH: 2, PW: 2, SY: 2, SX: 2 },
  // Overlapping windows: some elements are the maximum of several.
  { N: 2, H: 13, W: 13, C: 5, PH: 3, PW: 3, SY: 2, SX: 2 },
  { N: 3, H: 9, W: 14, C: 4, PH: 2, PW: 3, SY: 1, SX: 2 },
  { N: 1, H: 5, W: 4, C: 3, PH: 1, PW: 1, SY: 1, SX: 1 },
  // One window per image, and gaps between windows.
  { N: 2, H: 4, W: 4, C: 7, PH: 4, PW: 4, SY: 4, SX: 4 },
  { N: 1, H: 8, W: 8, C: 2, PH: 2, PW: 2, SY: 3, SX: 3 },
  // The same with four channels, for the vec4 variants: the cells hold the gaps.
  { N: 1, H: 8, W: 8, C: 4, PH: 2, PW: 2, SY: 3, SX: 3 },
  // Cells of a pool that is not square, the last row and column left over.
  { N: 1, H: 7, W: 10, C: 8, PH: 3, PW: 2, SY: 3, SX: 2 },
  // The models' largest: more input elements than the workgroup limit times the workgroup size.
  { N: 512, H: 26, W: 26, C: 32, PH: 2, PW: 2, SY: 2, SX: 2 },
  // 'same': odd sizes, whose last window hangs over the bottom and right border.
  { N: 2, H: 7, W: 7, C: 3, PH: 2, PW: 2, SY: 2, SX: 2, padding: 'same' },
  { N: 1, H: 13, W: 11, C: 8, PH: 2, PW: 2, SY: 2, SX: 2, padding: 'same' },
  // Overlapping windows over both borders (TensorFlow's split puts the odd pixel after), channels around the workgroup size.
  { N: 1, H: 5, W: 6, C: 4, PH: 3, PW: 3, SY: 1, SX: 1, padding: 'same' },
  { N: 1, H: 6, W: 5, C: 65, PH: 3, PW: 2, SY: 2, SX: 1, padding: 'same' },
  { N: 2, H: 9, W: 8, C: 4, PH: 3, PW: 3, SY: 2, SX: 2, padding: 'same' },
  // A pool larger than the image, which only 'same' allows; and 1x1 pools that subsample.
  { N: 1, H: 3, W: 3, C: 2, PH: 4, PW: 4, SY: 1, SX: 1, padding: 'same' },
  { N: 2, H: 5, W: 5, C: 4, PH: 1, PW: 1, SY: 2, SX: 2, padding: 'same' },
  // The cells of windows padded on both sides, and with gaps between them (PAD_TOP = PAD_LEFT = 1).
  { N: 2, H: 7, W: 10, C: 8, PH: 3, PW: 3, SY: 3, SX: 3, padding: 'same' },
  { N: 1, H: 11, W: 11, C: 4, PH: 4, PW: 4, SY: 5, SX: 5, padding: 'same' },
];

const EXACT = { atol: 0, rtol: 0 };

const describeCase = (s: reference.PoolShape) => `N=${s.N} H=${s.H} W=${s.W} C=${s.C} pool=${s.PH}x${s.PW} strides=${s.SY}x${s.SX} ${s.padding ?? 'valid'}`;
const optionsOf = (s: reference.PoolShape): MaxPool2dOptions => ({ poolSize: [s.PH, s.PW], strides: [s.SY, s.SX], padding: s.padding });

/** The values 0, 1/count, 2/count, ... shuffled: no ties, and gaps wide enough for finite differences. */
function distinctValues(random: () => number, count: number): Float64Array {
  const values = Float64Array.from({ length: count }, (_, i) => i / count);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [values[i], values[j]] = [values[j], values[i]];
  }
  return values;
}

/** Forward and backward on the GPU against the reference, for one input, in every variant (each output NaN-filled first). */
async function checkPool(what: string, s: reference.PoolShape, x: Float64Array, dOut: Float64Array) {
  const { device } = await testGpu();
  const input = [s.N, s.H, s.W, s.C];
  const output = maxPool2dShape(input, optionsOf(s));
  expect(output).toEqual([s.N, ...reference.outputSize(s), s.C]);
  const want = reference.maxPool2dForward(x, s);
  // Pooling moves floats without arithmetic, but for the sums where windows overlap: every variant gives the reference's floats.
  const tolerance = s.SY >= s.PH && s.SX >= s.PW ? EXACT : F32;

  const y = await zeros(output);
  const argmax = await zeros(output, 'argmax', 'u32');
  const forward = await maxPool2dForward(device, { x: await upload(input, x), y, argmax }, optionsOf(s));
  for await (const variant of eachVariant(forward, y, argmax)) {
    const [gotY, gotArgmax] = await run(forward, y, argmax);
    expectClose(`maxPool2d forward ${what} ${variant}`, gotY, want.y, EXACT);
    expectClose(`maxPool2d argmax ${what} ${variant}`, gotArgmax, want.argmax, EXACT);
  }

  // NaN-filled, where no window chose an element: those must be overwritten with zeros.
  const dInput = await zeros(input, 'dInput');
  const tensors = { argmax: await uploadLabels(output, want.argmax, 'argmax'), dOut: await upload(output, dOut), dInput };
  const backward = await maxPool2dBackward(device, tensors, optionsOf(s));
  for await (const variant of eachVariant(backward, dInput)) {
    const [got] = await run(backward, dInput);
    expectClose(`maxPool2d backward ${what} ${variant}`, got, reference.maxPool2dBackward(want.argmax, dOut, s), tolerance);
  }

  // With the gradient of the ReLU that wrote x (backward_relu): x's signs (and NaNs) mask it, as relu_backward would.
  const relu = await maxPool2dBackward(device, { ...tensors, reluOf: await upload(input, x) }, optionsOf(s));
  const wantRelu = activation.activationBackward('relu', x, reference.maxPool2dBackward(want.argmax, dOut, s));
  for await (const variant of eachVariant(relu, dInput)) {
    const [got] = await run(relu, dInput);
    expectClose(`maxPool2d backward_relu ${what} ${variant}`, got, wantRelu, tolerance);
  }
}

describe.each(cases.map((s) => [describeCase(s), s] as const))('maxPool2d %s', (name, s) => {
  const random = seededRandom(s.N * 1000 + s.H * 100 + s.C * 10 + s.PH + s.SY + (s.padding === 'same' ? 7 : 0));
  const inputCount = s.N * s.H * s.W * s.C;
  const [OH, OW] = reference.outputSize(s);
  const dOut = randomArray(random, s.N * OH * OW * s.C);

  const x = randomArray(random, inputCount);

  test('forward and backward', () => checkPool(name, s, x, dOut));

  // Few distinct values make ties everywhere: the first in row-major window order must win.
  if (inputCount <= 20000) {
    const ties = x.map((v) => Math.floor(v * 1.5));
    test('ties go to the first in window order', () => checkPool(`ties ${name}`, s, ties, dOut));
  }

  // Max pooling is not differentiable at ties, so the inputs have none.
  if (inputCount <= 3000) {
    const distinct = distinctValues(random, inputCount);
    test('reference backward matches central differences', () => {
      const { argmax } = reference.maxPool2dForward(distinct, s);
      const numeric = numericGradient((v) => reference.maxPool2dForward(v, s).y, distinct, dOut);
      expectClose(`maxPool2d d/dx ${name}`, reference.maxPool2dBackward(argmax, dOut, s), numeric, GRADCHECK);
    });
  }
});

test("maxPool2d 'same' takes the largest of the in-image elements, as TensorFlow's max_pool (padding with -inf) does", () => {
  // -1..-9 in a 3x3 image, all below the zeros a zero padding would add; 2x2 windows, stride 2.
  const s: reference.PoolShape = { N: 1, H: 3, W: 3, C: 1, PH: 2, PW: 2, SY: 2, SX: 2, padding: 'same' };
  const { y, argmax } = reference.maxPool2dForward([-1, -2, -3, -4, -5, -6, -7, -8, -9], s);
  expect([...y]).toEqual([-1, -3, -7, -9]);
  expect([...argmax]).toEqual([0, 2, 6, 8]);
  // 4 rows, 3x3 windows, stride 1: TensorFlow pads one row before and one after; 5 rows, stride 2: one before, one after.
  expect(reference.outputSize({ ...s, H: 4, W: 5, PH: 3, PW: 3, SY: 1, SX: 2 })).toEqual([4, 3]);
  expect(reference.poolAlong(4, 3, 1, 'same')).toEqual({ out: 4, before: 1 });
  expect(reference.poolAlong(6, 2, 2, 'same')).toEqual({ out: 3, before: 0 });
  expect(reference.poolAlong(6, 3, 2, 'same')).toEqual({ out: 3, before: 0 });
  expect(reference.poolAlong(7, 3, 3, 'same')).toEqual({ out: 3, before: 1 });
});

describe('maxPool2d errors', () => {
  const options: MaxPool2dOptions = { poolSize: [2, 2] };
  const forward = async (x: number[], y: number[], argmax: number[], argmaxType: 'f32' | 'u32' = 'u32') => {
    const { device } = await testGpu();
    const t = { x: await zeros(x), y: await zeros(y), argmax: await zeros(argmax, 'argmax', argmaxType) };
    return maxPool2dForward(device, t, options);
  };

  test('an input that is not NHWC is named', async () => {
    await expect(forward([26, 26, 32], [13, 13, 32], [13, 13, 32])).rejects.toThrow(
      'maxPool2d(): x must be [N, H, W, C], got [26, 26, 32]',
    );
  });
  test('a pool larger than the input is refused', () => {
    expect(() => maxPool2dShape([1, 2, 5, 1], { poolSize: [3, 3] })).toThrow('maxPool2d(): pool 3x3 is larger than the 2x5 input');
  });
  test("a pool larger than the input is taken with 'same' padding", () => {
    expect(maxPool2dShape([1, 2, 5, 1], { poolSize: [3, 3], padding: 'same' })).toEqual([1, 1, 2, 1]);
  });
  test('a zero stride is refused', () => {
    expect(() => maxPool2dShape([1, 4, 4, 1], { poolSize: [2, 2], strides: [0, 2] })).toThrow(
      'maxPool2d(): pool size 2x2 and strides 0x2 must be positive integers',
    );
  });
  test('an unknown padding is named', () => {
    expect(() => maxPool2dShape([1, 4, 4, 1], { poolSize: [2, 2], padding: 'full' as 'same' })).toThrow(
      "maxPool2d(): padding must be 'valid' or 'same', got 'full'",
    );
  });
  test('a wrong output shape is named', async () => {
    await expect(forward([1, 5, 5, 2], [1, 3, 3, 2], [1, 2, 2, 2])).rejects.toThrow(
      'maxPool2d(): y has shape [1, 3, 3, 2] but [1, 2, 2, 2] was expected',
    );
  });
  test('a float argmax is refused', async () => {
    await expect(forward([1, 4, 4, 2], [1, 2, 2, 2], [1, 2, 2, 2], 'f32')).rejects.toThrow(
      'maxPool2d(): argmax must be u32 but is f32',
    );
  });
  test('an argmax of the wrong shape is named in the backward', async () => {
    const { device } = await testGpu();
    const t = { argmax: await zeros([1, 2, 2, 1], 'argmax', 'u32'), dOut: await zeros([1, 3, 3, 1]), dInput: await zeros([1, 6, 6, 1]) };
    await expect(maxPool2dBackward(device, t, options)).rejects.toThrow(
      'maxPool2d(): argmax has shape [1, 2, 2, 1] but [1, 3, 3, 1] was expected',
    );
  });
});
