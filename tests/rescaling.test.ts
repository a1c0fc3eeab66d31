// rescaling.wgsl against the float64 reference: y = x · scale + offset and
// dInput = scale · dOut, at sizes on both sides of the workgroup size; the
// reference's gradient against central differences; and the errors.
import { describe, expect, test } from 'vitest';
import { formatShape, sizeOf } from '../src/engine/buffers';
import { rescalingBackward, rescalingForward } from '../src/engine/ops/rescaling';
import * as reference from '../src/reference/rescaling';
import { expectClose, F32, GRADCHECK, numericGradient, randomArray, run, seededRandom, testGpu, upload, zeros } from './helpers';

// One element, both sides of the workgroup size (64), sizes that are not
// multiples of it, and an image-shaped tensor.
const shapes: number[][] = [[1], [63], [64], [65], [4097], [2, 13, 13, 8]];
// Keras' 1/255 of raw pixels, and 1/127.5 - 1 into [-1, 1].
const settings = [
  { scale: 1 / 255, offset: 0 },
  { scale: 1 / 127.5, offset: -1 },
  { scale: -3, offset: 0.5 },
];

describe.each(settings.map((s) => [`scale=${s.scale.toPrecision(4)} offset=${s.offset}`, s] as const))('rescaling %s', (_name, options) => {
  describe.each(shapes.map((shape) => [`shape=${formatShape(shape)}`, shape] as const))('%s', (name, shape) => {
    const random = seededRandom(sizeOf(shape) + options.scale);
    const x = randomArray(random, sizeOf(shape), 0, 255);
    const dOut = randomArray(random, sizeOf(shape));

    test('forward and backward', async () => {
      const { device } = await testGpu();
      const y = await zeros(shape);
      const [got] = await run(await rescalingForward(device, { x: await upload(shape, x), y }, options), y);
      expectClose(`rescaling forward ${name}`, got, reference.rescalingForward(x, options.scale, options.offset), F32);
      const dInput = await zeros(shape);
      const [back] = await run(await rescalingBackward(device, { dOut: await upload(shape, dOut), dInput }, options), dInput);
      expectClose(`rescaling backward ${name}`, back, reference.rescalingBackward(dOut, options.scale), F32);
    });
  });

  test('reference backward matches central differences', () => {
    const random = seededRandom(5);
    const x = randomArray(random, 50, -2, 2);
    const dOut = randomArray(random, 50);
    const numeric = numericGradient((v) => reference.rescalingForward(v, options.scale, options.offset), x, dOut);
    expectClose('rescaling d/dx', reference.rescalingBackward(dOut, options.scale), numeric, GRADCHECK);
  });
});

describe('rescaling errors', () => {
  test('a scale or offset that is not a finite number', async () => {
    const { device } = await testGpu();
    const t = { x: await zeros([4]), y: await zeros([4]) };
    await expect(rescalingForward(device, t, { scale: Infinity })).rejects.toThrow('rescaling(): scale must be a finite number, got Infinity');
    await expect(rescalingForward(device, t, { scale: 1, offset: '1' as unknown as number })).rejects.toThrow('rescaling(): offset must be a finite number, got "1"');
  });
  test('a wrong shape, and an output over its input', async () => {
    const { device } = await testGpu();
    await expect(rescalingForward(device, { x: await zeros([2, 3]), y: await zeros([3, 2]) }, { scale: 1 })).rejects.toThrow('rescaling(): y has shape [3, 2] but [2, 3] was expected');
    const same = await zeros([5], 'pixels');
    await expect(rescalingForward(device, { x: same, y: same }, { scale: 1 })).rejects.toThrow("rescaling(): y overlaps x in buffer 'pixels'; the output needs memory of its own");
  });
});
