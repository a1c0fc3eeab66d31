// The benchmark's micro-kernels (bench/peak.wgsl) compute what they claim, in
// every variant: multiply_add as many multiply-adds as its work counts (each
// invocation writes how far its chains moved, which a missing step would
// change), copy every vec4 of x.
import { describe, expect, test } from 'vitest';
import { copy, INVOCATIONS, multiplyAdd, STEPS } from '../bench/roofline';
import { eachVariant, expectClose, randomArray, run, seededRandom, testGpu, upload, zeros } from './helpers';

describe.each(['f32', 'f16'] as const)('peak.wgsl:multiply_add in %s', (precision) => {
  // increment 3 as well as the benchmark's 1: the count must follow it.
  test.each([1, 3])('increment=%s: each invocation moved 4 x steps x increment', async (increment) => {
    const { device } = await testGpu();
    const moved = await zeros([INVOCATIONS], 'moved');
    if (precision === 'f16' && !device.features.has('shader-f16')) {
      await expect(multiplyAdd(device, precision, moved, increment)).rejects.toThrow("multiplyAdd(): f16 needs the device feature 'shader-f16', which this device lacks");
      return;
    }
    const dispatch = await multiplyAdd(device, precision, moved, increment);
    // Every chain value is an integer below 2048, which f16 holds exactly: the count is exact in both precisions.
    const want = new Float64Array(INVOCATIONS).fill(4 * STEPS * increment);
    expect(dispatch.work).toEqual({ flops: 8 * STEPS * INVOCATIONS, bytes: 4 * INVOCATIONS });
    for await (const variant of eachVariant(dispatch, moved)) {
      const [got] = await run(dispatch, moved);
      expectClose(`multiply_add ${precision} increment=${increment} ${variant}`, got, want, { atol: 0, rtol: 0 });
    }
  });
});

describe('peak.wgsl:copy', () => {
  // One vec4; a count that is no multiple of a block or a workgroup; more than
  // one stride of the grid (4096 workgroups of 64 a step, with block=1).
  test.each([1, 1001, 300_001])('vec4s=%s: y = x in every variant', async (vec4s) => {
    const { device } = await testGpu();
    const x = randomArray(seededRandom(vec4s), 4 * vec4s);
    const y = await zeros([vec4s, 4], 'y');
    const dispatch = await copy(device, await upload([vec4s, 4], x), y);
    expect(dispatch.work).toEqual({ flops: 0, bytes: 32 * vec4s });
    for await (const variant of eachVariant(dispatch, y)) {
      const [got] = await run(dispatch, y);
      expectClose(`copy vec4s=${vec4s} ${variant}`, got, x, { atol: 0, rtol: 0 });
    }
  });

  test('x and y of other shapes are refused, naming them', async () => {
    const { device } = await testGpu();
    await expect(copy(device, await zeros([8, 4]), await zeros([8, 2]))).rejects.toThrow('copy(): x and y must be [n, 4] alike, got [8, 4] and [8, 2]');
  });
});
