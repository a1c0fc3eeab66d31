// Mixed precision's dynamic loss scaling (Keras' LossScaleOptimizer) on the
// GPU: a non-finite step skips its update and halves the scale, finite steps
// double it, the gradients the optimizer sees are the unscaled ones, the scale
// is training state, and float32 models dispatch nothing of it.
import { describe, expect, test } from 'vitest';
import { readTensor, writeTensor } from '../src/engine/buffers';
import { Graph, type GraphState } from '../src/engine/graph';
import { dense, flatten } from '../src/engine/layers';
import { sequential } from '../src/engine/model';
import { LOSS_SCALE_DEFAULTS, lossScaleConfig, type LossScaleConfig } from '../src/engine/ops/lossScale';
import { optimizerConfig, type OptimizerConfig } from '../src/engine/ops/optimizer';
import { encodeDispatches, useVariant, type Dispatch, type Precision } from '../src/engine/pipelines';
import { runPass } from '../src/engine/training/pass';
import { expectClose, seededRandom, testGpu } from './helpers';

// 40 rows in batches of 10: 4 steps a pass.
const ROWS = 40;
const FEATURES = 6;
const random = seededRandom(8);
const x = Float32Array.from({ length: ROWS * FEATURES }, () => random() * 2 - 1);
const y = Uint8Array.from({ length: ROWS }, (_, i) => (x[i * FEATURES] > 0 ? 1 : 0) + (i % 2 === 0 ? 2 : 0));
const order = Uint32Array.from({ length: ROWS }, (_, i) => i);
const layers = [flatten({ inputShape: [FEATURES] }), dense({ units: 8, activation: 'relu' }), dense({ units: 4, activation: 'softmax' })];

async function graph(precision: Precision, options: { optimizer?: OptimizerConfig; lossScale?: LossScaleConfig } = {}): Promise<Graph> {
  const { optimizer = optimizerConfig('adam', { learningRate: 0.01 }), lossScale } = options;
  return new Graph((await testGpu()).device, { layers, inputShape: [FEATURES], maxBatchSize: 10, optimizer, random: seededRandom(3), precision, lossScale });
}

/** One training pass over the 40 rows: 4 steps. */
async function train(g: Graph): Promise<void> {
  await runPass(g, await g.data.pass({ x, y, order }, 10), { kind: 'train', x, order, updateEvery: 2 });
}

function submit(g: Graph, dispatches: Dispatch[]): void {
  const encoder = g.device.createCommandEncoder();
  encodeDispatches(encoder, dispatches);
  g.device.queue.submit([encoder.finish()]);
}

/** A graph's first batch written, and its plan for it. */
async function firstBatch(g: Graph) {
  g.writeBatch(x.subarray(0, 10 * FEATURES), Uint32Array.from(y.subarray(0, 10)));
  return g.plan(10);
}

/** What a skipped update must leave as it was. */
const trained = (state: GraphState) => ({ arena: [...state.arena], optimizer: state.optimizer.map((s) => [...s]), step: state.optimizerStep });

/** The plan's products turned to their f32 variants: mixed precision then computes what float32 does, but for the scaling. */
async function inF32(dispatches: Dispatch[]): Promise<void> {
  for (const d of dispatches) if (d.variant?.endsWith(' f16')) await useVariant(d, d.variant.slice(0, -' f16'.length));
}

describe('loss scaling settings', () => {
  test("Keras' defaults, and what is not a power of two or a step count is refused", () => {
    expect(lossScaleConfig()).toEqual({ initialScale: 32768, dynamicGrowthSteps: 2000 });
    expect(lossScaleConfig({ dynamicGrowthSteps: 3 })).toEqual({ initialScale: 32768, dynamicGrowthSteps: 3 });
    expect(() => lossScaleConfig({ initialScale: 1000 })).toThrow('lossScale: initialScale is 1000 but must be a power of two within float32\'s normal range (2^-126 to 2^127)');
    expect(() => lossScaleConfig({ initialScale: 2 ** 128 })).toThrow('initialScale is 3.402823669209385e+38 but must be a power of two');
    expect(() => lossScaleConfig({ dynamicGrowthSteps: 0 })).toThrow('lossScale: dynamicGrowthSteps is 0 but must be a positive integer below 2^32');
    expect(() => lossScaleConfig({ growthSteps: 3 } as Partial<LossScaleConfig>)).toThrow("lossScale: no setting named 'growthSteps' (it has: initialScale, dynamicGrowthSteps)");
  });
});

describe('a step with non-finite gradients', () => {
  test('skips exactly its update (weights, moments, step count) and halves the scale; the next finite step updates', async () => {
    const g = await graph('mixed');
    const plan = await firstBatch(g);
    submit(g, plan.train);
    const before = await g.readState();
    expect([before.optimizerStep, before.lossScale]).toEqual([1, { scale: 2 ** 15, finiteSteps: 1 }]);
    // The gradients of the next step, one of them made infinite, then the update.
    submit(g, plan.gradients);
    const grad = g.params[0].grad;
    writeTensor(g.device, { ...grad, shape: [1], offset: grad.offset + 4 * 5 }, Float32Array.of(Infinity));
    submit(g, plan.update);
    const skipped = await g.readState();
    expect(trained(skipped)).toEqual(trained(before));
    expect(skipped.lossScale).toEqual({ scale: 2 ** 14, finiteSteps: 0 });
    submit(g, plan.train);
    const after = await g.readState();
    expect(after.optimizerStep).toBe(2);
    expect(after.arena).not.toEqual(before.arena);
    expect(after.lossScale).toEqual({ scale: 2 ** 14, finiteSteps: 1 });
    g.destroy();
  });

  test('a scale too large for f16 overflows the products, and the step is skipped; float32 products hold it', async () => {
    const g = await graph('mixed');
    const plan = await firstBatch(g);
    const start = await g.readState();
    g.writeState({ ...start, lossScale: { scale: 2 ** 60, finiteSteps: 7 } });
    submit(g, plan.train);
    const state = await g.readState();
    // dLogits times 2^60 is some 10^17, far past f16's 65504: the f16 products are infinite.
    if (g.device.features.has('shader-f16')) {
      expect(trained(state)).toEqual(trained(start));
      expect(state.lossScale).toEqual({ scale: 2 ** 59, finiteSteps: 0 });
    } else {
      expect(state.optimizerStep).toBe(1);
      expect(state.lossScale).toEqual({ scale: 2 ** 60, finiteSteps: 8 });
    }
    g.destroy();
  });
});

describe('finite steps', () => {
  test('double the scale after dynamicGrowthSteps of them in a row, and count from 0 again', async () => {
    const g = await graph('mixed', { lossScale: { initialScale: 2 ** 10, dynamicGrowthSteps: 3 } });
    await train(g);
    await train(g);
    // 8 finite steps: doubled after the 3rd and the 6th.
    const state = await g.readState();
    expect([state.optimizerStep, state.lossScale]).toEqual([8, { scale: 2 ** 12, finiteSteps: 2 }]);
    expect(await g.readLossScale()).toEqual({ scale: 2 ** 12, finiteSteps: 2 });
    g.destroy();
  });

  test('hand the optimizer the unscaled gradients: with f32 products, exactly float32\'s, and clipping that binds sees them too', async () => {
    const optimizer = optimizerConfig('adam', { learningRate: 0.01, globalClipnorm: 0.05 });
    const [plain, mixed] = [await graph('float32', { optimizer }), await graph('mixed', { optimizer })];
    const [plainPlan, mixedPlan] = [await firstBatch(plain), await firstBatch(mixed)];
    await inF32(mixedPlan.train);
    submit(plain, plainPlan.gradients);
    submit(mixed, [...mixedPlan.gradients, mixedPlan.update[0]]);
    // Scaling by 2^15 and unscaling are exact: the same gradients, bit for bit.
    expect([...(await readTensor(mixed.device, mixed.gradArena))]).toEqual([...(await readTensor(plain.device, plain.gradArena))]);
    submit(plain, plainPlan.update);
    submit(mixed, mixedPlan.update.slice(1));
    expect([...(await mixed.readArena())]).toEqual([...(await plain.readArena())]);
    plain.destroy();
    mixed.destroy();
  });
});

describe('the dispatches of a plan', () => {
  const names = (dispatches: Dispatch[]) => dispatches.map((d) => d.kernel.name);

  test('float32 has none of loss scaling; mixed adds three, and gates the update on them', async () => {
    const [plain, mixed] = [await graph('float32'), await graph('mixed')];
    const [p, m] = [await plain.plan(10), await mixed.plan(10)];
    expect(names(p.train).filter((name) => name.startsWith('lossScale'))).toEqual([]);
    expect(p.train.filter((d) => d.indirect)).toEqual([]);
    expect(names(m.train).filter((name) => !name.startsWith('lossScale'))).toEqual(names(p.train));
    // The loss' gradient scaled right after the loss' own dispatches.
    const sites = m.gradients.map((d) => d.site);
    expect(sites.indexOf('loss scale')).toBe(sites.lastIndexOf('loss') + 1);
    expect(names(m.gradients.filter((d) => d.site === 'loss scale'))).toEqual(['lossScale.wgsl:scale_gradient']);
    expect(names(m.update)).toEqual(['lossScale.wgsl:unscale', 'lossScale.wgsl:adjust', 'schedule.wgsl:constant', 'optimizer.wgsl:adam']);
    expect(m.update.map((d) => !!d.indirect)).toEqual([false, false, true, true]);
    expect(await plain.readLossScale()).toBeNull();
    plain.destroy();
    mixed.destroy();
  });
});

describe('mixed precision in fit', () => {
  // The loss' gradient is scaled where the loss writes it: the logits' for a fused softmax, the outputs' for mse into a linear layer.
  const oneHot = Float32Array.from({ length: ROWS * 4 }, (_, i) => (y[Math.floor(i / 4)] === i % 4 ? 1 : 0));
  const cases = [
    { loss: 'sparseCategoricalCrossentropy', layers, y },
    { loss: 'mse', layers: [...layers.slice(0, -1), dense({ units: 4 })], y: oneHot },
  ] as const;
  test.each(cases)("trains as float32 does, within f16's rounding, and the loss scale reads as Keras' loss_scale: loss $loss", async ({ loss, layers, y }) => {
    const run = async (precision: Precision) => {
      const m = sequential([...layers]);
      m.compile({ optimizer: optimizerConfig('adam', { learningRate: 0.01 }), loss, seed: 4, gpu: await testGpu(), precision });
      const history = await m.fit(x, y, { epochs: 3, batchSize: 10 });
      const scale = await m.readLossScale();
      m.destroy();
      return { losses: history.history.loss, scale };
    };
    const [plain, mixed] = [await run('float32'), await run('mixed')];
    expect(plain.scale).toBeNull();
    expect(mixed.scale).toBe(LOSS_SCALE_DEFAULTS.initialScale);
    expectClose(`mixed precision losses (${loss})`, mixed.losses, plain.losses, { atol: 1e-3, rtol: 1e-2 });
  });

  test('compile names a precision it does not know, and loss scaling outside mixed precision', () => {
    const m = sequential(layers);
    expect(() => m.compile({ precision: 'float16' as Precision })).toThrow("compile(): precision must be one of float32, mixed, got 'float16'");
    expect(() => m.compile({ lossScale: { dynamicGrowthSteps: 3 } })).toThrow("compile(): lossScale is for precision 'mixed', not 'float32'");
    expect(() => m.compile({ precision: 'mixed', lossScale: { initialScale: 3 } })).toThrow('compile(): lossScale: initialScale is 3 but must be a power of two');
  });

  test('a device without shader-f16 is named in a notice, and trains with f32 products; one with it says nothing', async () => {
    const gpu = await testGpu();
    const notices: string[] = [];
    const m = sequential(layers);
    m.compile({ seed: 4, gpu, precision: 'mixed', autotune: 'off', onTuningNotice: (notice) => notices.push(notice) });
    await m.fit(x, y, { epochs: 1, batchSize: 10 });
    m.destroy();
    if (gpu.device.features.has('shader-f16')) expect(notices).toEqual([]);
    else expect(notices).toEqual([expect.stringMatching(/^precision 'mixed': this device has no 'shader-f16' \(.*\), so the products compute in float32; the loss is still scaled/)]);
  });
});
