// gather.wgsl against the float64 reference: a batch's rows picked by index
// from a column of a data set on the GPU, held as f32 or u32 words or as bytes
// packed four to a word; exact, as a gathered batch must be the batch the CPU
// would have written.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../src/engine/buffers';
import { pixelValues } from '../src/engine/data';
import { gatherForward } from '../src/engine/ops/gather';
import * as reference from '../src/reference/gather';
import { expectClose, randomArray, run, seededRandom, testGpu, upload, uploadLabels, zeros } from './helpers';

interface Case {
  /** Rows in the data set, values a row, rows gathered. */
  rows: number;
  R: number;
  N: number;
}

const cases: Case[] = [
  // Batch 1 from a data set of one value.
  { rows: 1, R: 1, N: 1 },
  // Rows of 7 bytes start inside a word; 91 bytes leave a word three quarters padded.
  { rows: 13, R: 7, N: 5 },
  // Rows of 63, 64 and 65 values around the workgroup size (64), which strides along a row.
  { rows: 10, R: 63, N: 3 },
  { rows: 10, R: 64, N: 3 },
  { rows: 10, R: 65, N: 3 },
  // Rows of one word, picked more than once.
  { rows: 6, R: 4, N: 9 },
  // MNIST's rows, a batch of the tutorial's size.
  { rows: 300, R: 784, N: 128 },
];

const exact = { atol: 0, rtol: 0 };

describe.each(cases.map((c) => [`rows=${c.rows} R=${c.R} N=${c.N}`, c] as const))('gather %s', (name, c) => {
  const random = seededRandom(c.rows * 1000 + c.R * 10 + c.N);
  // Row 0 among them: in the largest case its first 256 bytes are every byte value.
  const indices = Float64Array.from({ length: c.N }, (_, r) => (r === 0 ? 0 : Math.floor(random() * c.rows)));

  async function gathered(data: Tensor, bytes: boolean, y: Tensor) {
    const { device } = await testGpu();
    const dispatch = await gatherForward(device, { source: { data, rows: c.rows, bytes }, indices: await uploadLabels([c.N], indices, 'indices'), y });
    return (await run(dispatch, y))[0];
  }

  test('f32 rows', async () => {
    const x = randomArray(random, c.rows * c.R);
    const got = await gathered(await upload([c.rows, c.R], x), false, await zeros([c.N, c.R]));
    expectClose(`${name} f32 y`, got, reference.gather(x, indices, c.R), exact);
  });

  test('u32 rows (labels when R is 1), bit for bit', async () => {
    const x = Uint32Array.from({ length: c.rows * c.R }, () => Math.floor(random() * 2 ** 32));
    const got = await gathered(await uploadLabels([c.rows, c.R], x), false, await zeros([c.N, c.R], 'y', 'u32'));
    expect([...got]).toEqual([...reference.gather(x, indices, c.R)]);
  });

  test('byte rows, each byte b the f32 the CPU makes of it (b / 255)', async () => {
    const bytes = Uint8Array.from({ length: c.rows * c.R }, () => Math.floor(random() * 256));
    if (c.R >= 256) for (let b = 0; b < 256; b++) bytes[b] = b;
    const words = reference.packBytes(bytes);
    const got = await gathered(await uploadLabels([words.length], words, 'x bytes'), true, await zeros([c.N, c.R]));
    expectClose(`${name} bytes y`, got, reference.gather(reference.unpackBytes(words, bytes.length), indices, c.R), { atol: 1e-7, rtol: 0 });
    // Bit for bit what pixelValues gives: training on bytes matches training on their floats.
    expectClose(`${name} bytes y, as float32`, got, reference.gather(pixelValues(bytes), indices, c.R), exact);
  });
});

test('gather: shapes that do not fit are named', async () => {
  const { device } = await testGpu();
  const y = await zeros([4, 3]);
  const indices = await uploadLabels([4], [0, 5, 1, 1], 'indices');
  await expect(gatherForward(device, { source: { data: await upload([5, 3], new Float64Array(15)), rows: 6, bytes: false }, indices, y })).rejects.toThrow(
    'gather(): x has shape [5, 3] but [6, 3] was expected',
  );
  await expect(gatherForward(device, { source: { data: await uploadLabels([6, 3], new Float64Array(18)), rows: 6, bytes: false }, indices, y })).rejects.toThrow(
    'gather(): x must be f32 but is u32',
  );
  // 6 rows of 3 bytes are 18 bytes: 5 words.
  await expect(gatherForward(device, { source: { data: await uploadLabels([4], [0, 0, 0, 0]), rows: 6, bytes: true }, indices, y })).rejects.toThrow(
    'gather(): x (bytes) has shape [4] but [5] was expected',
  );
  await expect(gatherForward(device, { source: { data: await upload([6, 3], new Float64Array(18)), rows: 6, bytes: false }, indices: await uploadLabels([3], [0, 1, 2]), y })).rejects.toThrow(
    'gather(): indices has shape [3] but [4] was expected',
  );
});
