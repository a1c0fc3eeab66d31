// NaN through every kernel, forward and backward: a NaN that enters an op
// comes out where the float64 reference says (never turned into a number), so
// fit's non-finite check sees it. ReLU and max pooling have explicit rules (see their shaders).
import { describe, expect, test } from 'vitest';
import { activationBackward, type Activation } from '../src/engine/ops/activation';
import { avgPool2dBackward, avgPool2dForward } from '../src/engine/ops/avgpool2d';
import { conv2dBackward, conv2dForward } from '../src/engine/ops/conv2d';
import { matmulBackward, matmulForward } from '../src/engine/ops/matmul';
import { maxPool2dBackward, maxPool2dForward } from '../src/engine/ops/maxpool2d';
import { softmaxBackward, softmaxForward } from '../src/engine/ops/softmax';
import { softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from '../src/engine/ops/softmaxCrossEntropy';
import { dense, flatten } from '../src/engine/layers';
import { sequential, type Weight } from '../src/engine/model';
import * as activation from '../src/reference/activation';
import * as avgpool from '../src/reference/avgpool2d';
import * as bias from '../src/reference/bias';
import * as conv from '../src/reference/conv2d';
import * as matmul from '../src/reference/matmul';
import * as maxpool from '../src/reference/maxpool2d';
import * as softmax from '../src/reference/softmax';
import * as sce from '../src/reference/softmaxCrossEntropy';
import { eachVariant, epilogue, expectClose, F32, randomArray, run, seededRandom, testGpu, upload, uploadLabels, uploadWithBias, zeros } from './helpers';

/** Copies `values` with NaN at `at`. */
function withNaN(values: Float64Array, at: number[]): Float64Array {
  const copy = Float64Array.from(values);
  for (const i of at) copy[i] = NaN;
  return copy;
}

/** NaN exactly where the reference has NaN, and the other values close to it. */
function expectNaNsWhere(what: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  const nans = (values: ArrayLike<number>) => Array.from(values, (v, i) => (Number.isNaN(v) ? i : -1)).filter((i) => i >= 0);
  const wanted = nans(want);
  expect(wanted.length, `${what}: the reference has no NaN, so the case tests nothing`).toBeGreaterThan(0);
  expect(nans(got), `${what}: the indices holding NaN`).toEqual(wanted);
  const finite = Array.from(want, (_, i) => i).filter((i) => !Number.isNaN(want[i]));
  expectClose(`${what} (the other values)`, finite.map((i) => got[i]), finite.map((i) => want[i]), F32);
}

const random = seededRandom(77);

describe.each(['relu', 'sigmoid', 'tanh'] as Activation[])('%s', (kind) => {
  // 130 elements: NaNs on both sides of the workgroup size (64), and at the ends.
  const x = withNaN(randomArray(random, 130, -3, 3), [0, 63, 64, 129]);
  test('forward (a product\'s epilogue): NaN in, NaN out', async () => {
    expectNaNsWhere(`${kind} forward`, await epilogue(kind, x), activation.activationForward(kind, x));
  });
  test('backward: a NaN y gives NaN, a NaN dOut passes where the derivative is not zero', async () => {
    const { device } = await testGpu();
    const y = new Float64Array(new Float32Array(activation.activationForward(kind, x)));
    // dOut NaN at positions of both signs of x, and y NaN (from x) where dOut is a number.
    const dOut = withNaN(randomArray(random, x.length), [1, 2, 3, 4, 70, 71]);
    const dInput = await zeros([x.length]);
    const [got] = await run(await activationBackward(device, kind, { y: await upload([x.length], y), dOut: await upload([x.length], dOut), dInput }), dInput);
    const want = activation.activationBackward(kind, y, dOut);
    expectNaNsWhere(`${kind} backward`, got, want);
    for (const i of [0, 63, 64, 129]) expect(got[i], `dInput[${i}] where y is NaN`).toBeNaN();
    if (kind === 'relu') {
      // The mask selects: where y <= 0 a NaN dOut gives 0, as TensorFlow's ReluGrad does.
      const blocked = [1, 2, 3, 4, 70, 71].filter((i) => y[i] <= 0);
      expect(blocked.length).toBeGreaterThan(0);
      for (const i of blocked) expect(got[i]).toBe(0);
    }
  });
});

// Two channels, and four: the vec4 variants, each lane with its own NaNs.
describe.each([2, 4])('maxPool2d C=%i: a window holding a NaN gives NaN, wherever in the window, in every variant', (C) => {
  // N=1 H=4 W=6, 2x2 windows with stride 2: 2x3 windows per channel.
  const s = { N: 1, H: 4, W: 6, C, PH: 2, PW: 2, SY: 2, SX: 2 };
  const index = (h: number, w: number, c: number) => (h * s.W + w) * s.C + c;
  // NaN first in one window, second in another, last in a third (which also holds a large value), and two in a fourth.
  const at = [index(0, 0, 0), index(0, 3, 1), index(3, 1, 0), index(2, 4, 1), index(3, 5, 1)];
  const x = withNaN(randomArray(random, 24 * C), at);
  x[index(2, 0, 0)] = 100;
  test('forward and backward', async () => {
    const { device } = await testGpu();
    const want = maxpool.maxPool2dForward(x, s);
    expect([...want.y].filter(Number.isNaN)).toHaveLength(4);
    const y = await zeros([1, 2, 3, C]);
    const argmax = await zeros([1, 2, 3, C], 'argmax', 'u32');
    const options = { poolSize: [2, 2] as [number, number], strides: [2, 2] as [number, number] };
    const forward = await maxPool2dForward(device, { x: await upload([1, 4, 6, C], x), y, argmax }, options);
    // A NaN dOut reaches the element it came from.
    const dOut = withNaN(randomArray(random, 6 * C), [3]);
    const dInput = await zeros([1, 4, 6, C]);
    const backward = await maxPool2dBackward(device, { argmax, dOut: await upload([1, 2, 3, C], dOut), dInput }, options);
    for await (const variant of eachVariant([forward, backward], y, argmax, dInput)) {
      const [gotY, gotArgmax, got] = await run([forward, backward], y, argmax, dInput);
      expectNaNsWhere(`maxPool2d forward ${variant}`, gotY, want.y);
      // The gradient goes to the window's first NaN.
      expect([...gotArgmax]).toEqual([...want.argmax]);
      expect(gotArgmax[(1 * 3 + 2) * C + 1]).toBe(index(2, 4, 1));
      expectNaNsWhere(`maxPool2d backward ${variant}`, got, maxpool.maxPool2dBackward(want.argmax, dOut, s));
    }
  });
});

describe('ops whose arithmetic carries a NaN', () => {
  test('matmul: a NaN in x or w spoils its row or column of y; in dOut, its row of dInput and column of dWeight', async () => {
    const { device } = await testGpu();
    const [M, K, N] = [5, 70, 9];
    const x = withNaN(randomArray(random, M * K), [1 * K + 3]);
    const w = withNaN(randomArray(random, K * N), [10 * N + 7]);
    const dOut = withNaN(randomArray(random, M * N), [4 * N + 2]);
    const y = await zeros([M, N]);
    const tx = await upload([M, K], x);
    const tw = await upload([K, N], w);
    const [gotY] = await run(await matmulForward(device, { x: tx, w: tw, y }), y);
    expectNaNsWhere('matmul forward', gotY, matmul.matmulForward(x, w, { M, K, N }));
    const dInput = await zeros([M, K]);
    const dWeight = await zeros([K, N]);
    const [gotDx, gotDw] = await run(await matmulBackward(device, { x: tx, w: tw, dOut: await upload([M, N], dOut), dInput, dWeight }), dInput, dWeight);
    const want = matmul.matmulBackward(x, w, dOut, { M, K, N });
    expectNaNsWhere('matmul dInput', gotDx, want.dInput);
    expectNaNsWhere('matmul dWeight', gotDw, want.dWeight);
  });

  test('conv2d: a NaN pixel spoils the outputs whose window covers it; a NaN dOut the taps it reaches', async () => {
    const { device } = await testGpu();
    const c: conv.Conv2dCase = { N: 2, H: 7, W: 6, C_in: 3, KH: 3, KW: 3, C_out: 5, strides: [1, 1], padding: 'valid' };
    const x = withNaN(randomArray(random, 2 * 7 * 6 * 3), [(3 * 6 + 2) * 3 + 1]);
    const w = randomArray(random, 3 * 3 * 3 * 5);
    const yShape = conv.conv2dOutputShape(c);
    const dOut = withNaN(randomArray(random, yShape.reduce((a, b) => a * b)), [yShape.reduce((a, b) => a * b) - 1]);
    const tx = await upload([2, 7, 6, 3], x);
    const tw = await upload([3, 3, 3, 5], w);
    const y = await zeros(yShape);
    const [gotY] = await run(await conv2dForward(device, { x: tx, w: tw, y }), y);
    expectNaNsWhere('conv2d forward', gotY, conv.conv2dForward(x, w, c));
    const dInput = await zeros([2, 7, 6, 3]);
    const dWeight = await zeros([3, 3, 3, 5]);
    const [gotDx, gotDw] = await run(await conv2dBackward(device, { x: tx, w: tw, dOut: await upload(yShape, dOut), dInput, dWeight }), dInput, dWeight);
    const want = conv.conv2dBackward(x, w, dOut, c);
    expectNaNsWhere('conv2d dInput', gotDx, want.dInput);
    expectNaNsWhere('conv2d dWeight', gotDw, want.dWeight);
  });

  test('a bias (matmul\'s, after the kernel) and averagePooling2d', async () => {
    const { device } = await testGpu();
    const x = withNaN(randomArray(random, 4 * 3), [7]);
    const k = randomArray(random, 3 * 6);
    const b = withNaN(randomArray(random, 6), [2]);
    const y = await zeros([4, 6]);
    const { w, bias: tb } = await uploadWithBias([3, 6], k, b);
    const [gotY] = await run(await matmulForward(device, { x: await upload([4, 3], x), w, bias: tb, y }), y);
    expectNaNsWhere('bias forward', gotY, bias.biasForward(matmul.matmulForward(x, k, { M: 4, K: 3, N: 6 }), b, 4, 6));
    const dOut = withNaN(randomArray(random, 4 * 6), [13]);
    const grads = await zeros([3 * 6 + 6]);
    const dBias = { ...grads, shape: [6], offset: 3 * 6 * 4 };
    const dispatches = await matmulBackward(device, { x: await upload([4, 3], randomArray(random, 12)), w, dOut: await upload([4, 6], dOut), dWeight: { ...grads, shape: [3, 6] }, dBias });
    const [gotGrads] = await run(dispatches, grads);
    expectNaNsWhere('bias backward', gotGrads.subarray(18), bias.biasBackward(dOut, 4, 6));

    const s: avgpool.AvgPoolShape = { N: 1, H: 4, W: 4, C: 2, PH: 2, PW: 2, SY: 2, SX: 2, padding: 'valid' };
    const px = withNaN(randomArray(random, 32), [5]);
    const options = { poolSize: [2, 2] as [number, number], strides: [2, 2] as [number, number], padding: 'valid' as const };
    const py = await zeros([1, 2, 2, 2]);
    const [gotP] = await run(await avgPool2dForward(device, { x: await upload([1, 4, 4, 2], px), y: py }, options), py);
    expectNaNsWhere('averagePooling2d forward', gotP, avgpool.avgPool2dForward(px, s));
    const pd = withNaN(randomArray(random, 8), [6]);
    const pdx = await zeros([1, 4, 4, 2]);
    const [gotPd] = await run(await avgPool2dBackward(device, { dOut: await upload([1, 2, 2, 2], pd), dInput: pdx }, options), pdx);
    expectNaNsWhere('averagePooling2d backward', gotPd, avgpool.avgPool2dBackward(pd, s));
  });

  test('softmax: a NaN spoils its row, forward and backward', async () => {
    const { device } = await testGpu();
    const [R, C] = [3, 10];
    const x = withNaN(randomArray(random, R * C), [C + 4]);
    const y = await zeros([R, C]);
    const [gotY] = await run(await softmaxForward(device, { x: await upload([R, C], x), y }), y);
    const wantY = softmax.softmaxForward(x, R, C);
    expectNaNsWhere('softmax forward', gotY, wantY);
    const dOut = withNaN(randomArray(random, R * C), [2 * C]);
    const dInput = await zeros([R, C]);
    const [gotD] = await run(await softmaxBackward(device, { y: await upload([R, C], wantY), dOut: await upload([R, C], dOut), dInput }), dInput);
    expectNaNsWhere('softmax backward', gotD, softmax.softmaxBackward(wantY, dOut, R, C));
  });

  test('softmax cross-entropy: a NaN logit makes the loss NaN (not clipped to a bound) and its row of dLogits', async () => {
    const { device } = await testGpu();
    const [N, C] = [4, 10];
    const logits = withNaN(randomArray(random, N * C), [2 * C + 5]);
    const labels = Uint32Array.of(1, 2, 3, 4);
    const t = { logits: await upload([N, C], logits), labels: await uploadLabels([N], labels) };
    const sums = await zeros([1]);
    const runningMeans = await zeros([2]);
    const [gotLoss] = await run(await softmaxCrossEntropyForward(device, { ...t, sums, runningMeans }), sums);
    expect(sce.softmaxCrossEntropyForward(logits, labels, N, C)).toBeNaN();
    expect(gotLoss[0]).toBeNaN();
    const dLogits = await zeros([N, C]);
    const [got] = await run(await softmaxCrossEntropyBackward(device, { ...t, dLogits }), dLogits);
    expectNaNsWhere('softmax cross-entropy backward', got, sce.softmaxCrossEntropyBackward(logits, labels, N, C));
  });
});

describe('fit stops on a non-finite loss (Keras TerminateOnNaN)', () => {
  const layers = () => [flatten({ inputShape: [6] }), dense({ units: 8, activation: 'relu' }), dense({ units: 3, activation: 'softmax' })];
  const data = (rows: number, nanRow: number) => {
    const x = randomArray(seededRandom(rows), rows * 6);
    x[nanRow * 6 + 2] = NaN;
    return { x: new Float32Array(x), y: Uint8Array.from({ length: rows }, (_, i) => i % 3) };
  };

  test('an input holding a NaN: the error names the epoch, the step and the input of the first layer', async () => {
    const model = sequential(layers());
    model.compile({ seed: 1, gpu: await testGpu() });
    const { x, y } = data(8, 5);
    await expect(model.fit(x, y, { epochs: 2, batchSize: 8 })).rejects.toThrow(
      'training stopped: the loss is NaN at epoch 1/2, step 1/1; the first non-finite values: the input of layer 0 (flatten) (row 5 of x, its element 2 is NaN)',
    );
    model.destroy();
  });

  test('a NaN in the input of step 3 of 10 is found exactly, though later steps ran before its loss was read', async () => {
    const model = sequential(layers());
    model.compile({ seed: 1, gpu: await testGpu() });
    const { x, y } = data(40, 9);
    const seen: number[] = [];
    const fit = model.fit(x, y, { epochs: 1, batchSize: 4, shuffle: false, updateEvery: 4, callbacks: { onTrainBatchEnd: (step) => void seen.push(step) } });
    await expect(fit).rejects.toThrow(
      'training stopped: the loss is NaN at epoch 1/1, step 3/10; the first non-finite values: the input of layer 0 (flatten) (row 9 of x, its element 2 is NaN)',
    );
    // The loss is read every 4 steps: nothing was reported.
    expect(seen).toEqual([]);
    model.destroy();
  });

  /** The model with its weights changed by `change`, and 40 rows of finite data. */
  async function changed(change: (weights: Weight[]) => void) {
    const model = sequential(layers());
    model.compile({ seed: 1, gpu: await testGpu() });
    const { x, y } = data(40, 0);
    x[2] = 0;
    const weights = await model.getWeights();
    change(weights);
    await model.setWeights(weights);
    return { model, x, y };
  }

  // After the fact an update has spread a NaN to every layer before the one it
  // started in; the steps since the last finite loss are run again to find where.
  test('a weight that is NaN: the step, and that weight, found by running the steps again', async () => {
    const { model, x, y } = await changed((weights) => (weights[2].values[5] = NaN));
    await expect(model.fit(x, y, { epochs: 1, batchSize: 4, updateEvery: 5 })).rejects.toThrow(
      'training stopped: the loss is NaN at epoch 1/1, step 1/10; the first non-finite values: layer 2 (dense) kernel (element 5 is NaN)',
    );
    model.destroy();
  });

  test('activations that overflow in a hidden layer, after steps read finite: the step and the layer whose output went non-finite', async () => {
    const { model, x, y } = await changed((weights) => weights[0].values.fill(1e10));
    // Finite for the first rows; row 22 (step 6, after the loss was read finite at step 5) overflows layer 1.
    x.fill(1e30, 22 * 6, 23 * 6);
    const seen: number[] = [];
    const fit = model.fit(x, y, { epochs: 1, batchSize: 4, shuffle: false, updateEvery: 5, callbacks: { onTrainBatchEnd: (step, logs) => void seen.push(step, logs.loss) } });
    await expect(fit).rejects.toThrow(/^training stopped: the loss is NaN at epoch 1\/1, step 6\/10; the first non-finite values: layer 1 \(dense\) output \(element 1\d is Infinity\)$/);
    expect(seen[0]).toBe(4);
    expect(Number.isFinite(seen[1])).toBe(true);
    model.destroy();
  });
});
