// Learning-rate schedules, Keras 3's (keras.optimizers.schedules): plain JSON
// settings, checked, and the dispatch that writes each update's rate on the GPU
// from the step counter and counts the update (schedule.wgsl).
import source from '../../shaders/schedule.wgsl?raw';
import { bufferRange, createTensor, expectTensor, type Tensor } from '../buffers';
import { prepareDispatch, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'schedule.wgsl', source };

export interface ExponentialDecay {
  kind: 'exponentialDecay';
  initialLearningRate: number;
  decaySteps: number;
  decayRate: number;
  staircase: boolean;
}

export interface PiecewiseConstantDecay {
  kind: 'piecewiseConstantDecay';
  boundaries: number[];
  values: number[];
}

export interface CosineDecay {
  kind: 'cosineDecay';
  initialLearningRate: number;
  decaySteps: number;
  alpha: number;
  /** Null for no warmup: the decay starts from initialLearningRate. */
  warmupTarget: number | null;
  warmupSteps: number;
}

export type LearningRateSchedule = ExponentialDecay | PiecewiseConstantDecay | CosineDecay;
/** An optimizer's learning rate: a number, or a schedule of the step. */
export type LearningRate = number | LearningRateSchedule;

type ScheduleKind = LearningRateSchedule['kind'];
type Settings<K extends ScheduleKind> = Omit<Extract<LearningRateSchedule, { kind: K }>, 'kind'>;

/** Each schedule's settings in order, with Keras' defaults (undefined: required). */
const SETTINGS: { [K in ScheduleKind]: { [S in keyof Settings<K>]-?: Settings<K>[S] | undefined } } = {
  exponentialDecay: { initialLearningRate: undefined, decaySteps: undefined, decayRate: undefined, staircase: false },
  piecewiseConstantDecay: { boundaries: undefined, values: undefined },
  cosineDecay: { initialLearningRate: undefined, decaySteps: undefined, alpha: 0, warmupTarget: null, warmupSteps: 0 },
};

/** The step is a u32 on the GPU, and decaySteps + warmupSteps must fit one too. */
const MAX_STEPS = 2 ** 31;

function checkSchedule(schedule: LearningRateSchedule): void {
  const fail = (message: string): never => {
    throw new Error(`${schedule.kind}(): ${message}`);
  };
  const rate = (name: string, value: unknown) => {
    if (typeof value !== 'number' || !(value >= 0 && Number.isFinite(value))) fail(`${name} must be a finite number >= 0, got ${value}`);
  };
  const steps = (name: string, value: unknown, least: number) => {
    if (!Number.isInteger(value) || (value as number) < least) fail(`${name} must be a ${least > 0 ? 'positive' : 'non-negative'} integer, got ${value}`);
    if ((value as number) >= MAX_STEPS) fail(`${name} must be below 2^31, got ${value}`);
  };
  switch (schedule.kind) {
    case 'exponentialDecay':
      rate('initialLearningRate', schedule.initialLearningRate);
      steps('decaySteps', schedule.decaySteps, 1);
      if (typeof schedule.decayRate !== 'number' || !(schedule.decayRate > 0 && Number.isFinite(schedule.decayRate))) {
        fail(`decayRate must be a positive finite number, got ${schedule.decayRate}`);
      }
      if (typeof schedule.staircase !== 'boolean') fail(`staircase must be true or false, got ${schedule.staircase}`);
      break;
    case 'piecewiseConstantDecay': {
      const { boundaries, values } = schedule;
      if (!Array.isArray(boundaries) || boundaries.length === 0) fail(`boundaries must be a list of at least one step, got ${JSON.stringify(boundaries)}`);
      if (!Array.isArray(values) || values.length !== boundaries.length + 1) {
        fail(`values must hold one more value than boundaries (${boundaries.length + 1}), got ${JSON.stringify(values)}`);
      }
      boundaries.forEach((b, i) => {
        if (!Number.isInteger(b) || b < 0 || b >= 2 ** 32 || (i > 0 && b <= boundaries[i - 1])) {
          fail(`boundaries must be increasing integers from 0 to 2^32 - 1 (steps), got ${JSON.stringify(boundaries)}`);
        }
      });
      values.forEach((v, i) => rate(`values[${i}]`, v));
      break;
    }
    case 'cosineDecay':
      rate('initialLearningRate', schedule.initialLearningRate);
      steps('decaySteps', schedule.decaySteps, 1);
      if (typeof schedule.alpha !== 'number' || !(schedule.alpha >= 0 && schedule.alpha <= 1)) fail(`alpha must be a number in [0, 1], got ${schedule.alpha}`);
      if (schedule.warmupTarget !== null) rate('warmupTarget', schedule.warmupTarget);
      steps('warmupSteps', schedule.warmupSteps, 0);
      break;
  }
}

/**
 * A schedule of `kind` from its settings, Keras' defaults filled in, in a fixed
 * order (so two equal schedules are equal as JSON), checked.
 */
export function learningRateSchedule<K extends ScheduleKind>(kind: K, settings: Partial<Settings<K>>): Extract<LearningRateSchedule, { kind: K }> {
  if (!Object.hasOwn(SETTINGS, kind)) throw new Error(`learningRate: unknown schedule '${kind}' (known: ${Object.keys(SETTINGS).join(', ')})`);
  const defaults = SETTINGS[kind] as Record<string, unknown>;
  for (const name of Object.keys(settings)) {
    if (name !== 'kind' && !Object.hasOwn(defaults, name)) throw new Error(`${kind}(): no setting named '${name}' (it has: ${Object.keys(defaults).join(', ')})`);
  }
  const given = settings as Record<string, unknown>;
  const schedule = { kind, ...Object.fromEntries(Object.entries(defaults).map(([name, value]) => [name, given[name] ?? value])) } as unknown as Extract<LearningRateSchedule, { kind: K }>;
  checkSchedule(schedule);
  return schedule;
}

type Options<K extends ScheduleKind, Optional extends keyof Settings<K>> = Omit<Settings<K>, Optional> & Partial<Pick<Settings<K>, Optional>>;

/** Keras' ExponentialDecay: initialLearningRate · decayRate^(step / decaySteps), the exponent floored with `staircase`. */
export function exponentialDecay(options: Options<'exponentialDecay', 'staircase'>): ExponentialDecay {
  return learningRateSchedule('exponentialDecay', options);
}

/** Keras' PiecewiseConstantDecay: values[i] while boundaries[i - 1] < step <= boundaries[i]. */
export function piecewiseConstantDecay(options: Settings<'piecewiseConstantDecay'>): PiecewiseConstantDecay {
  return learningRateSchedule('piecewiseConstantDecay', options);
}

/**
 * Keras' CosineDecay: with `warmupTarget`, a linear rise from
 * initialLearningRate to it over `warmupSteps`, then a cosine decay over
 * `decaySteps` from it (without, from initialLearningRate) to `alpha` times that.
 */
export function cosineDecay(options: Options<'cosineDecay', 'alpha' | 'warmupTarget' | 'warmupSteps'>): CosineDecay {
  return learningRateSchedule('cosineDecay', options);
}

/** A learning rate given to an optimizer, checked: a positive finite number, or a schedule (put in its fixed order). */
export function checkLearningRate(learningRate: LearningRate, optimizer: string): LearningRate {
  if (typeof learningRate === 'object' && learningRate !== null) {
    const { kind, ...settings } = learningRate;
    return learningRateSchedule(kind, settings);
  }
  if (typeof learningRate !== 'number' || !(learningRate > 0 && Number.isFinite(learningRate))) {
    throw new Error(`${optimizer}(): learningRate is ${learningRate} but must be positive and finite`);
  }
  return learningRate;
}

const SNAKE_CASE: Record<ScheduleKind, string> = {
  exponentialDecay: 'exponential_decay',
  piecewiseConstantDecay: 'piecewise_constant_decay',
  cosineDecay: 'cosine_decay',
};

/** The shader's `params` for a schedule: its own members, the rest 0. */
function scheduleParams(schedule: LearningRateSchedule, advance: boolean): Record<string, number> {
  const unused = {
    initial_rate: 0,
    decay_steps: 0,
    log2_decay_rate: 0,
    staircase: 0,
    decay_from: 0,
    alpha: 0,
    one_minus_alpha: 0,
    warmup_steps: 0,
    warmup_rise: 0,
  };
  const common = { ...unused, advance: advance ? 1 : 0 };
  switch (schedule.kind) {
    case 'exponentialDecay':
      return {
        ...common,
        initial_rate: schedule.initialLearningRate,
        decay_steps: schedule.decaySteps,
        log2_decay_rate: Math.log2(schedule.decayRate),
        staircase: schedule.staircase ? 1 : 0,
      };
    case 'piecewiseConstantDecay':
      return common;
    case 'cosineDecay': {
      const warmup = schedule.warmupTarget !== null;
      return {
        ...common,
        initial_rate: schedule.initialLearningRate,
        decay_steps: schedule.decaySteps,
        decay_from: warmup ? schedule.warmupTarget! : schedule.initialLearningRate,
        alpha: schedule.alpha,
        one_minus_alpha: 1 - schedule.alpha,
        warmup_steps: warmup ? schedule.warmupSteps : 0,
        warmup_rise: warmup ? schedule.warmupTarget! - schedule.initialLearningRate : 0,
      };
    }
  }
}

/**
 * The dispatch that starts each update: it counts the update in `step` (a u32,
 * Keras' optimizer.iterations) and, with a schedule, writes the update's rate
 * into `learningRate` (one f32) from the step. With a number, the rate is the
 * one `learningRate` holds. With `advance` false, a schedule's dispatch writes
 * the rate in effect at `step` (the next update's) and counts nothing.
 */
export async function learningRateStep(
  device: GPUDevice,
  rate: LearningRate,
  tensors: { step: Tensor; learningRate: Tensor },
  advance = true,
): Promise<Dispatch> {
  expectTensor('learningRate', 'step', tensors.step, [1], 'u32');
  expectTensor('learningRate', 'learningRate', tensors.learningRate, [1]);
  rate = checkLearningRate(rate, 'learningRate');
  if (typeof rate === 'number') {
    if (!advance) throw new Error('learningRate: a constant rate has nothing to compute; it is the value written');
    return prepareDispatch(device, shader, 'constant', { buffers: { step: bufferRange(tensors.step) }, grid: { workgroups: [1] }, work: { flops: 1, bytes: 8 } });
  }
  const buffers: Record<string, GPUBufferBinding> = { step: bufferRange(tensors.step), learning_rate: bufferRange(tensors.learningRate) };
  const scratch: GPUBuffer[] = [];
  if (rate.kind === 'piecewiseConstantDecay') {
    const boundaries = createTensor(device, [rate.boundaries.length], { label: 'piecewiseConstantDecay boundaries', dtype: 'u32', data: rate.boundaries });
    const values = createTensor(device, [rate.values.length], { label: 'piecewiseConstantDecay values', data: rate.values });
    buffers.boundaries = bufferRange(boundaries);
    buffers.values = bufferRange(values);
    scratch.push(boundaries.buffer, values.buffer);
  }
  // One invocation: the step read and counted, a rate written, from a dozen or so scalar operations (a boundary each, for piecewise).
  const work = { flops: 16 + (rate.kind === 'piecewiseConstantDecay' ? rate.boundaries.length : 0), bytes: 12 + 4 * (rate.kind === 'piecewiseConstantDecay' ? 2 * rate.boundaries.length + 1 : 0) };
  return prepareDispatch(device, shader, SNAKE_CASE[rate.kind], { params: scheduleParams(rate, advance), buffers, scratch, grid: { workgroups: [1] }, work });
}
