// optimizer.wgsl against the float64 reference: several steps of each optimizer,
// prepared once and run again and again with new gradients, as training runs them.
import { describe, expect, test } from 'vitest';
import { readTensor, writeTensor } from '../src/engine/buffers';
import { optimizerConfig, optimizerUpdate, stateNames, type OptimizerConfig } from '../src/engine/ops/optimizer';
import * as reference from '../src/reference/optimizer';
import { expectClose, randomArray, run, seededRandom, testGpu, upload, zeros, type Tolerance } from './helpers';

const configs: OptimizerConfig[] = [
  optimizerConfig('sgd'),
  optimizerConfig('sgd', { learningRate: 0.5 }),
  optimizerConfig('momentum'),
  optimizerConfig('momentum', { learningRate: 0.3, momentum: 0.5 }),
  optimizerConfig('rmsprop'),
  // A large ε tells sqrt(s + ε), Keras 3's, from sqrt(s) + ε.
  optimizerConfig('rmsprop', { learningRate: 0.1, rho: 0.5, epsilon: 0.01 }),
  optimizerConfig('adam'),
  // Steps as large as the parameters make errors in the bias corrections show.
  optimizerConfig('adam', { learningRate: 0.1 }),
  // β1 = 0 has no logarithm, which the shader's 1 - β^t works from.
  optimizerConfig('adam', { learningRate: 0.1, beta1: 0, beta2: 0.8, epsilon: 1e-3 }),
];

function describeConfig(config: OptimizerConfig): string {
  const settings = Object.entries(config).filter(([name]) => name !== 'kind');
  return [config.kind, ...settings.map(([name, value]) => `${name}=${value}`)].join(' ');
}

function maxAbs(values: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]));
  return max;
}

/**
 * Float32 against float64, with the absolute part scaled to each tensor's
 * largest value: a state of size 1e-3 is held as tightly as parameters of size 1.
 */
function tolerance(want: ArrayLike<number>): Tolerance {
  return { atol: 1e-6 * maxAbs(want), rtol: 1e-5 };
}

/** Runs `steps` updates on the GPU and in the reference, and compares parameters, state and step count. */
async function checkSteps(config: OptimizerConfig, n: number, steps: number): Promise<void> {
  const { device } = await testGpu();
  const name = `${describeConfig(config)} n=${n} steps=${steps}`;
  const random = seededRandom(n + steps);
  const initial = randomArray(random, n);
  const param = await upload([n], initial, 'param');
  const grad = await zeros([n], 'grad');
  const names = stateNames(config.kind);
  const state = await Promise.all(names.map((stateName) => zeros([n], stateName)));
  const step = config.kind === 'adam' ? await zeros([1], 'step', 'u32') : undefined;
  const dispatches = await optimizerUpdate(device, config, { param, grad, state, step });

  const wantParam = Float64Array.from(initial);
  const wantState = names.map(() => new Float64Array(n));
  for (let t = 1; t <= steps; t++) {
    // Gradients change scale from step to step (1, 2, 3, 4, 1, ...), so the state's history matters.
    const scale = 1 + ((t - 1) % 4);
    const g = randomArray(random, n, -scale, scale);
    writeTensor(device, grad, Float32Array.from(g));
    await run(dispatches);
    reference.optimizerStep(config, wantParam, g, wantState, t);
  }

  expectClose(`${name} param`, await readTensor(device, param), wantParam, tolerance(wantParam));
  for (const [i, stateName] of names.entries()) {
    expectClose(`${name} ${stateName}`, await readTensor(device, state[i]), wantState[i], tolerance(wantState[i]));
  }
  if (step) expect(Array.from(await readTensor(device, step))).toEqual([steps]);
}

// 250,000 is about a whole model's parameters; 1000 and 1 are not multiples of the workgroup size.
const sizes = [1, 1000, 250_000];

describe.each(configs.map((config) => [describeConfig(config), config] as const))('%s', (_, config) => {
  test.each(sizes)('n=%i, 3 steps', (n) => checkSteps(config, n, 3));
});

describe('optimizer long runs', () => {
  // Past the 262,144 invocations of the largest grid, each invocation updates two elements.
  test('adam n=300000, 3 steps walks the buffer in strides', () => checkSteps(optimizerConfig('adam', { learningRate: 0.1 }), 300_000, 3));
  // Enough steps for β2^t to move well away from 1.
  test('adam n=1000, 200 steps', () => checkSteps(optimizerConfig('adam', { learningRate: 0.01 }), 1000, 200));
  test('an update has a thread per parameter up to 262,144 threads: 1024 workgroups of 256', async () => {
    const { device } = await testGpu();
    const workgroups = async (n: number) => {
      const [update] = await optimizerUpdate(device, optimizerConfig('sgd'), { param: await zeros([n]), grad: await zeros([n]), state: [] });
      return update.workgroups;
    };
    expect(await workgroups(1000)).toEqual([4, 1, 1]);
    expect(await workgroups(300_000)).toEqual([1024, 1, 1]);
  });
});

describe('optimizer errors', () => {
  test.each([
    ['sgd(): learningRate is 0 but must be positive and finite', () => optimizerConfig('sgd', { learningRate: 0 })],
    ['sgd(): learningRate is Infinity but must be positive and finite', () => optimizerConfig('sgd', { learningRate: Infinity })],
    ['adam(): learningRate is NaN but must be positive and finite', () => optimizerConfig('adam', { learningRate: NaN })],
    ['momentum(): momentum is 1 but must be in [0, 1)', () => optimizerConfig('momentum', { momentum: 1 })],
    ['rmsprop(): rho is -0.1 but must be in [0, 1)', () => optimizerConfig('rmsprop', { rho: -0.1 })],
    ['rmsprop(): epsilon is -1e-7 but must be finite and >= 0', () => optimizerConfig('rmsprop', { epsilon: -1e-7 })],
    ['adam(): beta1 is 1.5 but must be in [0, 1)', () => optimizerConfig('adam', { beta1: 1.5 })],
    ['adam(): beta2 is 1 but must be in [0, 1)', () => optimizerConfig('adam', { beta2: 1 })],
    ["optimizerConfig(): unknown optimizer 'adagrad' (known: sgd, momentum, rmsprop, adam)", () => optimizerConfig('adagrad' as 'sgd')],
    ["sgd(): no setting named 'momentum' (it has: learningRate)", () => optimizerConfig('sgd', { momentum: 0.9 } as object)],
  ])('%s', (message, make) => {
    expect(make).toThrow(message);
  });

  async function update(config: OptimizerConfig, lengths: { grad?: number; state?: number[]; step?: 'f32' | 'u32' | 'none' } = {}) {
    const { device } = await testGpu();
    const n = 6;
    const state = await Promise.all((lengths.state ?? stateNames(config.kind).map(() => n)).map((length) => zeros([length], 'state')));
    const stepType = lengths.step ?? (config.kind === 'adam' ? 'u32' : 'none');
    const step = stepType === 'none' ? undefined : await zeros([1], 'step', stepType);
    return optimizerUpdate(device, config, { param: await zeros([n], 'param'), grad: await zeros([lengths.grad ?? n], 'grad'), state, step });
  }

  test('a gradient of another length is named', async () => {
    await expect(update(optimizerConfig('sgd'), { grad: 5 })).rejects.toThrow('sgd(): grad has 5 elements but param has 6');
  });
  test('a state tensor of another length is named', async () => {
    await expect(update(optimizerConfig('adam'), { state: [6, 7] })).rejects.toThrow('adam(): second_moment has 7 elements but param has 6');
  });
  test('the wrong number of state tensors is named', async () => {
    await expect(update(optimizerConfig('adam'), { state: [6] })).rejects.toThrow(
      'adam(): 1 state tensors given but adam keeps 2 (first_moment, second_moment)',
    );
    await expect(update(optimizerConfig('sgd'), { state: [6] })).rejects.toThrow('sgd(): 1 state tensors given but sgd keeps 0 (none)');
  });
  test("Adam's step count must be given, as one u32", async () => {
    await expect(update(optimizerConfig('adam'), { step: 'none' })).rejects.toThrow(
      'adam(): no step tensor given; Adam keeps its step count t on the GPU',
    );
    await expect(update(optimizerConfig('adam'), { step: 'f32' })).rejects.toThrow('adam(): step must be a single u32 but is f32 [1]');
    await expect(update(optimizerConfig('rmsprop'), { step: 'u32' })).rejects.toThrow(
      'rmsprop(): keeps no step count, but a step tensor was given',
    );
  });
  test('a config built by hand is checked too', async () => {
    await expect(update({ kind: 'momentum', learningRate: 0.01, momentum: -1 })).rejects.toThrow(
      'momentum(): momentum is -1 but must be in [0, 1)',
    );
  });
});
