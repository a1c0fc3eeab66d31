// compile({ autotune }): kernel variants timed on this adapter, the choices kept
// in a store, and a second build that times nothing; a store that is not the
// tuner's, or names variants a kernel does not have, is ignored with a notice.
// Every variant computes each value with the same operations in the same
// order, so the choice never changes the losses.
import { describe, expect, test } from 'vitest';
import { memoryStore, type AutotuneMode, type TuningStore } from '../src/engine/autotune';
import { conv2d, dense, flatten, maxPooling2d } from '../src/engine/layers';
import { sequential, type Model } from '../src/engine/model';
import { seededRandom, testGpu } from './helpers';

// A tiny CNN on 10x10 images, so that SwiftShader tunes it in seconds.
const layers = () => [
  conv2d({ filters: 8, kernelSize: 3, activation: 'relu', inputShape: [10, 10, 1] }),
  maxPooling2d({ poolSize: 2 }),
  conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
  flatten(),
  dense({ units: 10, activation: 'softmax' }),
];
const ROWS = 32;
const random = seededRandom(5);
const x = Float32Array.from({ length: ROWS * 100 }, () => random());
const y = Uint32Array.from({ length: ROWS }, () => Math.floor(random() * 10));

/** Trains one epoch in batches of 16 and returns the losses and the model's tuning, with the notices it gave. */
async function train(autotune: AutotuneMode, store: TuningStore) {
  const notices: string[] = [];
  const model: Model = sequential(layers());
  model.compile({ optimizer: 'rmsprop', seed: 3, gpu: await testGpu(), autotune, tuningStore: store, onTuningNotice: (m) => notices.push(m) });
  const losses: number[] = [];
  try {
    await model.fit(x, y, { epochs: 1, batchSize: 16, updateEvery: 1, onBatchEnd: (_step, logs) => void losses.push(logs.loss) });
    return { losses, tuning: model.tuning!, notices };
  } finally {
    model.destroy();
  }
}

describe('autotune', () => {
  test("'full' times every variant and keeps the choices; 'cached' then times nothing; the losses are those of the defaults", async () => {
    const store = memoryStore();
    const pinned = await train('off', store);
    expect(pinned.tuning.choices).toEqual([]);
    expect(await store.read()).toBeNull();

    const full = await train('full', store);
    const kernels = new Set(full.tuning.choices.map((c) => c.kernel));
    expect([...kernels].sort()).toEqual(['conv2d.wgsl:backward_input', 'conv2d.wgsl:backward_weight', 'conv2d.wgsl:forward', 'matmul.wgsl:backward_input', 'matmul.wgsl:backward_weight', 'matmul.wgsl:forward']);
    for (const choice of full.tuning.choices) {
      expect(choice.from).toBe('timed');
      // The fastest of the variants timed.
      const times = Object.entries(choice.ms);
      expect(times.length).toBeGreaterThan(1);
      expect(choice.ms[choice.variant]).toBe(Math.min(...times.map(([, ms]) => ms)));
    }
    expect(full.tuning.timedRuns).toBeGreaterThan(0);
    expect(full.losses).toEqual(pinned.losses);

    const cached = await train('cached', store);
    expect(cached.tuning.timedRuns).toBe(0);
    expect(cached.tuning.choices.map((c) => [c.kernel, c.variant, c.from])).toEqual(full.tuning.choices.map((c) => [c.kernel, c.variant, 'cache']));
    expect(cached.losses).toEqual(pinned.losses);
    expect(cached.notices).toEqual([]);
  });

  test('a store that is not a tuning cache is ignored with a notice, and rewritten', async () => {
    const store = memoryStore();
    await store.write('{"not": "a tuning cache"');
    const run = await train('cached', store);
    expect(run.notices).toEqual([expect.stringMatching(/^autotune: ignored memory, which is not a tuning cache \(.*\); it will be rewritten$/)]);
    expect(run.tuning.timedRuns).toBeGreaterThan(0);
    expect(JSON.parse((await store.read())!).format).toBe('webgpu-train-autotune/1');
  });

  test('a cached choice that is not one of the kernel\'s variants is ignored with a notice, and timed again', async () => {
    const store = memoryStore();
    await train('full', store);
    const cache = JSON.parse((await store.read())!);
    const key = Object.keys(cache.entries).find((k) => k.includes('|conv2d.wgsl:forward|'))!;
    cache.entries[key].variant = 'rows=99';
    await store.write(JSON.stringify(cache));
    const run = await train('cached', store);
    expect(run.notices).toEqual([expect.stringMatching(/^autotune: ignored the cached choice 'rows=99' for conv2d\.wgsl:forward .*: not one of its variants \(rows=1, rows=2, rows=4, rows=8, rows=1 staged, rows=4 staged\)$/)]);
    expect(run.tuning.choices.filter((c) => c.from === 'timed').length).toBeGreaterThan(0);
    expect(run.tuning.choices.every((c) => c.variant !== 'rows=99')).toBe(true);
  });

  test('an unknown mode is refused', () => {
    expect(() => sequential(layers()).compile({ autotune: 'fast' as AutotuneMode })).toThrow("compile(): autotune must be one of off, cached, full, got 'fast'");
  });
});
