// schedule.wgsl against the float64 reference: each schedule's rate at steps on
// both sides of its boundaries, at step 0 and far past its end, as the dispatch
// before each update writes it; the step count it keeps; and bad settings.
import { describe, expect, test } from 'vitest';
import { readTensor, writeTensor } from '../src/engine/buffers';
import { optimizerConfig } from '../src/engine/ops/optimizer';
import {
  cosineDecay,
  exponentialDecay,
  learningRateSchedule,
  learningRateStep,
  piecewiseConstantDecay,
  type LearningRateSchedule,
} from '../src/engine/ops/schedule';
import { learningRateAt } from '../src/reference/schedule';
import { expectClose, run, testGpu, zeros } from './helpers';

const cases: [LearningRateSchedule, number[]][] = [
  [exponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.96 }), [0, 1, 9, 10, 11, 99, 100, 101, 1000, 3001]],
  // The staircase floors step / decaySteps: flat within 10 steps, a drop at each multiple.
  [exponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.96, staircase: true }), [0, 1, 9, 10, 11, 19, 20, 21, 1000, 3001]],
  // Down to 2^-60 of the initial rate, held to its relative precision; and a rate that grows.
  [exponentialDecay({ initialLearningRate: 1, decaySteps: 1, decayRate: 0.5 }), [0, 1, 2, 13, 60]],
  [exponentialDecay({ initialLearningRate: 0.001, decaySteps: 3, decayRate: 1.5 }), [0, 2, 3, 4, 30]],
  // Keras' documentation's example: 1.0 up to step 100000, then 0.5, then 0.1 after 110000.
  [piecewiseConstantDecay({ boundaries: [100_000, 110_000], values: [1, 0.5, 0.1] }), [0, 99_999, 100_000, 100_001, 109_999, 110_000, 110_001, 2 ** 32 - 1]],
  // A boundary at 0: only step 0 gets the first value.
  [piecewiseConstantDecay({ boundaries: [0, 3, 4], values: [0.3, 0.2, 0.1, 0.05] }), [0, 1, 3, 4, 5]],
  [cosineDecay({ initialLearningRate: 0.1, decaySteps: 1000 }), [0, 1, 250, 500, 999, 1000, 1001, 50_000]],
  [cosineDecay({ initialLearningRate: 0.1, decaySteps: 1000, alpha: 0.1 }), [0, 1, 500, 999, 1000, 1001]],
  // Keras' example with warmup: from 0 up to 0.1 over 1000 steps, then the decay over 1000 more.
  [cosineDecay({ initialLearningRate: 0, decaySteps: 1000, warmupTarget: 0.1, warmupSteps: 1000 }), [0, 1, 500, 999, 1000, 1001, 1999, 2000, 2001, 10_000]],
  [cosineDecay({ initialLearningRate: 0.01, decaySteps: 7, alpha: 0.2, warmupTarget: 0.05, warmupSteps: 3 }), [0, 1, 2, 3, 4, 9, 10, 11]],
  // A warmup target with no warmup steps: the decay starts from the target at once.
  [cosineDecay({ initialLearningRate: 0.01, decaySteps: 5, warmupTarget: 0.05 }), [0, 1, 5, 6]],
];

const describeSchedule = ({ kind, ...settings }: LearningRateSchedule) => `${kind} ${JSON.stringify(settings)}`;

/**
 * Every rate to 1e-5 of itself, even near the end of a cosine decay to 0,
 * where the shader's sin² keeps the relative precision that Keras' 1 + cos(...)
 * would lose in float32.
 */
const TOLERANCE = { atol: 0, rtol: 1e-5 };

describe.each(cases.map(([schedule, steps]) => [describeSchedule(schedule), schedule, steps] as const))('%s', (_, schedule, steps) => {
  test(`the rate at steps ${steps.join(', ')}, and the step counted`, async () => {
    const { device } = await testGpu();
    const step = await zeros([1], 'step', 'u32');
    const learningRate = await zeros([1], 'learning rate');
    const advance = await learningRateStep(device, schedule, { step, learningRate });
    const inEffect = await learningRateStep(device, schedule, { step, learningRate }, false);
    const got: number[] = [];
    for (const s of steps) {
      for (const [dispatch, counted] of [
        [inEffect, s],
        [advance, s + 1],
      ] as const) {
        writeTensor(device, step, Uint32Array.of(s));
        writeTensor(device, learningRate, Float32Array.of(NaN));
        await run(dispatch);
        expect((await readTensor(device, step))[0], `step after ${dispatch.kernel.name} at step ${s}`).toBe(counted % 2 ** 32);
        got.push((await readTensor(device, learningRate))[0]);
      }
    }
    const want = steps.flatMap((s) => [learningRateAt(schedule, s), learningRateAt(schedule, s)]);
    expectClose(describeSchedule(schedule), got, want, TOLERANCE);
  });
});

describe('piecewiseConstantDecay', () => {
  test('gives each value exactly, as float32', async () => {
    const { device } = await testGpu();
    const schedule = piecewiseConstantDecay({ boundaries: [2, 4], values: [0.1, 0.01, 0.001] });
    const step = await zeros([1], 'step', 'u32');
    const learningRate = await zeros([1], 'learning rate');
    const dispatch = await learningRateStep(device, schedule, { step, learningRate });
    const got: number[] = [];
    for (let s = 0; s < 7; s++) {
      await run(dispatch);
      got.push((await readTensor(device, learningRate))[0]);
    }
    expect(got).toEqual([0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001].map(Math.fround));
  });
});

describe('the constant rate', () => {
  test('counts the step and leaves the rate as written', async () => {
    const { device } = await testGpu();
    const step = await zeros([1], 'step', 'u32');
    const learningRate = await zeros([1], 'learning rate');
    writeTensor(device, learningRate, Float32Array.of(0.25));
    const dispatch = await learningRateStep(device, 0.25, { step, learningRate });
    for (let s = 0; s < 3; s++) await run(dispatch);
    expect([(await readTensor(device, step))[0], (await readTensor(device, learningRate))[0]]).toEqual([3, 0.25]);
    await expect(learningRateStep(device, 0.25, { step, learningRate }, false)).rejects.toThrow('learningRate: a constant rate has nothing to compute');
  });
});

describe('schedule errors', () => {
  test.each([
    ['cosineDecay(): decaySteps must be a positive integer, got 0', () => cosineDecay({ initialLearningRate: 0.1, decaySteps: 0 })],
    ['cosineDecay(): decaySteps must be a positive integer, got 2.5', () => cosineDecay({ initialLearningRate: 0.1, decaySteps: 2.5 })],
    ['cosineDecay(): warmupSteps must be a non-negative integer, got -1', () => cosineDecay({ initialLearningRate: 0.1, decaySteps: 10, warmupTarget: 1, warmupSteps: -1 })],
    ['cosineDecay(): alpha must be a number in [0, 1], got 2', () => cosineDecay({ initialLearningRate: 0.1, decaySteps: 10, alpha: 2 })],
    ['cosineDecay(): warmupTarget must be a finite number >= 0, got -1', () => cosineDecay({ initialLearningRate: 0.1, decaySteps: 10, warmupTarget: -1 })],
    ['exponentialDecay(): decaySteps must be below 2^31, got 4294967296', () => exponentialDecay({ initialLearningRate: 0.1, decaySteps: 2 ** 32, decayRate: 0.5 })],
    ['exponentialDecay(): initialLearningRate must be a finite number >= 0, got NaN', () => exponentialDecay({ initialLearningRate: NaN, decaySteps: 1, decayRate: 0.5 })],
    ['exponentialDecay(): decayRate must be a positive finite number, got 0', () => exponentialDecay({ initialLearningRate: 0.1, decaySteps: 1, decayRate: 0 })],
    ['exponentialDecay(): decaySteps must be a positive integer, got undefined', () => exponentialDecay({ initialLearningRate: 0.1, decayRate: 0.5 } as never)],
    ['exponentialDecay(): staircase must be true or false, got 1', () => exponentialDecay({ initialLearningRate: 0.1, decaySteps: 1, decayRate: 0.5, staircase: 1 as never })],
    [
      "exponentialDecay(): no setting named 'decay_steps' (it has: initialLearningRate, decaySteps, decayRate, staircase)",
      () => exponentialDecay({ initialLearningRate: 0.1, decay_steps: 1, decayRate: 0.5 } as never),
    ],
    ['piecewiseConstantDecay(): values must hold one more value than boundaries (3), got [1,0.5]', () => piecewiseConstantDecay({ boundaries: [1, 2], values: [1, 0.5] })],
    ['piecewiseConstantDecay(): boundaries must be a list of at least one step, got []', () => piecewiseConstantDecay({ boundaries: [], values: [1] })],
    ['piecewiseConstantDecay(): boundaries must be increasing integers from 0 to 2^32 - 1 (steps), got [5,5]', () => piecewiseConstantDecay({ boundaries: [5, 5], values: [1, 0.5, 0.1] })],
    ['piecewiseConstantDecay(): values[1] must be a finite number >= 0, got -0.5', () => piecewiseConstantDecay({ boundaries: [5], values: [1, -0.5] })],
    ["learningRate: unknown schedule 'linearDecay' (known: exponentialDecay, piecewiseConstantDecay, cosineDecay)", () => learningRateSchedule('linearDecay' as 'cosineDecay', {})],
    // Through an optimizer's settings, as JSON gives them.
    ['cosineDecay(): decaySteps must be a positive integer, got 0', () => optimizerConfig('adam', { learningRate: { kind: 'cosineDecay', initialLearningRate: 0.1, decaySteps: 0 } as never })],
  ])('%s', (message, make) => {
    expect(make).toThrow(message);
  });

  test('a schedule in a config is completed with its defaults, in a fixed order', () => {
    const config = optimizerConfig('sgd', { learningRate: { decaySteps: 10, kind: 'cosineDecay', initialLearningRate: 0.1 } as never });
    expect(JSON.stringify(config.learningRate)).toBe('{"kind":"cosineDecay","initialLearningRate":0.1,"decaySteps":10,"alpha":0,"warmupTarget":null,"warmupSteps":0}');
  });
});
