// conv2d.wgsl against the float64 reference, forward and both gradients.
// Letters: x [N, H, W, C_in], kernel [KH, KW, C_in, C_out], y [N, OH, OW, C_out].
import { describe, expect, test } from 'vitest';
import { conv2dBackward, conv2dForward, conv2dShape } from '../src/engine/ops/conv2d';
import * as activations from '../src/reference/activation';
import * as biases from '../src/reference/bias';
import * as reference from '../src/reference/conv2d';
import { shaderConstant, useVariant } from '../src/engine/pipelines';
import source from '../src/shaders/conv2d.wgsl?raw';
import { splitBiasRow } from '../src/engine/buffers';
import {
  absolute,
  eachF16Variant,
  eachVariant,
  expectClose,
  expectCloseF16,
  F32,
  GRADCHECK,
  isF16,
  numericGradient,
  randomArray,
  run,
  seededRandom,
  testGpu,
  upload,
  uploadWithBias,
  zeros,
} from './helpers';

type Case = reference.Conv2dCase;

/**
 * Contraction steps per chunk of the staged variants: forward's chunks hold up
 * to CHUNK of a tap's C_in channels, backward_input's of its C_out, and
 * backward_weight's of a slice's output pixels (N*OH*OW, or the 267 to 290 of
 * a slice in the four cases long enough to slice).
 */
const CHUNK = shaderConstant({ file: 'conv2d.wgsl', source }, 'CHUNK');

const cases: Case[] = [
  // A 1x1 kernel on a single image.
  { N: 1, H: 5, W: 5, C_in: 1, KH: 1, KW: 1, C_out: 1, strides: [1, 1], padding: 'valid' },
  // The tutorial's two convolutions, on small batches.
  { N: 3, H: 28, W: 28, C_in: 1, KH: 3, KW: 3, C_out: 32, strides: [1, 1], padding: 'valid' },
  { N: 2, H: 13, W: 13, C_in: 32, KH: 3, KW: 3, C_out: 64, strides: [1, 1], padding: 'valid' },
  // Odd sizes with stride 2.
  { N: 2, H: 9, W: 11, C_in: 3, KH: 3, KW: 3, C_out: 5, strides: [2, 2], padding: 'same' },
  { N: 1, H: 10, W: 10, C_in: 4, KH: 3, KW: 3, C_out: 6, strides: [1, 1], padding: 'same' },
  // An even kernel pads more after than before; the strides differ.
  { N: 1, H: 7, W: 6, C_in: 2, KH: 4, KW: 2, C_out: 3, strides: [1, 2], padding: 'same' },
  // Strides larger than the kernel skip some input pixels, whose gradient is zero.
  { N: 2, H: 8, W: 9, C_in: 3, KH: 2, KW: 3, C_out: 17, strides: [3, 2], padding: 'valid' },
  // Enough rows of the weight gradient for several blocks, and a long contraction to slice.
  { N: 8, H: 20, W: 20, C_in: 3, KH: 5, KW: 5, C_out: 20, strides: [1, 1], padding: 'same' },
  // More output channels than one cell holds, not a multiple of 4 (rows read one float at a time).
  { N: 7, H: 9, W: 9, C_in: 5, KH: 3, KW: 3, C_out: 70, strides: [1, 1], padding: 'same' },
  // Channel counts that are multiples of 4 but not of a cell (16), with strides and padding,
  // read as vec4s; and a first layer's 9 rows of dW with a long contraction.
  { N: 3, H: 11, W: 10, C_in: 20, KH: 3, KW: 2, C_out: 12, strides: [2, 3], padding: 'same' },
  { N: 40, H: 12, W: 12, C_in: 1, KH: 3, KW: 3, C_out: 8, strides: [1, 1], padding: 'valid' },
  // The shuffled variants (channels in fours, on a device with subgroups): a batch of 1 whose
  // 35 pixels leave a remainder of every ROWS and of backward_weight's four steps; and strides
  // past the kernel, whose untouched input pixels take zeros four channels at a time.
  { N: 1, H: 5, W: 7, C_in: 8, KH: 3, KW: 3, C_out: 12, strides: [1, 1], padding: 'same' },
  { N: 3, H: 7, W: 9, C_in: 4, KH: 2, KW: 2, C_out: 8, strides: [3, 3], padding: 'valid' },
  // Both sides of the staged variants' chunk boundaries, C_in, C_out and N*OH*OW each one
  // short or one over a chunk (rows read one float at a time)...
  { N: 1, H: 3, W: 5, C_in: CHUNK - 1, KH: 1, KW: 1, C_out: CHUNK + 1, strides: [1, 1], padding: 'valid' },
  { N: 1, H: 1, W: CHUNK + 1, C_in: CHUNK + 1, KH: 1, KW: 1, C_out: CHUNK - 1, strides: [1, 1], padding: 'valid' },
  // ...a whole chunk of each, with strides and padding (read as vec4s)...
  { N: 1, H: 8, W: 8, C_in: CHUNK, KH: 3, KW: 3, C_out: CHUNK + 4, strides: [2, 2], padding: 'same' },
  // ...and one short and one over two chunks, C_out a multiple of 4 but not of a cell.
  { N: 3, H: 3, W: 13, C_in: 2 * CHUNK + 1, KH: 3, KW: 3, C_out: 2 * CHUNK - 4, strides: [1, 1], padding: 'valid' },
  { N: 1, H: 2, W: 2 * CHUNK - 1, C_in: 2 * CHUNK - 1, KH: 2, KW: 3, C_out: 2 * CHUNK + 1, strides: [2, 1], padding: 'same' },
];

/**
 * Every variant adds the same products in the same order (conv2d.wgsl), so the
 * autotuner's choice never changes a model's figures: the outputs of each
 * variant after the first must be the first's, bit for bit (kept in `firsts`).
 */
function expectSameBits(what: string, firsts: Float32Array[], outputs: (Float32Array | Uint32Array)[]) {
  if (firsts.length === 0) return void firsts.push(...outputs.map((o) => Float32Array.from(o)));
  outputs.forEach((output, i) => {
    const differ = output.findIndex((v, j) => !Object.is(v, firsts[i][j]));
    expect(differ, `${what}: output ${i} differs from the first variant's at ${differ}`).toBe(-1);
  });
}

function caseName(c: Case): string {
  return `N=${c.N} H=${c.H} W=${c.W} C_in=${c.C_in} C_out=${c.C_out} k=${c.KH}x${c.KW} strides=${c.strides.join('x')} ${c.padding}`;
}

// Each case also runs as a Conv2D layer does, with its bias and one of the activations in turn.
const ACTIVATIONS = ['relu', 'linear', 'sigmoid', 'tanh'] as const;

describe.each(cases.map((c, i) => [caseName(c), c, ACTIVATIONS[i % ACTIVATIONS.length]] as const))('conv2d %s', (name, c, activation) => {
  const options = { strides: c.strides, padding: c.padding };
  const xShape = [c.N, c.H, c.W, c.C_in];
  const wShape = [c.KH, c.KW, c.C_in, c.C_out];
  const yShape = reference.conv2dOutputShape(c);
  const [, OH, OW] = yShape;
  const random = seededRandom(c.N * 1e6 + c.H * 1e4 + c.C_in * 100 + c.C_out);
  const x = randomArray(random, xShape.reduce((a, b) => a * b));
  const w = randomArray(random, wShape.reduce((a, b) => a * b));
  const dOut = randomArray(random, yShape.reduce((a, b) => a * b));
  // Each kernel sums as many terms as its contraction is long: the float32 error grows with it.
  const tolerance = (terms: number) => ({ atol: F32.atol * Math.sqrt(terms), rtol: F32.rtol });

  test('output shape', () => {
    expect(conv2dShape(xShape, wShape, options)).toEqual(yShape);
  });

  test('forward', async () => {
    const { device } = await testGpu();
    const y = await zeros(yShape);
    const dispatch = await conv2dForward(device, { x: await upload(xShape, x), w: await upload(wShape, w), y }, options);
    const firsts: Float32Array[] = [];
    for await (const variant of eachVariant(dispatch, y)) {
      const [got] = await run(dispatch, y);
      expectClose(`conv2d forward ${name} ${variant}`, got, reference.conv2dForward(x, w, c), tolerance(c.KH * c.KW * c.C_in));
      expectSameBits(`conv2d forward ${name} ${variant}`, firsts, [got]);
    }
  });

  test('backward', async () => {
    const { device } = await testGpu();
    const dInput = await zeros(xShape);
    const dWeight = await zeros(wShape);
    const dispatches = await conv2dBackward(
      device,
      { x: await upload(xShape, x), w: await upload(wShape, w), dOut: await upload(yShape, dOut), dInput, dWeight },
      options,
    );
    const want = reference.conv2dBackward(x, w, dOut, c);
    const firsts: Float32Array[] = [];
    for await (const variant of eachVariant(dispatches, dInput, dWeight)) {
      const [gotInput, gotWeight] = await run(dispatches, dInput, dWeight);
      expectClose(`conv2d backward_input ${name} ${variant}`, gotInput, want.dInput, tolerance(c.KH * c.KW * c.C_out));
      expectClose(`conv2d backward_weight ${name} ${variant}`, gotWeight, want.dWeight, tolerance(c.N * OH * OW));
      expectSameBits(`conv2d backward ${name} ${variant}`, firsts, [gotInput, gotWeight]);
    }
  });

  test(`forward with a bias and ${activation}`, async () => {
    const { device } = await testGpu();
    const y = await zeros(yShape);
    const b = randomArray(random, c.C_out);
    const { w: tw, bias } = await uploadWithBias(wShape, w, b);
    const dispatch = await conv2dForward(device, { x: await upload(xShape, x), w: tw, bias, y }, options, activation);
    const u = biases.biasForward(reference.conv2dForward(x, w, c), b, c.N * OH * OW, c.C_out);
    for await (const variant of eachVariant(dispatch, y)) {
      const [got] = await run(dispatch, y);
      expectClose(`conv2d ${activation} forward ${name} ${variant}`, got, activation === 'linear' ? u : activations.activationForward(activation, u), tolerance(c.KH * c.KW * c.C_in));
    }
  });

  test('backward with dBias', async () => {
    const { device } = await testGpu();
    const size = wShape.reduce((a, b) => a * b);
    const grads = await zeros([size + c.C_out], 'dWeight and dBias');
    const { w: dWeight, bias: dBias } = splitBiasRow(grads, wShape);
    const dispatches = await conv2dBackward(device, { x: await upload(xShape, x), w: await upload(wShape, w), dOut: await upload(yShape, dOut), dWeight, dBias }, options);
    const tol = tolerance(c.N * OH * OW);
    for await (const variant of eachVariant(dispatches, grads)) {
      const [got] = await run(dispatches, grads);
      expectClose(`conv2d backward_weight ${name} ${variant}`, got.subarray(0, size), reference.conv2dBackward(x, w, dOut, c).dWeight, tol);
      expectClose(`conv2d dBias ${name} ${variant}`, got.subarray(size), biases.biasBackward(dOut, c.N * OH * OW, c.C_out), tol);
    }
  });

  // Finite differences cost two forwards per input and weight: only on the small cases.
  const forwardCost = c.N * OH * OW * c.KH * c.KW * c.C_in * c.C_out;
  if ((x.length + w.length) * forwardCost > 3e7) return;
  test('reference backward matches central differences', () => {
    const want = reference.conv2dBackward(x, w, dOut, c);
    expectClose('d/dx', want.dInput, numericGradient((v) => reference.conv2dForward(v, w, c), x, dOut), GRADCHECK);
    expectClose('d/dw', want.dWeight, numericGradient((v) => reference.conv2dForward(x, v, c), w, dOut), GRADCHECK);
  });
});

// Mixed precision: every f16 variant (offered where the device has shader-f16:
// lavapipe has it, SwiftShader in Chromium has not) of a Conv2D layer's three
// products, with its bias and activation and the bias gradient, against the
// float64 reference within the bound f16's precision gives (expectCloseF16):
// the tutorial's two layers, strides with padding, a contraction long enough
// to slice, both sides of the staged variants' chunks (C_out a multiple of
// 4 and not, read as vec4s and as floats), and channels in fours with a
// remainder of pixels for the shuffled variants.
const mixedCases: Case[] = [
  { N: 3, H: 28, W: 28, C_in: 1, KH: 3, KW: 3, C_out: 32, strides: [1, 1], padding: 'valid' },
  { N: 2, H: 13, W: 13, C_in: 32, KH: 3, KW: 3, C_out: 64, strides: [1, 1], padding: 'valid' },
  { N: 2, H: 9, W: 11, C_in: 3, KH: 3, KW: 3, C_out: 5, strides: [2, 2], padding: 'same' },
  { N: 8, H: 20, W: 20, C_in: 3, KH: 5, KW: 5, C_out: 20, strides: [1, 1], padding: 'same' },
  { N: 1, H: 1, W: CHUNK + 1, C_in: CHUNK + 1, KH: 1, KW: 1, C_out: CHUNK - 1, strides: [1, 1], padding: 'valid' },
  { N: 1, H: 8, W: 8, C_in: CHUNK, KH: 3, KW: 3, C_out: CHUNK + 4, strides: [2, 2], padding: 'same' },
  { N: 1, H: 5, W: 7, C_in: 8, KH: 3, KW: 3, C_out: 12, strides: [1, 1], padding: 'same' },
];

describe.each(mixedCases.map((c) => [caseName(c), c] as const))('conv2d in mixed precision %s', (name, c) => {
  const options = { strides: c.strides, padding: c.padding, precision: 'mixed' } as const;
  const xShape = [c.N, c.H, c.W, c.C_in];
  const wShape = [c.KH, c.KW, c.C_in, c.C_out];
  const yShape = reference.conv2dOutputShape(c);
  const pixels = yShape[0] * yShape[1] * yShape[2];
  const random = seededRandom(c.N * 1e6 + c.H * 1e4 + c.C_in * 100 + c.C_out + 1);
  const x = randomArray(random, xShape.reduce((a, b) => a * b));
  const w = randomArray(random, wShape.reduce((a, b) => a * b));
  const b = randomArray(random, c.C_out);
  const dOut = randomArray(random, yShape.reduce((a, b) => a * b));

  test('forward with a bias and tanh', async () => {
    const { device } = await testGpu();
    const y = await zeros(yShape);
    const { w: tw, bias } = await uploadWithBias(wShape, w, b);
    const dispatch = await conv2dForward(device, { x: await upload(xShape, x), w: tw, bias, y }, options, 'tanh');
    const want = activations.activationForward('tanh', biases.biasForward(reference.conv2dForward(x, w, c), b, pixels, c.C_out));
    const magnitudes = reference.conv2dForward(absolute(x), absolute(w), c);
    for await (const variant of eachF16Variant(dispatch, y)) {
      const [got] = await run(dispatch, y);
      expectCloseF16(`conv2d forward ${name} ${variant}`, got, want, { magnitudes, terms: c.KH * c.KW * c.C_in });
    }
  });

  test('backward: dWeight, dBias and dInput', async () => {
    const { device } = await testGpu();
    const size = wShape.reduce((a, b) => a * b);
    const grads = await zeros([size + c.C_out], 'dWeight and dBias');
    const { w: dWeight, bias: dBias } = splitBiasRow(grads, wShape);
    const dInput = await zeros(xShape, 'dInput');
    const dispatches = await conv2dBackward(device, { x: await upload(xShape, x), w: await upload(wShape, w), dOut: await upload(yShape, dOut), dInput, dWeight, dBias }, options);
    const want = reference.conv2dBackward(x, w, dOut, c);
    const magnitudes = reference.conv2dBackward(absolute(x), absolute(w), absolute(dOut), c);
    for await (const variant of eachF16Variant(dispatches, grads, dInput)) {
      const [gotGrads, gotInput] = await run(dispatches, grads, dInput);
      expectCloseF16(`conv2d backward_weight ${name} ${variant}`, gotGrads.subarray(0, size), want.dWeight, { magnitudes: magnitudes.dWeight, terms: pixels });
      expectCloseF16(`conv2d dBias ${name} ${variant}`, gotGrads.subarray(size), biases.biasBackward(dOut, pixels, c.C_out), {
        magnitudes: biases.biasBackward(absolute(dOut), pixels, c.C_out),
        terms: pixels,
      });
      expectCloseF16(`conv2d backward_input ${name} ${variant}`, gotInput, want.dInput, { magnitudes: magnitudes.dInput, terms: c.KH * c.KW * c.C_out });
    }
  });
});

describe('conv2d variants', () => {
  test('the direct kernel first (4 rows, then 1, 2, 8), then the staged ones, which set STAGED, then floats where vec4s can be read, then quads, then by place where the device has subgroups', async () => {
    const { device } = await testGpu();
    // 2 input channels are not in fours: forward by place, which reads x a float at a time, stands for the shuffled variants.
    // The last again with 8 lanes loading the shared rows where every subgroup has 8.
    const eight = (device.adapterInfo?.subgroupMinSize ?? 0) >= 8 ? ['rows=4 shuffled lanes=8 by place'] : [];
    const byPlace = device.features.has('subgroups') ? ['rows=8 shuffled by place', 'rows=4 shuffled by place', ...eight] : [];
    const dispatch = await conv2dForward(device, { x: await zeros([1, 5, 5, 2]), w: await zeros([3, 3, 2, 4]), y: await zeros([1, 3, 3, 4]) });
    expect(dispatch.tunable?.variants).toEqual(['rows=4', 'rows=1', 'rows=2', 'rows=8', 'rows=1 staged', 'rows=4 staged', 'rows=1 scalar', 'rows=4 quads', ...byPlace]);
    expect(dispatch.constants).toMatchObject({ STAGED: 0, VECTORIZED: 1 });
    await useVariant(dispatch, 'rows=4 staged');
    expect(dispatch.constants).toMatchObject({ STAGED: 1, VECTORIZED: 1 });
    await useVariant(dispatch, 'rows=1 scalar');
    expect(dispatch.constants).toMatchObject({ STAGED: 0, VECTORIZED: 0 });
    // 5 output channels are not read as vec4s: no scalar variant to offer.
    const odd = await conv2dForward(device, { x: await zeros([1, 5, 5, 2]), w: await zeros([3, 3, 2, 5]), y: await zeros([1, 3, 3, 5]) });
    expect(odd.tunable?.variants).toEqual(['rows=4', 'rows=1', 'rows=2', 'rows=8', 'rows=1 staged', 'rows=4 staged', 'rows=4 quads', ...byPlace]);
  });


  test('backward_input by place where the device has subgroups: a workgroup layer a place, as few lanes as hold the batch in fours', async () => {
    const { device } = await testGpu();
    const [x, w, dOut] = [[10, 13, 13, 8], [3, 3, 8, 12], [10, 11, 11, 12]];
    const dispatches = await conv2dBackward(device, { x: await zeros(x), w: await zeros(w), dOut: await zeros(dOut), dWeight: await zeros(w), dInput: await zeros(x) });
    const input = dispatches.find((d) => d.tunable?.variants.includes('rows=2 shuffled'))!;
    if (!device.features.has('subgroups')) return void expect(input).toBeUndefined();
    const eight = (device.adapterInfo?.subgroupMinSize ?? 0) >= 8 ? ['rows=4 shuffled lanes=8 by place'] : [];
    expect(input.tunable?.variants.slice(input.tunable.variants.indexOf('rows=2 shuffled'))).toEqual(['rows=2 shuffled', 'rows=4 shuffled', 'rows=4 shuffled by place', ...eight]);
    await useVariant(input, eight[0] ?? 'rows=4 shuffled by place');
    // 10 images in fours: 3 invocations, in a workgroup of 8; one layer for each of the 13 x 13 places.
    expect([input.kernel.name, input.constants.WORKGROUP_SIZE, input.workgroups]).toEqual(['conv2dSubgroups.wgsl:backward_input_by_place', 8, [1, 1, 169]]);
  });
  test('in mixed precision, an f16 twin of each, before them, where the device has shader-f16 (none in float32, none without it)', async () => {
    const { device } = await testGpu();
    const t = { x: await zeros([1, 5, 5, 2]), w: await zeros([3, 3, 2, 4]), dOut: await zeros([1, 3, 3, 4]) };
    const variants = async (precision: 'float32' | 'mixed') => {
      const dispatches = [
        await conv2dForward(device, { ...t, y: await zeros([1, 3, 3, 4]) }, { precision }),
        ...(await conv2dBackward(device, { ...t, dWeight: await zeros([3, 3, 2, 4]), dInput: await zeros([1, 5, 5, 2]) }, { precision })),
      ];
      return dispatches.flatMap((d) => (d.tunable ? [d.tunable.variants] : []));
    };
    const float32 = await variants('float32');
    expect(float32.flat().filter(isF16)).toEqual([]);
    // In Chromium, SwiftShader has no shader-f16: mixed precision offers what float32 does.
    const f16 = device.features.has('shader-f16');
    expect(await variants('mixed')).toEqual(float32.map((names) => (f16 ? [...names.map((name) => `${name} f16`), ...names] : names)));
    const dispatch = await conv2dForward(device, { ...t, y: await zeros([1, 3, 3, 4]) }, { precision: 'mixed' });
    expect(dispatch.variant).toBe(f16 ? 'rows=4 f16' : 'rows=4');
  });
});

describe('conv2d options', () => {
  test('output shapes follow Keras', () => {
    expect(conv2dShape([128, 28, 28, 1], [3, 3, 1, 32])).toEqual([128, 26, 26, 32]);
    expect(conv2dShape([128, 13, 13, 32], [3, 3, 32, 64], { strides: [1, 1], padding: 'valid' })).toEqual([128, 11, 11, 64]);
    expect(conv2dShape([1, 9, 11, 3], [3, 3, 3, 5], { strides: [2, 2], padding: 'same' })).toEqual([1, 5, 6, 5]);
    expect(conv2dShape([1, 10, 10, 1], [3, 3, 1, 1], { strides: [3, 3] })).toEqual([1, 3, 3, 1]);
    // With 'same' padding a kernel may be larger than the image.
    expect(conv2dShape([1, 3, 3, 1], [5, 5, 1, 1], { padding: 'same' })).toEqual([1, 3, 3, 1]);
  });

  test('without dInput only dWeight is computed (a first layer)', async () => {
    const { device } = await testGpu();
    const c: Case = { N: 2, H: 6, W: 5, C_in: 1, KH: 3, KW: 3, C_out: 4, strides: [1, 1], padding: 'valid' };
    const random = seededRandom(7);
    const x = randomArray(random, 2 * 6 * 5);
    const w = randomArray(random, 3 * 3 * 4);
    const dOut = randomArray(random, 2 * 4 * 3 * 4);
    const dWeight = await zeros([3, 3, 1, 4]);
    const dispatches = await conv2dBackward(device, {
      x: await upload([2, 6, 5, 1], x),
      w: await upload([3, 3, 1, 4], w),
      dOut: await upload([2, 4, 3, 4], dOut),
      dWeight,
    });
    expect(dispatches.map((d) => d.kernel.name).filter((name) => name.includes('backward_input'))).toEqual([]);
    const [got] = await run(dispatches, dWeight);
    expectClose('conv2d backward_weight without dInput', got, reference.conv2dBackward(x, w, dOut, c).dWeight, F32);
  });
});

describe('conv2d errors', () => {
  test('a channel mismatch names both counts', async () => {
    const { device } = await testGpu();
    await expect(conv2dForward(device, { x: await zeros([1, 5, 5, 3]), w: await zeros([3, 3, 1, 4]), y: await zeros([1, 3, 3, 4]) })).rejects.toThrow(
      'conv2d(): input has 3 channels but the kernel expects 1',
    );
  });
  test("a kernel larger than the input with 'valid' padding", async () => {
    const { device } = await testGpu();
    await expect(conv2dForward(device, { x: await zeros([1, 3, 3, 1]), w: await zeros([5, 5, 1, 1]), y: await zeros([1, 1, 1, 1]) })).rejects.toThrow(
      "conv2d(): the 5x5 kernel does not fit in the 3x3 input with 'valid' padding",
    );
  });
  test('a wrong output shape is named', async () => {
    const { device } = await testGpu();
    await expect(conv2dForward(device, { x: await zeros([1, 5, 5, 1]), w: await zeros([3, 3, 1, 2]), y: await zeros([1, 5, 5, 2]) })).rejects.toThrow(
      'conv2d(): y has shape [1, 5, 5, 2] but [1, 3, 3, 2] was expected',
    );
  });
  test('a wrong gradient shape is named', async () => {
    const { device } = await testGpu();
    const t = { x: await zeros([1, 5, 5, 1]), w: await zeros([3, 3, 1, 2]), dOut: await zeros([1, 3, 3, 2]) };
    await expect(conv2dBackward(device, { ...t, dWeight: await zeros([3, 3, 2, 1]) })).rejects.toThrow(
      'conv2d(): dWeight has shape [3, 3, 2, 1] but [3, 3, 1, 2] was expected',
    );
  });
  test('a non-positive stride', async () => {
    const { device } = await testGpu();
    const t = { x: await zeros([1, 5, 5, 1]), w: await zeros([3, 3, 1, 2]), y: await zeros([1, 3, 3, 2]) };
    await expect(conv2dForward(device, t, { strides: [0, 1] })).rejects.toThrow('conv2d(): strides must be two positive integers, got [0, 1]');
    expect(() => conv2dShape([1, 5, 5, 1], [3, 3, 1, 2], { strides: [1, -2] })).toThrow('conv2d(): strides must be two positive integers, got [1, -2]');
  });
  test('an input that is not an NHWC image', () => {
    expect(() => conv2dShape([5, 5, 1], [3, 3, 1, 2])).toThrow('conv2d(): input must be [N, H, W, C_in] but has shape [5, 5, 1]');
  });
  test('an empty kernel', () => {
    expect(() => conv2dShape([1, 5, 5, 1], [0, 3, 1, 2])).toThrow('conv2d(): sizes must be positive integers, got input [1, 5, 5, 1] and kernel [0, 3, 1, 2]');
  });
});
