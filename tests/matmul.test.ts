// matmul.wgsl against the float64 reference, forward and both gradients.
import { describe, expect, test } from 'vitest';
import { matmulBackward, matmulForward } from '../src/engine/ops/matmul';
import { useVariant } from '../src/engine/pipelines';
import type { Activation } from '../src/engine/ops/activation';
import * as activations from '../src/reference/activation';
import * as biases from '../src/reference/bias';
import * as reference from '../src/reference/matmul';
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

// Each of the three products takes its own two of M, K and N as C's rows and
// columns and the third as its contraction (forward: M x N over K;
// backward_input: M x K over N; backward_weight: K x N over M). The shapes put
// those on both sides of the tiled variants' 32 and 64 (rows and columns) and
// TILE_K = 16 (contraction), and N both a multiple of 4 (vec4 loads) and not.
const shapes: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [16, 16, 16],
  [33, 17, 65],
  [65, 7, 31],
  [32, 100, 130],
  [64, 33, 64],
  [1, 63, 132],
  [128, 1600, 128],
  [128, 128, 10],
];

describe.each(shapes)('matmul M=%i K=%i N=%i', (M, K, N) => {
  const random = seededRandom(M * 1000 + K * 10 + N);
  const x = randomArray(random, M * K);
  const w = randomArray(random, K * N);
  const dOut = randomArray(random, M * N);
  // Products sum K terms: the float32 error grows with K.
  const tol = { atol: F32.atol * Math.sqrt(K), rtol: F32.rtol };

  test('forward', async () => {
    const { device } = await testGpu();
    const y = await zeros([M, N]);
    const dispatch = await matmulForward(device, { x: await upload([M, K], x), w: await upload([K, N], w), y });
    for await (const variant of eachVariant(dispatch, y)) {
      const [got] = await run(dispatch, y);
      expectClose(`matmul forward M=${M} K=${K} N=${N} ${variant}`, got, reference.matmulForward(x, w, { M, K, N }), tol);
    }
  });

  test('backward', async () => {
    const { device } = await testGpu();
    const dInput = await zeros([M, K]);
    const dWeight = await zeros([K, N]);
    const dispatches = await matmulBackward(device, {
      x: await upload([M, K], x),
      w: await upload([K, N], w),
      dOut: await upload([M, N], dOut),
      dInput,
      dWeight,
    });
    const want = reference.matmulBackward(x, w, dOut, { M, K, N });
    for await (const variant of eachVariant(dispatches, dInput, dWeight)) {
      const [gotInput, gotWeight] = await run(dispatches, dInput, dWeight);
      expectClose(`matmul backward_input M=${M} K=${K} N=${N} ${variant}`, gotInput, want.dInput, { atol: F32.atol * Math.sqrt(N), rtol: F32.rtol });
      expectClose(`matmul backward_weight M=${M} K=${K} N=${N} ${variant}`, gotWeight, want.dWeight, { atol: F32.atol * Math.sqrt(M), rtol: F32.rtol });
    }
  });

  // With the gradient of the ReLU that wrote x (backward_input_relu): x's signs mask dX as relu_backward would.
  test('backward through the ReLU before it', async () => {
    const { device } = await testGpu();
    const dInput = await upload([M, K], new Float64Array(M * K).fill(NaN), 'dInput');
    const [dx] = (await matmulBackward(device, { x: await upload([M, K], x), w: await upload([K, N], w), dOut: await upload([M, N], dOut), dInput, dWeight: await zeros([K, N]), reluOf: await upload([M, K], x) })).slice(1);
    expect(dx.kernel.name).toBe('matmul.wgsl:backward_input_relu');
    const want = activations.activationBackward('relu', x, reference.matmulBackward(x, w, dOut, { M, K, N }).dInput);
    for await (const variant of eachVariant(dx, dInput)) {
      const [got] = await run(dx, dInput);
      expectClose(`matmul backward_input_relu M=${M} K=${K} N=${N} ${variant}`, got, want, { atol: F32.atol * Math.sqrt(N), rtol: F32.rtol });
    }
  });

  // Finite differences cost one forward per input: only on the small shapes.
  if (M * K * N > 20000) return;
  test('reference backward matches central differences', () => {
    const want = reference.matmulBackward(x, w, dOut, { M, K, N });
    expectClose('d/dx', want.dInput, numericGradient((v) => reference.matmulForward(v, w, { M, K, N }), x, dOut), GRADCHECK);
    expectClose('d/dw', want.dWeight, numericGradient((v) => reference.matmulForward(x, v, { M, K, N }), w, dOut), GRADCHECK);
  });
});

// A Dense layer in one dispatch: the bias (after the kernel in its buffer) and
// the activation in forward's epilogue, the bias gradient as one more row of dW
// (K + 1 rows: 32 and 33, 64 and 65 put it on both sides of a tile's edge).
describe.each([
  [1, 1, 1],
  [33, 17, 65],
  [20, 31, 36],
  [65, 32, 33],
  [9, 63, 64],
  [3, 64, 7],
  [128, 784, 128],
])('matmul with a bias M=%i K=%i N=%i', (M, K, N) => {
  const random = seededRandom(M + K + N);
  const x = randomArray(random, M * K);
  const w = randomArray(random, K * N);
  const b = randomArray(random, N);
  const dOut = randomArray(random, M * N);
  const tol = { atol: F32.atol * Math.sqrt(K), rtol: F32.rtol };

  test.each(['linear', 'relu', 'sigmoid', 'tanh'] as const)('forward, %s', async (activation) => {
    const { device } = await testGpu();
    const y = await zeros([M, N]);
    const { w: tw, bias } = await uploadWithBias([K, N], w, b);
    const dispatch = await matmulForward(device, { x: await upload([M, K], x), w: tw, bias, y }, activation);
    const u = biases.biasForward(reference.matmulForward(x, w, { M, K, N }), b, M, N);
    for await (const variant of eachVariant(dispatch, y)) {
      const [got] = await run(dispatch, y);
      expectClose(`matmul ${activation} forward M=${M} K=${K} N=${N} ${variant}`, got, activation === 'linear' ? u : activations.activationForward(activation as Activation, u), tol);
    }
  });

  test('backward: dWeight and dBias', async () => {
    const { device } = await testGpu();
    const grads = await zeros([K * N + N], 'dWeight and dBias');
    const { w: dWeight, bias: dBias } = splitBiasRow(grads, [K, N]);
    const dispatches = await matmulBackward(device, { x: await upload([M, K], x), w: await upload([K, N], w), dOut: await upload([M, N], dOut), dWeight, dBias });
    const tolM = { atol: F32.atol * Math.sqrt(M), rtol: F32.rtol };
    for await (const variant of eachVariant(dispatches, grads)) {
      const [got] = await run(dispatches, grads);
      expectClose(`matmul backward_weight M=${M} K=${K} N=${N} ${variant}`, got.subarray(0, K * N), reference.matmulBackward(x, w, dOut, { M, K, N }).dWeight, tolM);
      expectClose(`matmul dBias M=${M} N=${N} ${variant}`, got.subarray(K * N), biases.biasBackward(dOut, M, N), tolM);
    }
  });
});

// Mixed precision: every f16 variant (offered where the device has shader-f16:
// lavapipe has it, SwiftShader in Chromium has not) of a Dense layer's three
// products, with its bias, activation and ReLU mask, against the float64
// reference within the bound f16's precision gives (expectCloseF16). Shapes on
// both sides of the tiles' 32 and 64 and of TILE_K, N a multiple of 4 and
// not, and the CNN's dense layer (K = 1600).
describe.each([
  [1, 1, 1],
  [7, 13, 5],
  [33, 17, 65],
  [65, 32, 36],
  [128, 1600, 128],
])('matmul in mixed precision M=%i K=%i N=%i', (M, K, N) => {
  const random = seededRandom(M * 7 + K * 3 + N);
  const x = randomArray(random, M * K);
  const w = randomArray(random, K * N);
  const b = randomArray(random, N);
  const dOut = randomArray(random, M * N);
  const dims = { M, K, N };
  const mixed = { precision: 'mixed' } as const;

  test('forward with a bias and relu', async () => {
    const { device } = await testGpu();
    const y = await zeros([M, N]);
    const { w: tw, bias } = await uploadWithBias([K, N], w, b);
    const dispatch = await matmulForward(device, { x: await upload([M, K], x), w: tw, bias, y }, 'relu', mixed);
    const want = activations.activationForward('relu', biases.biasForward(reference.matmulForward(x, w, dims), b, M, N));
    const magnitudes = reference.matmulForward(absolute(x), absolute(w), dims);
    for await (const variant of eachF16Variant(dispatch, y)) {
      const [got] = await run(dispatch, y);
      expectCloseF16(`matmul forward M=${M} K=${K} N=${N} ${variant}`, got, want, { magnitudes, terms: K });
    }
  });

  test('backward: dWeight and dBias, and dInput through the ReLU before it', async () => {
    const { device } = await testGpu();
    const grads = await zeros([K * N + N], 'dWeight and dBias');
    const { w: dWeight, bias: dBias } = splitBiasRow(grads, [K, N]);
    const dInput = await zeros([M, K], 'dInput');
    const tx = await upload([M, K], x);
    const dispatches = await matmulBackward(device, { x: tx, w: await upload([K, N], w), dOut: await upload([M, N], dOut), dInput, dWeight, dBias, reluOf: tx }, mixed);
    const want = reference.matmulBackward(x, w, dOut, dims);
    const magnitudes = reference.matmulBackward(absolute(x), absolute(w), absolute(dOut), dims);
    for await (const variant of eachF16Variant(dispatches, grads, dInput)) {
      const [gotGrads, gotInput] = await run(dispatches, grads, dInput);
      const name = `M=${M} K=${K} N=${N} ${variant}`;
      expectCloseF16(`matmul backward_weight ${name}`, gotGrads.subarray(0, K * N), want.dWeight, { magnitudes: magnitudes.dWeight, terms: M });
      expectCloseF16(`matmul dBias ${name}`, gotGrads.subarray(K * N), biases.biasBackward(dOut, M, N), { magnitudes: biases.biasBackward(absolute(dOut), M, N), terms: M });
      expectCloseF16(`matmul backward_input_relu ${name}`, gotInput, activations.activationBackward('relu', x, want.dInput), { magnitudes: magnitudes.dInput, terms: N });
    }
  });
});

describe('matmul variants in mixed precision', () => {
  test('an f16 twin of each variant, before them, only in mixed precision and only where the device has shader-f16', async () => {
    const { device } = await testGpu();
    const [M, K, N] = [3, 5, 8];
    const x = await zeros([M, K]);
    const w = await zeros([K, N]);
    const dOut = await zeros([M, N]);
    const variants = async (precision: 'float32' | 'mixed') => {
      const dispatches = [await matmulForward(device, { x, w, y: await zeros([M, N]) }, 'linear', { precision }), ...(await matmulBackward(device, { x, w, dOut, dWeight: await zeros([K, N]), dInput: await zeros([M, K]) }, { precision }))];
      return dispatches.map((d) => d.tunable!.variants);
    };
    const float32 = await variants('float32');
    expect(float32.flat().filter(isF16)).toEqual([]);
    // In Chromium, SwiftShader has no shader-f16: mixed precision offers what float32 does.
    const f16 = device.features.has('shader-f16');
    expect(await variants('mixed')).toEqual(float32.map((names) => (f16 ? [...names.map((name) => `${name} f16`), ...names] : names)));
  });

  test("the default in mixed precision multiplies in f16: its products differ from the f32 variant's", async () => {
    const { device } = await testGpu();
    const [M, K, N] = [16, 64, 16];
    const random = seededRandom(11);
    const y = await zeros([M, N]);
    const dispatch = await matmulForward(device, { x: await upload([M, K], randomArray(random, M * K)), w: await upload([K, N], randomArray(random, K * N)), y }, 'linear', { precision: 'mixed' });
    const f16 = device.features.has('shader-f16');
    expect(dispatch.variant).toBe(f16 ? 'workgroup=16 f16' : 'workgroup=16');
    const [first] = await run(dispatch, y);
    await useVariant(dispatch, 'workgroup=16');
    const [f32] = await run(dispatch, y);
    // Random operands keep 24 bits, which f16 rounds away: nearly every sum moves.
    expect(first.filter((v, i) => v !== f32[i]).length).toBe(f16 ? M * N : 0);
  });
});

// What the autotuner chooses from: scalar loads only where vec4 loads are
// possible (B's columns adjacent, N a multiple of 4), subgroups only where the
// device has them (lavapipe does).
describe('matmul variants', () => {
  test.each([
    [8, 'forward', ['workgroup=16', 'workgroup=64', 'workgroup=4', 'workgroup=64 scalar', 'tiled=32', 'tiled=64']],
    [8, 'backward_weight', ['workgroup=16', 'workgroup=64', 'workgroup=4', 'workgroup=64 scalar', 'tiled=32', 'tiled=64']],
    [8, 'backward_input', ['workgroup=16', 'workgroup=64', 'workgroup=4', 'tiled=32', 'tiled=64']],
    [6, 'forward', ['workgroup=16', 'workgroup=64', 'workgroup=4', 'tiled=32', 'tiled=64']],
  ] as const)('N=%i %s', async (N, entryPoint, want) => {
    const { device } = await testGpu();
    const [M, K] = [3, 5];
    const x = await zeros([M, K]);
    const w = await zeros([K, N]);
    const dOut = await zeros([M, N]);
    const dispatches = [await matmulForward(device, { x, w, y: await zeros([M, N]) }), ...(await matmulBackward(device, { x, w, dOut, dWeight: await zeros([K, N]), dInput: await zeros([M, K]) }))];
    const dispatch = dispatches.find((d) => d.kernel.name === `matmul.wgsl:${entryPoint}`)!;
    expect(dispatch.tunable!.variants).toEqual([...want, ...(device.features.has('subgroups') ? ['workgroup=64 subgroups'] : [])]);
  });
});

// conv2d's shuffled kernels as a dense layer's forward and weight gradient
// (ops/conv2d.ts' denseVariants), offered where the device has subgroups and K
// is a multiple of 4: each adds the same products in the same order as
// matmul.wgsl's kernels, so every variant gives the default's bits.
describe.each([
  [20, 32, 36],
  [9, 64, 10],
  [5, 13, 8],
])('conv2d as a dense layer M=%i K=%i N=%i', (M, K, N) => {
  const random = seededRandom(M * K + N);
  const conv2dVariants = (d: { tunable?: { variants: string[] } }) => d.tunable!.variants.filter((v) => v.startsWith('conv2d '));

  test("forward with a bias and relu, and dW with dBias: the same bits as matmul.wgsl's", async () => {
    const { device } = await testGpu();
    const offered = device.features.has('subgroups') && K % 4 === 0;
    const y = await zeros([M, N]);
    const { w, bias } = await uploadWithBias([K, N], randomArray(random, K * N), randomArray(random, N));
    const x = await upload([M, K], randomArray(random, M * K));
    const forward = await matmulForward(device, { x, w, bias, y }, 'relu');
    const grads = await zeros([K * N + N], 'dWeight and dBias');
    const { w: dWeight, bias: dBias } = splitBiasRow(grads, [K, N]);
    const [backward] = await matmulBackward(device, { x, w, dOut: await upload([M, N], randomArray(random, M * N)), dWeight, dBias });
    // The last of each again with 8 lanes loading the shared rows, where every subgroup has 8.
    const eight = (device.adapterInfo?.subgroupMinSize ?? 0) >= 8;
    for (const [dispatch, out, want] of [
      [forward, y, ['conv2d rows=2 shuffled', 'conv2d rows=4 shuffled', ...(eight ? ['conv2d rows=4 shuffled lanes=8'] : [])]],
      [backward, grads, ['conv2d rows=4 shuffled', 'conv2d rows=8 shuffled', ...(eight ? ['conv2d rows=8 shuffled lanes=8'] : [])]],
    ] as const) {
      expect(conv2dVariants(dispatch)).toEqual(offered ? want : []);
      const [first] = await run(dispatch, out);
      for await (const variant of eachVariant(dispatch, out)) {
        const [got] = await run(dispatch, out);
        expect(got.findIndex((v, i) => !Object.is(v, first[i])), `${dispatch.kernel.name} ${variant}`).toBe(-1);
      }
    }
  });
});

describe('matmul errors', () => {
  test('mismatched inner dimensions name the op and the shapes', async () => {
    const { device } = await testGpu();
    await expect(matmulForward(device, { x: await zeros([2, 3]), w: await zeros([4, 5]), y: await zeros([2, 5]) })).rejects.toThrow(
      'matmul(): x has 3 columns but w has 4 rows ([2, 3] · [4, 5])',
    );
  });
  test('a wrong output shape is named', async () => {
    const { device } = await testGpu();
    await expect(matmulForward(device, { x: await zeros([2, 3]), w: await zeros([3, 5]), y: await zeros([5, 2]) })).rejects.toThrow(
      'matmul(): y has shape [5, 2] but [2, 5] was expected',
    );
  });
  test('a variant it does not have is named, with those it has', async () => {
    const { device } = await testGpu();
    const dispatch = await matmulForward(device, { x: await zeros([2, 3]), w: await zeros([3, 5]), y: await zeros([2, 5]) });
    await expect(useVariant(dispatch, 'tiled=48')).rejects.toThrow(`matmul.wgsl:forward: no variant 'tiled=48' (it has: ${dispatch.tunable!.variants.join(', ')})`);
  });
  test('a bias that does not follow the kernel is refused', async () => {
    const { device } = await testGpu();
    await expect(matmulForward(device, { x: await zeros([2, 3]), w: await zeros([3, 5], 'w'), bias: await zeros([5]), y: await zeros([2, 5]) })).rejects.toThrow(
      "matmul(): bias must follow w in its buffer (at byte 60 of 'w')",
    );
  });
});
