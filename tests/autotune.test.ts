// compile({ autotune }): kernel variants timed on this adapter, the choices kept
// in a store, and a second build that times nothing; a store that is not the
// tuner's, or names variants a kernel does not have, is ignored with a notice.
// Every variant computes each value with the same operations in the same
// order, so the choice never changes the losses.
import { describe, expect, test } from 'vitest';
import { Autotuner, memoryStore, type AutotuneMode, type TuningStore } from '../src/engine/autotune';
import { matmulForward } from '../src/engine/ops/matmul';
import { conv2d, dense, flatten, maxPooling2d } from '../src/engine/layers';
import { sequential, type Model } from '../src/engine/model';
import type { Precision } from '../src/engine/pipelines';
import { seededRandom, testGpu, zeros } from './helpers';

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
async function train(autotune: AutotuneMode, store: TuningStore, precision: Precision = 'float32') {
  const notices: string[] = [];
  const model: Model = sequential(layers());
  model.compile({ optimizer: 'rmsprop', seed: 3, gpu: await testGpu(), autotune, tuningStore: store, onTuningNotice: (m) => notices.push(m), precision });
  const losses: number[] = [];
  try {
    await model.fit(x, y, { epochs: 1, batchSize: 16, updateEvery: 1, callbacks: { onTrainBatchEnd: (_step, logs) => void losses.push(logs.loss) } });
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
    expect([...kernels].sort()).toEqual(['conv2d.wgsl:backward_input', 'conv2d.wgsl:backward_weight', 'conv2d.wgsl:forward', 'matmul.wgsl:backward_input', 'matmul.wgsl:backward_weight', 'matmul.wgsl:forward', 'maxpool2d.wgsl:backward_relu', 'maxpool2d.wgsl:forward']);
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

  test("mixed precision's choices (among f16 and f32 variants) are kept beside float32's: tuning one drops none of the other's", async () => {
    const store = memoryStore();
    await train('full', store);
    const mixed = await train('full', store, 'mixed');
    // Where the device has shader-f16 the f16 variants were timed too; without, mixed precision shares float32's choices.
    const f16 = (await testGpu()).device.features.has('shader-f16');
    expect(mixed.tuning.choices.some((c) => Object.keys(c.ms).some((variant) => variant.endsWith(' f16')))).toBe(f16);
    expect((await train('cached', store)).tuning.timedRuns).toBe(0);
    expect((await train('cached', store, 'mixed')).tuning.timedRuns).toBe(0);
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
    expect(run.notices).toEqual([expect.stringMatching(/^autotune: ignored the cached choice 'rows=99' for conv2d\.wgsl:forward .*: not one of its variants \(rows=4, rows=1, rows=2, rows=8, rows=1 staged, rows=4 staged, rows=1 scalar, rows=4 quads(, rows=8 shuffled by place, rows=4 shuffled by place(, rows=4 shuffled lanes=8 by place)?)?\)$/)]);
    expect(run.tuning.choices.filter((c) => c.from === 'timed').length).toBeGreaterThan(0);
    expect(run.tuning.choices.every((c) => c.variant !== 'rows=99')).toBe(true);
  });

  test("a choice made for another version of a kernel is dropped when that kernel's shape is timed again", async () => {
    const store = memoryStore();
    await train('full', store);
    const cache = JSON.parse((await store.read())!);
    const key = Object.keys(cache.entries).find((k) => k.includes('|matmul.wgsl:forward|'))!;
    // The same adapter, kernel and shape, another source hash (the key's third field from the end).
    const parts = key.split('|');
    const stale = [...parts.slice(0, -3), 'deadbeef', ...parts.slice(-2)].join('|');
    cache.entries[stale] = { variant: 'workgroup=8', ms: { 'workgroup=8': 1 } };
    delete cache.entries[key];
    await store.write(JSON.stringify(cache));
    await train('cached', store);
    const entries = Object.keys(JSON.parse((await store.read())!).entries);
    expect(entries).toContain(key);
    expect(entries).not.toContain(stale);
    expect(entries.length).toBe(Object.keys(cache.entries).length);
  });

  // matmul's subgroup variant is compiled from matmulSubgroups.wgsl where the device has subgroups
  // (lavapipe and SwiftShader do); elsewhere it is not offered, and a cached choice of it is ignored.
  test("a variant from another file is chosen, cached and reported under the kernel's own name; without subgroups it is not offered", async () => {
    const subgroups = (await testGpu()).device.features.has('subgroups');
    const store = memoryStore();
    const pinned = await train('full', store);
    const cache = JSON.parse((await store.read())!);
    for (const key of Object.keys(cache.entries).filter((k) => k.includes('|matmul.wgsl:'))) cache.entries[key].variant = 'workgroup=64 subgroups';
    // The second convolution's channels (8 in, 16 out) come in fours: its products have shuffled variants
    // (conv2dSubgroups.wgsl); the last of each, backward_weight's 8 steps a round where the device offers it.
    // The first's single input channel does not: its forward has the variants by place, which read x a float at a time.
    const shuffled: string[] = [];
    for (const [key, entry] of Object.entries(cache.entries as Record<string, { variant: string; ms: Record<string, number> }>)) {
      const variant = Object.keys(entry.ms)
        .filter((name) => name.includes(' shuffled'))
        .at(-1);
      if (key.includes('|conv2d.wgsl:') && variant) {
        entry.variant = variant;
        shuffled.push(`${key.split('|')[1]} ${variant}`);
      }
    }
    expect(shuffled.length).toBe(subgroups ? 4 : 0);
    await store.write(JSON.stringify(cache));
    for (let build = 0; build < 2; build++) {
      const run = await train('cached', store);
      const matmuls = run.tuning.choices.filter((c) => c.kernel.startsWith('matmul'));
      if (!subgroups) {
        expect(matmuls.every((c) => c.variant !== 'workgroup=64 subgroups')).toBe(true);
        if (build === 0) expect(run.notices[0]).toMatch(/^autotune: ignored the cached choice 'workgroup=64 subgroups' for matmul\.wgsl:/);
        continue;
      }
      expect(matmuls.map((c) => [c.kernel, c.variant, c.from])).toEqual(
        ['forward', 'backward_weight', 'backward_input'].map((entry) => [`matmul.wgsl:${entry}`, 'workgroup=64 subgroups', 'cache']),
      );
      const convolutions = run.tuning.choices.filter((c) => c.variant.includes(' shuffled'));
      expect(convolutions.map((c) => `${c.kernel} ${c.variant}`).sort()).toEqual(shuffled.sort());
      expect(run.notices).toEqual([]);
      expect(run.losses).toEqual(pinned.losses);
    }
  });

  test('an unknown mode is refused', () => {
    expect(() => sequential(layers()).compile({ autotune: 'fast' as AutotuneMode })).toThrow("compile(): autotune must be one of off, cached, full, got 'fast'");
  });
  test('after every variant, the three fastest are timed twice more in turn, and the fastest time counts', async () => {
    const gpu = await testGpu();
    const dispatch = await matmulForward(gpu.device, { x: await zeros([64, 256]), w: await zeros([256, 64]), y: await zeros([64, 64]) });
    const steps: string[] = [];
    const tuner = new Autotuner(gpu, 'full', memoryStore(), () => {}, Infinity);
    // What each step's progress says after the kernel and shape.
    await tuner.tune([dispatch], (p) => void (p.what.startsWith('matmul') && steps.push(p.what.slice(p.what.indexOf(', ') + 2))));
    const [choice] = tuner.choices;
    const variants = dispatch.tunable!.variants;
    const contenders = steps.slice(variants.length).map((step) => /\((.*)\)$/.exec(step)![1]);
    expect(steps.slice(0, variants.length)).toEqual(variants.map((v, i) => `variant ${i + 1} of ${variants.length} (${v})`));
    expect(steps.slice(variants.length).map((step) => step.split(' (')[0])).toEqual([1, 2, 3, 4, 5, 6].map((i) => `the fastest again, ${i} of 6`));
    // The same three each round, and the choice among them, the fastest of all.
    expect(contenders.slice(3)).toEqual(contenders.slice(0, 3));
    expect(contenders).toContain(choice.variant);
    expect(Math.min(...Object.values(choice.ms))).toBe(choice.ms[choice.variant]);
    dispatch.owned.forEach((buffer) => buffer.destroy());
  });

  test("a budget goes to the kernels of the most work first; a shape it cuts short runs its fastest variant timed, uncached", async () => {
    const gpu = await testGpu();
    // A small product first in the plan, a large one second.
    const product = async (m: number, k: number, n: number) => matmulForward(gpu.device, { x: await zeros([m, k]), w: await zeros([k, n]), y: await zeros([m, n]) });
    const plan = [await product(4, 8, 4), await product(64, 256, 64)];
    const timedFirst = async (budgetMs: number) => {
      const store = memoryStore();
      const notices: string[] = [];
      const shapes: string[] = [];
      const tuner = new Autotuner(gpu, 'cached', store, (m) => notices.push(m), budgetMs);
      await tuner.tune(plan, (p) => void (p.what.startsWith('matmul') && shapes.push(p.what.split(',')[0])));
      return { tuner, notices, shapes, store };
    };
    const whole = await timedFirst(Infinity);
    expect(whole.shapes[0]).toBe('matmul.wgsl:forward M=64 N=64 K=256');
    expect(whole.tuner.choices.map((c) => [c.shape, c.from])).toEqual([
      ['M=4 N=4 K=8', 'timed'],
      ['M=64 N=64 K=256', 'timed'],
    ]);
    expect(whole.notices).toEqual([]);

    // Spent after the large product's first variant: that variant runs, for this build only; the small product keeps its default.
    const cut = await timedFirst(0.001);
    const [small, large] = cut.tuner.choices;
    expect([small.from, small.ms]).toEqual(['default', {}]);
    expect(large.from).toBe('partly timed');
    expect(Object.keys(large.ms)).toEqual([large.variant]);
    expect(await cut.store.read()).toBeNull();
    expect(cut.notices).toEqual([
      'autotune: the 0.000001 s budget is spent, the largest kernels first; 1 kernel shape keeps its default variant, and 1 kernel shape runs the fastest of the variants timed until the next build',
    ]);
    for (const dispatch of plan) dispatch.owned.forEach((buffer) => buffer.destroy());
  });
});
