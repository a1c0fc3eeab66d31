// bias.wgsl against the float64 reference: the broadcast add and the bias
// gradient, up to the largest activation of our models.
import { describe, expect, test } from 'vitest';
import { biasBackward, biasForward } from '../src/engine/ops/bias';
import { sizeOf } from '../src/engine/buffers';
import * as reference from '../src/reference/bias';
import { expectClose, F32, GRADCHECK, numericGradient, randomArray, run, seededRandom, testGpu, upload, zeros } from './helpers';

// Dense outputs [N, C] and NHWC images [N, H, W, C]; channels that are not a
// multiple of the 16 lanes, rows just above the 1024 where backward starts to
// split them in chunks, and a conv activation of 512x26x26x32 (11M values, a 2D
// grid of workgroups).
const shapes: number[][] = [
  [1, 1],
  [7, 10],
  [128, 128],
  [1025, 3],
  [1, 5, 5, 7],
  [3, 13, 13, 17],
  [64, 26, 26, 32],
  [512, 26, 26, 32],
];

describe.each(shapes)('bias shape %j', (...shape) => {
  const channels = shape[shape.length - 1];
  const rows = sizeOf(shape) / channels;
  const name = `bias shape [${shape.join(', ')}]`;
  const random = seededRandom(rows * 100 + channels);
  const x = randomArray(random, rows * channels);
  const bias = randomArray(random, channels);
  const dOut = randomArray(random, rows * channels);

  test('forward', async () => {
    const { device } = await testGpu();
    const y = await zeros(shape);
    const [got] = await run(await biasForward(device, { x: await upload(shape, x), bias: await upload([channels], bias), y }), y);
    expectClose(`${name} forward`, got, reference.biasForward(x, bias, rows, channels), F32);
  });

  test('backward', async () => {
    const { device } = await testGpu();
    const dBias = await zeros([channels]);
    const [got] = await run(await biasBackward(device, { dOut: await upload(shape, dOut), dBias }), dBias);
    // Short running sums and trees: the error grows about with the log of the
    // number of rows. At 346,112 rows (sums up to ±617) it is 1.5e-4, where one
    // float32 running sum per channel errs by 5e-3; no rtol, which would let that pass.
    const tol = { atol: F32.atol * Math.max(1, Math.log2(rows)), rtol: 0 };
    expectClose(`${name} backward`, got, reference.biasBackward(dOut, rows, channels), tol);
  });

  // Finite differences cost one forward per input: only on the small shapes.
  if (rows * channels > 2000) return;
  test('reference backward matches central differences', () => {
    const want = reference.biasBackward(dOut, rows, channels);
    expectClose('d/dbias', want, numericGradient((v) => reference.biasForward(x, v, rows, channels), bias, dOut), GRADCHECK);
    // dInput is dOut itself, which is why there is no kernel for it.
    expectClose('d/dx', dOut, numericGradient((v) => reference.biasForward(v, bias, rows, channels), x, dOut), GRADCHECK);
  });
});

describe('bias errors', () => {
  test('a bias that does not match the last dimension is named', async () => {
    const { device } = await testGpu();
    await expect(biasForward(device, { x: await zeros([2, 3, 3, 4]), bias: await zeros([3]), y: await zeros([2, 3, 3, 4]) })).rejects.toThrow(
      'bias(): x has 4 channels (last dimension of [2, 3, 3, 4]) but bias has 3',
    );
  });
  test('a wrong output shape is named', async () => {
    const { device } = await testGpu();
    await expect(biasForward(device, { x: await zeros([2, 4]), bias: await zeros([4]), y: await zeros([4, 2]) })).rejects.toThrow(
      'bias(): y has shape [4, 2] but x has [2, 4]',
    );
  });
  test('a bias that is not a vector is named', async () => {
    const { device } = await testGpu();
    await expect(biasBackward(device, { dOut: await zeros([2, 4]), dBias: await zeros([1, 4]) })).rejects.toThrow(
      'bias(): dBias must be a vector but has shape [1, 4]',
    );
  });
  test('a u32 tensor is refused', async () => {
    const { device } = await testGpu();
    await expect(biasBackward(device, { dOut: await zeros([2, 4], 'dOut', 'u32'), dBias: await zeros([4]) })).rejects.toThrow(
      'bias(): dOut must be f32 but is u32',
    );
  });
});
