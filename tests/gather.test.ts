// gather.wgsl against the float64 reference: a batch's rows and labels picked
// by index from a data set on the GPU, held as f32 or as bytes packed four to
// a word; exact, as a gathered batch must be the batch the CPU would have written.
import { describe, expect, test } from 'vitest';
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
  const labels = Float64Array.from({ length: c.rows }, () => Math.floor(random() * 10));
  // Row 0 among them: in the largest case its first 256 bytes are every byte value.
  const indices = Float64Array.from({ length: c.N }, (_, r) => (r === 0 ? 0 : Math.floor(random() * c.rows)));

  async function gathered(source: { x: Awaited<ReturnType<typeof upload>>; bytes: boolean }) {
    const { device } = await testGpu();
    const y = await zeros([c.N, c.R]);
    const yLabels = await zeros([c.N], 'y labels', 'u32');
    const dispatch = await gatherForward(device, {
      source: { ...source, labels: await uploadLabels([c.rows], labels) },
      indices: await uploadLabels([c.N], indices, 'indices'),
      y,
      yLabels,
    });
    const [gotY, gotLabels] = await run(dispatch, y, yLabels);
    return { gotY, gotLabels };
  }

  test('f32 rows', async () => {
    const x = randomArray(random, c.rows * c.R);
    const { gotY, gotLabels } = await gathered({ x: await upload([c.rows, c.R], x), bytes: false });
    const want = reference.gather(x, labels, indices, c.R);
    expectClose(`${name} f32 y`, gotY, want.y, exact);
    expect([...gotLabels]).toEqual([...want.yLabels]);
  });

  test('byte rows, each byte b the f32 the CPU makes of it (b / 255)', async () => {
    const bytes = Uint8Array.from({ length: c.rows * c.R }, () => Math.floor(random() * 256));
    if (c.R >= 256) for (let b = 0; b < 256; b++) bytes[b] = b;
    const words = reference.packBytes(bytes);
    const { gotY, gotLabels } = await gathered({ x: await uploadLabels([words.length], words, 'x bytes'), bytes: true });
    const want = reference.gather(reference.unpackBytes(words, bytes.length), labels, indices, c.R);
    expectClose(`${name} bytes y`, gotY, want.y, { atol: 1e-7, rtol: 0 });
    // Bit for bit what pixelValues gives: training on bytes matches training on their floats.
    expectClose(`${name} bytes y, as float32`, gotY, reference.gather(pixelValues(bytes), labels, indices, c.R).y, exact);
    expect([...gotLabels]).toEqual([...want.yLabels]);
  });
});

test('gather: shapes that do not fit are named', async () => {
  const { device } = await testGpu();
  const labels = await uploadLabels([6], [0, 1, 2, 0, 1, 2]);
  const y = await zeros([4, 3]);
  const yLabels = await zeros([4], 'y labels', 'u32');
  const indices = await uploadLabels([4], [0, 5, 1, 1], 'indices');
  await expect(gatherForward(device, { source: { x: await upload([5, 3], new Float64Array(15)), labels, bytes: false }, indices, y, yLabels })).rejects.toThrow(
    'gather(): x has shape [5, 3] but [6, 3] was expected',
  );
  // 6 rows of 3 bytes are 18 bytes: 5 words.
  await expect(gatherForward(device, { source: { x: await uploadLabels([4], [0, 0, 0, 0]), labels, bytes: true }, indices, y, yLabels })).rejects.toThrow(
    'gather(): x (bytes) has shape [4] but [5] was expected',
  );
  await expect(gatherForward(device, { source: { x: await upload([6, 3], new Float64Array(18)), labels, bytes: false }, indices: await uploadLabels([3], [0, 1, 2]), y, yLabels })).rejects.toThrow(
    'gather(): indices has shape [3] but [4] was expected',
  );
});
