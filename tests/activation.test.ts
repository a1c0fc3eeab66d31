// The activations against the float64 reference: forward as the epilogue of a
// product (activate.wgsl's functions, here after matmul of x [n, 1] by a 1x1
// kernel of 1 and a bias of 0, which leaves x as it is), backward by activation.wgsl.
import { describe, expect, test } from 'vitest';
import { ACTIVATION_CODES, ACTIVATIONS, activationBackward, type Activation } from '../src/engine/ops/activation';
import { formatShape, sizeOf } from '../src/engine/buffers';
import * as reference from '../src/reference/activation';
import library from '../src/shaders/activate.wgsl?raw';
import gradients from '../src/shaders/activation.wgsl?raw';
import { epilogue, expectClose, F32, GRADCHECK, numericGradient, randomArray, run, seededRandom, testGpu, upload, zeros } from './helpers';

// Every activation the engine lists, so that one added there is tested here.
const kinds = ACTIVATIONS;

// One element, both sides of the workgroup size (64), sizes that are not
// multiples of it, and an image-shaped tensor.
const shapes: number[][] = [[1], [7], [63], [64], [65], [1000], [4097], [2, 13, 13, 8]];

/** The forward's output as the GPU stores it, for the backward's input. */
function float32(values: ArrayLike<number>): Float64Array {
  return new Float64Array(new Float32Array(values));
}

async function checkForward(kind: Activation, what: string, x: Float64Array) {
  const got = await epilogue(kind, x);
  expectClose(`${kind} forward ${what}`, got, reference.activationForward(kind, x), F32);
  expect(got.every(Number.isFinite)).toBe(true);
}

async function checkBackward(kind: Activation, what: string, shape: number[], x: Float64Array, dOut: Float64Array) {
  const { device } = await testGpu();
  const y = float32(reference.activationForward(kind, x));
  const dInput = await zeros(shape);
  const dispatch = await activationBackward(device, kind, { y: await upload(shape, y), dOut: await upload(shape, dOut), dInput });
  const [got] = await run(dispatch, dInput);
  expectClose(`${kind} backward ${what}`, got, reference.activationBackward(kind, y, dOut), F32);
  expect(got.every(Number.isFinite)).toBe(true);
}

describe.each(kinds)('%s', (kind) => {
  describe.each(shapes.map((shape) => [`shape=${formatShape(shape)}`, shape] as const))('%s', (name, shape) => {
    const random = seededRandom(sizeOf(shape) + kind.length);
    const count = sizeOf(shape);
    // Wide enough for sigmoid and tanh to saturate.
    const x = randomArray(random, count, -6, 6);
    const dOut = randomArray(random, count);

    test('forward', () => checkForward(kind, name, x));
    test('backward', () => checkBackward(kind, name, shape, x, dOut));
  });

  test('extreme inputs stay finite', async () => {
    const x = float32([-1e30, -1000, -100, -88.8, -50, -20, -1e-3, 0, 1e-3, 20, 50, 88.8, 100, 1000, 1e30]);
    const ones = new Float64Array(x.length).fill(1);
    await checkForward(kind, 'extreme inputs', x);
    await checkBackward(kind, 'extreme inputs', [x.length], x, ones);
  });

  test('reference backward matches central differences', () => {
    const random = seededRandom(kind.length);
    // |x| >= 0.01 keeps the differences away from relu's kink at 0.
    const x = randomArray(random, 200, 0.01, 4).map((v, i) => (i % 2 ? v : -v));
    const dOut = randomArray(random, x.length);
    const analytic = reference.activationBackward(kind, reference.activationForward(kind, x), dOut);
    const numeric = numericGradient((v) => reference.activationForward(kind, v), x, dOut);
    expectClose(`${kind} d/dx`, analytic, numeric, GRADCHECK);
  });
});

// The largest activation of the models: more elements than the device's
// workgroup limit times the workgroup size, where the limit is 65535.
const largest = [512, 26, 26, 32];
test(`relu shape=${formatShape(largest)} backward`, async () => {
  const x = randomArray(seededRandom(512), sizeOf(largest));
  await checkBackward('relu', `shape=${formatShape(largest)}`, largest, x, x);
});

// The names are listed once in TypeScript (ACTIVATIONS) and the codes once in
// WGSL (activate.wgsl), read from there: the two must name the same activations.
describe('the activations listed agree with the WGSL', () => {
  test('activate.wgsl declares a code for linear and each activation, and nothing else', () => {
    const declared = Object.fromEntries([...library.matchAll(/^const (\w+) = (\d+)u;$/gm)].map(([, name, code]) => [name, Number(code)]));
    const read = Object.fromEntries(Object.entries(ACTIVATION_CODES).map(([name, code]) => [name.toUpperCase(), code]));
    expect(read).toEqual(declared);
    expect(new Set(Object.values(declared)).size, 'codes are distinct').toBe(Object.keys(declared).length);
    // The default of the products' ACTIVATION override (0u in conv2d.wgsl and matmul.wgsl).
    expect(declared.LINEAR).toBe(0);
  });

  test.each(ACTIVATIONS)('%s: a case of activate() and a gradient entry point', (kind) => {
    expect(library).toContain(`case ${kind.toUpperCase()}:`);
    expect(gradients).toMatch(new RegExp(`^fn ${kind}_backward\\(`, 'm'));
  });
});

describe('activation errors', () => {
  test('a wrong gradient shape is named', async () => {
    const { device } = await testGpu();
    const t = { y: await zeros([2, 3]), dOut: await zeros([3, 2]), dInput: await zeros([2, 3]) };
    await expect(activationBackward(device, 'sigmoid', t)).rejects.toThrow('sigmoid(): dOut has shape [3, 2] but [2, 3] was expected');
  });
  test('an in-place backward is refused', async () => {
    const { device } = await testGpu();
    const dOut = await zeros([5], 'gradient');
    await expect(activationBackward(device, 'relu', { y: await zeros([5]), dOut, dInput: dOut })).rejects.toThrow(
      "relu(): dInput overlaps dOut in buffer 'gradient'; the output needs memory of its own",
    );
  });
  test('an unknown activation names the entry point it looked for', async () => {
    const { device } = await testGpu();
    const kind = 'gelu' as Activation;
    await expect(activationBackward(device, kind, { y: await zeros([4]), dOut: await zeros([4]), dInput: await zeros([4]) })).rejects.toThrow(
      "activation.wgsl: no compute entry point 'gelu_backward' (it has: forward, relu_backward, sigmoid_backward, tanh_backward)",
    );
  });
});
