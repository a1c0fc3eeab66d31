// clip.wgsl against the float64 reference: clipnorm, globalClipnorm and
// clipvalue over a gradient buffer holding several variables, with chunks cut
// at and around their boundaries; clipping that does not bind changes no bit;
// the reduction gives the same bits every run.
import { describe, expect, test } from 'vitest';
import { readTensor, writeTensor } from '../src/engine/buffers';
import { clipGradients, type Clipping, type Variable } from '../src/engine/ops/clip';
import * as reference from '../src/reference/clip';
import { expectClose, randomArray, run, seededRandom, testGpu, zeros } from './helpers';

/** Variables laid out one after another, each start aligned to 64 floats as a model's arena aligns them, and the buffer's length. */
function layout(lengths: number[], untrained: number[] = []): { variables: Variable[]; count: number } {
  let count = 0;
  const variables = lengths.map((length, i) => {
    const start = Math.ceil(count / 64) * 64;
    count = start + length;
    return { start, length, ...(untrained.includes(i) && { trainable: false }) };
  });
  return { variables, count: Math.ceil(count / 64) * 64 };
}

/** Gradients in [-scale, scale] within the variables (scaled by each one's `scales` entry), zero in the gaps as in a model's arena. */
function gradients(seed: number, { variables, count }: { variables: Variable[]; count: number }, scales: number[] = []): Float64Array {
  const random = seededRandom(seed);
  const grad = new Float64Array(count);
  variables.forEach(({ start, length }, i) => grad.set(randomArray(random, length, -(scales[i] ?? 1), scales[i] ?? 1), start));
  return grad;
}

async function clip(clipping: Clipping, grad: Float64Array, variables: Variable[], device?: GPUDevice): Promise<Float32Array> {
  const gpu = device ?? (await testGpu()).device;
  const tensor = await zeros([grad.length], 'grad');
  writeTensor(gpu, tensor, Float32Array.from(grad));
  await run(await clipGradients(gpu, clipping, { grad: tensor, variables }));
  return (await readTensor(gpu, tensor)) as Float32Array;
}

/** The first index where two float32 arrays differ in their bits, or -1 (quicker than a deep equality on a long array). */
function firstDifference(a: Float32Array, b: Float32Array): number {
  const [x, y] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
  return x.length !== y.length ? 0 : x.findIndex((bits, i) => bits !== y[i]);
}

const describeClipping = (clipping: Clipping) => Object.entries(clipping).map(([name, value]) => `${name}=${value}`).join(' ');

// Lengths on both sides of a chunk (4096 gradients), a variable of one element, and one of many chunks.
const layouts = {
  'one element': layout([1]),
  'chunk edges 4095, 4096, 4097 and 1': layout([4095, 4096, 4097, 1]),
  '250,000 and 10': layout([250_000, 10]),
};

// A uniform [-1, 1] vector of n values has a norm near sqrt(n / 3): these limits bind for some variables and not others.
const clippings: Clipping[] = [{ clipnorm: 0.5 }, { clipnorm: 30 }, { globalClipnorm: 1 }, { globalClipnorm: 100 }, { clipvalue: 0.25 }];

describe.each(Object.entries(layouts))('%s', (_, { variables, count }) => {
  test.each(clippings.map((c) => [describeClipping(c), c] as const))('%s', async (name, clipping) => {
    const grad = gradients(count, { variables, count }, [1, 2, 0.5, 3]);
    const want = reference.clipGradients(clipping, grad, variables);
    const got = await clip(clipping, grad, variables);
    const largest = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expectClose(`${name} lengths=${variables.map((v) => v.length).join(',')}`, got, want, { atol: 1e-7 * largest, rtol: 1e-5 });
  });
});

describe('clipping', () => {
  test('that does not bind changes no bit of the gradients', async () => {
    const { variables, count } = layouts['chunk edges 4095, 4096, 4097 and 1'];
    const grad = gradients(7, { variables, count });
    // Subnormals too, which a multiply by 1 could flush to zero.
    grad[variables[1].start] = 1e-40;
    grad[variables[3].start] = -1e-41;
    for (const clipping of [{ clipnorm: 1e6 }, { globalClipnorm: 1e6 }, { clipvalue: 1e6 }]) {
      expect(firstDifference(await clip(clipping, grad, variables), Float32Array.from(grad)), describeClipping(clipping)).toBe(-1);
    }
  });

  test('leaves the variables that are not trained out of the norms, and as they are', async () => {
    const lengths = layout([300, 8, 500], [1]);
    // The untrained variable's gradient is large: counted in a norm, it would change every scale.
    const grad = gradients(8, lengths, [1, 100, 1]);
    for (const clipping of [{ clipnorm: 2 }, { globalClipnorm: 2 }]) {
      const got = await clip(clipping, grad, lengths.variables);
      expectClose(describeClipping(clipping), got, reference.clipGradients(clipping, grad, lengths.variables), { atol: 1e-7, rtol: 1e-5 });
    }
  });

  test('gives the same bits on every run', async () => {
    const { variables, count } = layouts['250,000 and 10'];
    const grad = gradients(9, { variables, count });
    const first = await clip({ globalClipnorm: 1 }, grad, variables);
    expect(firstDifference(await clip({ globalClipnorm: 1 }, grad, variables), first)).toBe(-1);
  });

  test('past the device limit on workgroups, a workgroup takes a longer chunk', async () => {
    const { device } = await testGpu();
    const limited = new Proxy(device, {
      get: (target, key) => {
        if (key === 'limits') return new Proxy(target.limits, { get: (l, name) => (name === 'maxComputeWorkgroupsPerDimension' ? 4 : Reflect.get(l, name)) });
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { variables, count } = layout([50_000, 3]);
    const grad = gradients(10, { variables, count });
    const [sumSquares] = await clipGradients(limited, { clipnorm: 1 }, { grad: await zeros([count]), variables });
    expect(sumSquares.workgroups[0]).toBeLessThanOrEqual(4);
    expectClose('clipnorm=1 on 4 workgroups', await clip({ clipnorm: 1 }, grad, variables, limited), reference.clipGradients({ clipnorm: 1 }, grad, variables), {
      atol: 1e-7,
      rtol: 1e-5,
    });
  });

  test('without clipping, no dispatch', async () => {
    const { device } = await testGpu();
    expect(await clipGradients(device, {}, { grad: await zeros([10]) })).toEqual([]);
  });

  test('bad settings and variables are named', async () => {
    const { device } = await testGpu();
    const grad = await zeros([10]);
    await expect(clipGradients(device, { clipnorm: 1, globalClipnorm: 1 }, { grad })).rejects.toThrow(
      'clipGradients(): only one of clipnorm, clipvalue and globalClipnorm can be set, got clipnorm=1, globalClipnorm=1',
    );
    await expect(clipGradients(device, { clipvalue: -1 }, { grad })).rejects.toThrow('clipGradients(): clipvalue is -1 but must be positive and finite');
    await expect(clipGradients(device, { clipnorm: 1 }, { grad, variables: [{ start: 8, length: 3 }] })).rejects.toThrow(
      "clipGradients(): a variable [8, 11) is not within grad's 10 elements",
    );
    await expect(clipGradients(device, { clipnorm: 1 }, { grad, variables: [{ start: 0, length: 10, trainable: false }] })).rejects.toThrow(
      'clipGradients(): no trained variable to clip',
    );
  });
});
