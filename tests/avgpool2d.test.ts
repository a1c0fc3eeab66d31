// avgpool2d.wgsl against the float64 reference: outputs and gradient, with
// 'valid' and 'same' padding, overlapping windows, gaps and 1x1 pools.
import { describe, expect, test } from 'vitest';
import { averagePooling2d, dense, flatten } from '../src/engine/layers';
import { sequential } from '../src/engine/model';
import { avgPool2dBackward, avgPool2dForward, avgPool2dShape, type AvgPool2dOptions } from '../src/engine/ops/avgpool2d';
import * as reference from '../src/reference/avgpool2d';
import { eachVariant, expectClose, F32, GRADCHECK, numericGradient, randomArray, run, seededRandom, testGpu, upload, zeros } from './helpers';

// N images, H x W pixels, C channels; a PH x PW pool with strides SY, SX.
const cases: reference.AvgPoolShape[] = [
  { N: 2, H: 8, W: 8, C: 5, PH: 2, PW: 2, SY: 2, SX: 2, padding: 'valid' },
  // Odd sizes: the last row and column fit no window and are dropped (valid), or make a window over the border (same).
  { N: 1, H: 7, W: 9, C: 3, PH: 2, PW: 2, SY: 2, SX: 2, padding: 'valid' },
  { N: 2, H: 7, W: 7, C: 3, PH: 2, PW: 2, SY: 2, SX: 2, padding: 'same' },
  // Overlapping windows: some elements are in several.
  { N: 2, H: 9, W: 8, C: 4, PH: 3, PW: 3, SY: 2, SX: 2, padding: 'valid' },
  { N: 3, H: 6, W: 7, C: 2, PH: 2, PW: 3, SY: 1, SX: 2, padding: 'valid' },
  // Windows over the border on both sides, and channels around the workgroup size.
  { N: 1, H: 5, W: 6, C: 4, PH: 3, PW: 3, SY: 1, SX: 1, padding: 'same' },
  { N: 1, H: 6, W: 5, C: 65, PH: 3, PW: 2, SY: 2, SX: 1, padding: 'same' },
  // A pool larger than the image, which only 'same' allows.
  { N: 1, H: 3, W: 3, C: 2, PH: 4, PW: 4, SY: 1, SX: 1, padding: 'same' },
  // 1x1 pools: a copy, or a subsampling.
  { N: 1, H: 5, W: 4, C: 3, PH: 1, PW: 1, SY: 1, SX: 1, padding: 'valid' },
  { N: 2, H: 5, W: 5, C: 3, PH: 1, PW: 1, SY: 2, SX: 2, padding: 'same' },
  // One window per image, and gaps between windows (elements no window covers).
  { N: 2, H: 4, W: 4, C: 7, PH: 4, PW: 4, SY: 4, SX: 4, padding: 'valid' },
  { N: 1, H: 8, W: 8, C: 2, PH: 2, PW: 2, SY: 3, SX: 3, padding: 'valid' },
  // More input pixels (270,400) than the strided grid's invocations (262,144).
  { N: 400, H: 26, W: 26, C: 4, PH: 2, PW: 2, SY: 2, SX: 2, padding: 'valid' },
  // Four channels and more, for the vec4 variants: the cells of 'same' windows
  // over both borders, of windows with gaps, of a pool that is not square with
  // a row and a column left over, and overlapping windows (no cells).
  { N: 2, H: 7, W: 7, C: 8, PH: 2, PW: 2, SY: 2, SX: 2, padding: 'same' },
  { N: 1, H: 7, W: 10, C: 4, PH: 3, PW: 3, SY: 3, SX: 3, padding: 'same' },
  { N: 1, H: 8, W: 8, C: 4, PH: 2, PW: 2, SY: 3, SX: 3, padding: 'valid' },
  { N: 1, H: 7, W: 10, C: 12, PH: 3, PW: 2, SY: 3, SX: 2, padding: 'valid' },
  { N: 2, H: 9, W: 8, C: 4, PH: 3, PW: 3, SY: 2, SX: 2, padding: 'same' },
];

const describeCase = (s: reference.AvgPoolShape) =>
  `N=${s.N} H=${s.H} W=${s.W} C=${s.C} pool=${s.PH}x${s.PW} strides=${s.SY}x${s.SX} ${s.padding}`;
const optionsOf = (s: reference.AvgPoolShape): AvgPool2dOptions => ({ poolSize: [s.PH, s.PW], strides: [s.SY, s.SX], padding: s.padding });

describe.each(cases.map((s) => [describeCase(s), s] as const))('avgPool2d %s', (name, s) => {
  const random = seededRandom(s.N * 1000 + s.H * 100 + s.C * 10 + s.PH + s.SY + (s.padding === 'same' ? 7 : 0));
  const input = [s.N, s.H, s.W, s.C];
  const [OH, OW] = reference.avgPoolOutputSize(s);
  const output = [s.N, OH, OW, s.C];
  const x = randomArray(random, s.N * s.H * s.W * s.C);
  const dOut = randomArray(random, s.N * OH * OW * s.C);

  test('forward and backward, in every variant', async () => {
    const { device } = await testGpu();
    expect(avgPool2dShape(input, optionsOf(s))).toEqual(output);
    const y = await zeros(output);
    // Every variant adds the same floats in the same order: the first's results, to the bit.
    const results: ArrayLike<number>[] = [];
    const forward = await avgPool2dForward(device, { x: await upload(input, x), y }, optionsOf(s));
    for await (const variant of eachVariant(forward, y)) {
      const [gotY] = await run(forward, y);
      expectClose(`avgPool2d forward ${name} ${variant}`, gotY, reference.avgPool2dForward(x, s), F32);
      expectClose(`avgPool2d forward ${name} ${variant} against the first variant`, gotY, (results[0] ??= gotY), { atol: 0, rtol: 0 });
    }

    // NaN-filled, where no window covers an element: those must be overwritten with zeros.
    const dInput = await zeros(input, 'dInput');
    const backward = await avgPool2dBackward(device, { dOut: await upload(output, dOut), dInput }, optionsOf(s));
    for await (const variant of eachVariant(backward, dInput)) {
      const [gotInput] = await run(backward, dInput);
      expectClose(`avgPool2d backward ${name} ${variant}`, gotInput, reference.avgPool2dBackward(dOut, s), F32);
      expectClose(`avgPool2d backward ${name} ${variant} against the first variant`, gotInput, (results[1] ??= gotInput), { atol: 0, rtol: 0 });
    }
  });

  if (x.length <= 3000) {
    test('reference backward matches central differences', () => {
      const numeric = numericGradient((v) => reference.avgPool2dForward(v, s), x, dOut);
      expectClose(`avgPool2d d/dx ${name}`, reference.avgPool2dBackward(dOut, s), numeric, GRADCHECK);
    });
  }
});

test("avgPool2d 'same' averages only the in-image elements, as TensorFlow's avg_pool does", () => {
  // 1..9 in a 3x3 image; 2x2 windows, stride 2: the right and bottom windows hang over the border.
  const s: reference.AvgPoolShape = { N: 1, H: 3, W: 3, C: 1, PH: 2, PW: 2, SY: 2, SX: 2, padding: 'same' };
  const y = reference.avgPool2dForward([1, 2, 3, 4, 5, 6, 7, 8, 9], s);
  expect([...y]).toEqual([(1 + 2 + 4 + 5) / 4, (3 + 6) / 2, (7 + 8) / 2, 9]);
});

describe('avgPool2d errors', () => {
  const options: AvgPool2dOptions = { poolSize: [2, 2] };

  test('an input that is not NHWC is named', async () => {
    const { device } = await testGpu();
    await expect(avgPool2dForward(device, { x: await zeros([6, 6, 2]), y: await zeros([3, 3, 2]) }, options)).rejects.toThrow(
      'avgPool2d(): x must be [N, H, W, C], got [6, 6, 2]',
    );
  });
  test('a pool larger than the input is refused with valid padding', () => {
    expect(() => avgPool2dShape([1, 2, 5, 1], { poolSize: [3, 3] })).toThrow(
      "avgPool2d(): pool 3x3 is larger than the 2x5 input with 'valid' padding",
    );
    expect(avgPool2dShape([1, 2, 5, 1], { poolSize: [3, 3], padding: 'same' })).toEqual([1, 1, 2, 1]);
  });
  test('a zero stride is refused', () => {
    expect(() => avgPool2dShape([1, 4, 4, 1], { poolSize: [2, 2], strides: [0, 2] })).toThrow(
      'avgPool2d(): pool size 2x2 and strides 0x2 must be positive integers',
    );
  });
  test('an unknown padding is named', () => {
    expect(() => avgPool2dShape([1, 4, 4, 1], { poolSize: [2, 2], padding: 'full' as 'same' })).toThrow(
      "avgPool2d(): padding must be 'valid' or 'same', got 'full'",
    );
  });
  test('a wrong output shape is named', async () => {
    const { device } = await testGpu();
    await expect(avgPool2dForward(device, { x: await zeros([1, 5, 5, 2]), y: await zeros([1, 3, 3, 2]) }, options)).rejects.toThrow(
      'avgPool2d(): y has shape [1, 3, 3, 2] but [1, 2, 2, 2] was expected',
    );
  });
  test('a dOut of the wrong shape is named in the backward', async () => {
    const { device } = await testGpu();
    await expect(avgPool2dBackward(device, { dOut: await zeros([1, 2, 2, 1]), dInput: await zeros([1, 6, 6, 1]) }, options)).rejects.toThrow(
      'avgPool2d(): dOut has shape [1, 2, 2, 1] but [1, 3, 3, 1] was expected',
    );
  });
  test('a layer whose pool does not fit is named', () => {
    expect(() => sequential([averagePooling2d({ poolSize: 5, inputShape: [4, 4, 1] }), flatten(), dense({ units: 2, activation: 'softmax' })])).toThrow(
      "layer 0 (averagePooling2d): avgPool2d(): pool 5x5 is larger than the 4x4 input with 'valid' padding",
    );
  });
});
