// The optimizer in training: the learning rate and the step count held on the
// GPU (set between steps, scheduled, read, saved and restored), clipping that
// does not bind leaving a run bit for bit as it was, and what a plan dispatches.
import { describe, expect, test } from 'vitest';
import { readTensor } from '../src/engine/buffers';
import { encodeCheckpoint, readCheckpoint, restoreState } from '../src/engine/checkpoint';
import { Graph } from '../src/engine/graph';
import { dense, flatten } from '../src/engine/layers';
import { sequential, type History, type Model } from '../src/engine/model';
import { optimizerConfig, type OptimizerConfig } from '../src/engine/ops/optimizer';
import { cosineDecay, exponentialDecay, piecewiseConstantDecay } from '../src/engine/ops/schedule';
import { encodeDispatches, type Dispatch } from '../src/engine/pipelines';
import { runPass } from '../src/engine/training/pass';
import { learningRateAt } from '../src/reference/schedule';
import { expectClose, seededRandom, testGpu } from './helpers';

// 40 rows in batches of 10: 4 steps a pass.
const ROWS = 40;
const FEATURES = 6;
const random = seededRandom(5);
const x = Float32Array.from({ length: ROWS * FEATURES }, () => random() * 2 - 1);
const y = Uint8Array.from({ length: ROWS }, (_, i) => (x[i * FEATURES] > 0 ? 1 : 0) + (i % 2 === 0 ? 2 : 0));
const order = Uint32Array.from({ length: ROWS }, (_, i) => i);
const layers = [flatten({ inputShape: [FEATURES] }), dense({ units: 8, activation: 'relu' }), dense({ units: 4, activation: 'softmax' })];

async function graph(optimizer: OptimizerConfig): Promise<Graph> {
  return new Graph((await testGpu()).device, { layers, inputShape: [FEATURES], maxBatchSize: 10, optimizer, random: seededRandom(3) });
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

describe('the learning rate on the GPU', () => {
  test('set between passes, it takes effect from the next step: as a schedule that changes there', async () => {
    const set = await graph(optimizerConfig('adam', { learningRate: 0.01 }));
    expect(set.learningRate).toBe(Math.fround(0.01));
    await train(set);
    set.learningRate = 0.003;
    await train(set);
    // Steps 0-3 at 0.01, steps 4-7 at 0.003.
    const scheduled = await graph(optimizerConfig('adam', { learningRate: piecewiseConstantDecay({ boundaries: [3], values: [0.01, 0.003] }) }));
    await train(scheduled);
    await train(scheduled);
    const [a, b] = [await set.readState(), await scheduled.readState()];
    expect([...a.arena]).toEqual([...b.arena]);
    expect([a.optimizerStep, b.optimizerStep]).toEqual([8, 8]);
    expect([set.learningRate, await set.readLearningRate(), a.learningRate, await scheduled.readLearningRate()]).toEqual(Array(4).fill(Math.fround(0.003)));
    set.destroy();
    scheduled.destroy();
  });

  test("a schedule's rate in effect is the one the next update uses, and cannot be set", async () => {
    const schedule = cosineDecay({ initialLearningRate: 0.05, decaySteps: 10, warmupTarget: 0.1, warmupSteps: 3 });
    const g = await graph(optimizerConfig('sgd', { learningRate: schedule }));
    await train(g);
    const inEffect = await g.readLearningRate();
    expect(inEffect).toBeCloseTo(learningRateAt(schedule, 4), 7);
    // The fifth update writes the rate it uses: the one read before it, to the bit.
    submit(g, (await g.plan(10)).update);
    const { learningRate, optimizerStep } = await g.readState();
    expect([learningRate, optimizerStep]).toEqual([inEffect, 5]);
    expect(await g.readLearningRate()).toBeCloseTo(learningRateAt(schedule, 5), 7);
    expect(() => g.learningRate).toThrow("learningRate: this optimizer's learning rate follows a schedule (cosineDecay), so it is read with readLearningRate()");
    expect(() => {
      g.learningRate = 0.1;
    }).toThrow('learningRate: this optimizer\'s learning rate follows a schedule (cosineDecay), so it is not settable; compile the optimizer with a number');
    g.destroy();
  });

  test('the rate written before the first step is read by it, and a bad rate is refused', async () => {
    const g = await graph(optimizerConfig('sgd'));
    g.learningRate = 0.5;
    expect(() => {
      g.learningRate = 0;
    }).toThrow('learningRate is 0 but must be positive and finite');
    expect(g.learningRate).toBe(0.5);
    const before = await g.readArena();
    const plan = await g.plan(10);
    g.writeBatch(x.subarray(0, 10 * FEATURES), Uint32Array.from(y.subarray(0, 10)));
    // The gradients, then the update alone: p - 0.5 g.
    submit(g, plan.gradients);
    const gradient = await readTensor(g.device, g.gradArena);
    submit(g, plan.update);
    expectClose('p - 0.5 g', await g.readArena(), before.map((p, i) => p - 0.5 * gradient[i]), { atol: 1e-7, rtol: 1e-6 });
    g.destroy();
  });

  test('saved and restored with the training state, and in a checkpoint, bit for bit', async () => {
    const g = await graph(optimizerConfig('momentum'));
    await train(g);
    g.learningRate = 0.0123;
    const state = await g.readState();
    expect([state.optimizerStep, state.learningRate]).toEqual([4, Math.fround(0.0123)]);
    const architecture = { inputShape: [FEATURES], layers: [...layers] };
    const run = { epoch: 1, step: 0, steps: 4, globalStep: 4, optimizer: g.optimizer, batchSize: 10, samples: ROWS, seen: 0, random: { build: 0, epoch: 0 }, history: [], loss: { kind: 'sparseCategoricalCrossentropy' as const, fromLogits: false }, metrics: [] };
    const restored = await graph(optimizerConfig('momentum'));
    restored.writeState(restoreState(readCheckpoint(encodeCheckpoint(g, architecture, run, state), 'test.ckpt'), restored));
    expect(restored.learningRate).toBe(Math.fround(0.0123));
    await train(g);
    await train(restored);
    expect([...(await restored.readArena())]).toEqual([...(await g.readArena())]);
    g.destroy();
    restored.destroy();
  });
});

describe('checkpoints of a scheduled, clipped run', () => {
  test('every checkpoint resumes to the same losses and bit-identical weights: the step count of any optimizer is restored', async () => {
    const optimizer = optimizerConfig('nesterov', { learningRate: exponentialDecay({ initialLearningRate: 0.2, decaySteps: 2, decayRate: 0.5, staircase: true }), clipnorm: 0.5 });
    const model = async () => {
      const m = sequential(layers);
      m.compile({ optimizer, seed: 2, gpu: await testGpu() });
      return m;
    };
    const saved: Uint8Array[] = [];
    const reference = await model();
    // 3 steps an epoch, the last partial; a checkpoint every 2.
    const history = await reference.fit(x, y, { epochs: 3, batchSize: 16, checkpoint: { everySteps: 2, write: async (bytes) => void saved.push(bytes) } });
    const want = (await reference.getWeights()).map((w) => [...w.values]);
    expect(saved).toHaveLength(4);
    for (const [i, bytes] of saved.entries()) {
      const resumed = await model();
      const got = await resumed.fit(x, y, { epochs: 3, batchSize: 16, resumeFrom: bytes });
      expect(got.history.loss, `checkpoint ${i}`).toEqual(history.history.loss);
      expect((await resumed.getWeights()).map((w) => [...w.values]), `checkpoint ${i}`).toEqual(want);
      resumed.destroy();
    }
    reference.destroy();
  });
});

describe('the update of a plan', () => {
  test('counts the step and updates, with no dispatch for clipping unless asked; clipping adds its own', async () => {
    const kernels = async (optimizer: OptimizerConfig) => {
      const g = await graph(optimizer);
      const names = (await g.plan(10)).update.map((d) => d.kernel.name);
      g.destroy();
      return names;
    };
    expect(await kernels(optimizerConfig('rmsprop'))).toEqual(['schedule.wgsl:constant', 'optimizer.wgsl:rmsprop']);
    expect(await kernels(optimizerConfig('adam', { learningRate: cosineDecay({ initialLearningRate: 0.1, decaySteps: 9 }) }))).toEqual([
      'schedule.wgsl:cosine_decay',
      'optimizer.wgsl:adam',
    ]);
    expect(await kernels(optimizerConfig('adamw', { clipnorm: 1 }))).toEqual([
      'clip.wgsl:sum_squares',
      'clip.wgsl:norm_scales',
      'clip.wgsl:scale',
      'schedule.wgsl:constant',
      'optimizer.wgsl:adamw',
    ]);
    expect(await kernels(optimizerConfig('nesterov', { clipvalue: 1 }))).toEqual(['clip.wgsl:clip_value', 'schedule.wgsl:constant', 'optimizer.wgsl:nesterov']);
  });
});

describe('clipping in fit', () => {
  const model = async (optimizer: OptimizerConfig): Promise<Model> => {
    const m = sequential(layers);
    m.compile({ optimizer, seed: 4, gpu: await testGpu() });
    return m;
  };
  const losses = (history: History) => [history.history.loss, history.history.accuracy];

  test('that does not bind leaves every loss and weight bit for bit as without it; one that binds changes them', async () => {
    const run = async (optimizer: OptimizerConfig) => {
      const m = await model(optimizer);
      const history = await m.fit(x, y, { epochs: 2, batchSize: 10 });
      const weights = (await m.getWeights()).map((w) => [...w.values]);
      m.destroy();
      return { losses: losses(history), weights };
    };
    const plain = await run(optimizerConfig('adam', { learningRate: 0.01 }));
    for (const clipping of [{ clipnorm: 1e6 }, { globalClipnorm: 1e6 }, { clipvalue: 1e6 }]) {
      expect(await run(optimizerConfig('adam', { learningRate: 0.01, ...clipping })), JSON.stringify(clipping)).toEqual(plain);
    }
    expect((await run(optimizerConfig('adam', { learningRate: 0.01, globalClipnorm: 1e-3 }))).weights).not.toEqual(plain.weights);
  });

  test('compile takes a config as JSON gives it, completes it with the defaults, and names a bad setting', async () => {
    const m = sequential(layers);
    const json = JSON.parse('{"kind":"adamw","learningRate":{"kind":"exponentialDecay","initialLearningRate":0.01,"decaySteps":4,"decayRate":0.5},"clipnorm":1}');
    m.compile({ optimizer: json, gpu: await testGpu() });
    const [loss] = (await m.fit(x, y, { epochs: 1, batchSize: 10 })).history.loss;
    expect(Number.isFinite(loss)).toBe(true);
    expect(() => m.compile({ optimizer: { ...json, learningRate: { ...json.learningRate, decaySteps: 0 } } })).toThrow(
      'exponentialDecay(): decaySteps must be a positive integer, got 0',
    );
    expect(() => m.compile({ optimizer: { kind: 'adamw', weightDecay: -1 } as OptimizerConfig })).toThrow('adamw(): weightDecay is -1 but must be finite and >= 0');
    m.destroy();
  });
});
