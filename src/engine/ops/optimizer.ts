// Optimizer updates (SGD, SGD with momentum or Nesterov momentum, RMSprop,
// Adam, AdamW) with Keras 3's formulas and defaults, applied in one dispatch to
// a model's parameters held in one flat buffer, after the dispatch that counts
// the step and writes its learning rate (schedule.ts) and, when asked for, the
// gradients' clipping (clip.ts).
import source from '../../shaders/optimizer.wgsl?raw';
import { bufferRange, createTensor, expectTensor, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, type Dispatch, type Shader } from '../pipelines';
import { checkClipping, clipGradients, CLIPPING_NAMES, type Clipping, type Variable } from './clip';
import { checkLearningRate, learningRateStep, type LearningRate } from './schedule';

const shader: Shader = { file: 'optimizer.wgsl', source };

/** Invocations per workgroup of an update: the most every WebGPU device allows, for a pass over long buffers. */
const UPDATE_WORKGROUP_SIZE = 256;

/** Per parameter: FLOPs, and floats read plus written (parameter, gradient, state). */
const WORK: Record<OptimizerKind, { flops: number; floats: number }> = {
  sgd: { flops: 2, floats: 3 },
  momentum: { flops: 4, floats: 5 },
  nesterov: { flops: 6, floats: 5 },
  rmsprop: { flops: 9, floats: 5 },
  adam: { flops: 14, floats: 7 },
  adamw: { flops: 17, floats: 7 },
};

/** What every optimizer takes: a learning rate (a number or a schedule), and at most one way to clip the gradients. */
type Common = { learningRate: LearningRate } & Clipping;

export type OptimizerConfig =
  | ({ kind: 'sgd' } & Common)
  | ({ kind: 'momentum'; momentum: number } & Common)
  | ({ kind: 'nesterov'; momentum: number } & Common)
  | ({ kind: 'rmsprop'; rho: number; epsilon: number } & Common)
  | ({ kind: 'adam'; beta1: number; beta2: number; epsilon: number } & Common)
  | ({ kind: 'adamw'; weightDecay: number; beta1: number; beta2: number; epsilon: number } & Common);

export type OptimizerKind = OptimizerConfig['kind'];
type ConfigOf<K extends OptimizerKind> = Extract<OptimizerConfig, { kind: K }>;

/**
 * Keras 3's defaults; SGD with momentum, Nesterov's or not, takes SGD's
 * learning rate and the customary momentum 0.9.
 */
const DEFAULTS: { [K in OptimizerKind]: ConfigOf<K> } = {
  sgd: { kind: 'sgd', learningRate: 0.01 },
  momentum: { kind: 'momentum', learningRate: 0.01, momentum: 0.9 },
  nesterov: { kind: 'nesterov', learningRate: 0.01, momentum: 0.9 },
  rmsprop: { kind: 'rmsprop', learningRate: 0.001, rho: 0.9, epsilon: 1e-7 },
  adam: { kind: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  adamw: { kind: 'adamw', learningRate: 0.001, weightDecay: 0.004, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
};

/**
 * The state each optimizer keeps besides the step count and the learning
 * rate, in the order `optimizerUpdate` takes it: tensors as long as the
 * parameters, zero at the start. The names are the shader's bindings.
 */
const STATE_NAMES: { [K in OptimizerKind]: readonly string[] } = {
  sgd: [],
  momentum: ['velocity'],
  nesterov: ['velocity'],
  rmsprop: ['mean_square'],
  adam: ['first_moment', 'second_moment'],
  adamw: ['first_moment', 'second_moment'],
};

/** The optimizers by name, in the order `--optimizer` lists them. */
export const OPTIMIZER_KINDS = Object.keys(DEFAULTS) as OptimizerKind[];

function checkKind(kind: string, where: string): asserts kind is OptimizerKind {
  if (!Object.hasOwn(DEFAULTS, kind)) {
    throw new Error(`${where}: unknown optimizer '${kind}' (known: ${Object.keys(DEFAULTS).join(', ')})`);
  }
}

function checkConfig(config: OptimizerConfig): void {
  checkKind(config.kind, 'optimizer');
  const fail = (message: string) => {
    throw new Error(`${config.kind}(): ${message}`);
  };
  checkLearningRate(config.learningRate, config.kind);
  checkClipping(config, `${config.kind}()`);
  const decay = (name: string, value: number) => {
    if (!(value >= 0 && value < 1)) fail(`${name} is ${value} but must be in [0, 1)`);
  };
  const epsilon = (value: number) => {
    if (!(value >= 0 && Number.isFinite(value))) fail(`epsilon is ${value} but must be finite and >= 0`);
  };
  if (config.kind === 'momentum' || config.kind === 'nesterov') decay('momentum', config.momentum);
  if (config.kind === 'rmsprop') {
    decay('rho', config.rho);
    epsilon(config.epsilon);
  }
  if (config.kind === 'adam' || config.kind === 'adamw') {
    decay('beta1', config.beta1);
    decay('beta2', config.beta2);
    epsilon(config.epsilon);
  }
  if (config.kind === 'adamw' && !(config.weightDecay >= 0 && Number.isFinite(config.weightDecay))) {
    fail(`weightDecay is ${config.weightDecay} but must be finite and >= 0`);
  }
}

/**
 * An optimizer's Keras defaults, with some settings overridden, checked:
 * `optimizerConfig('adam', { learningRate: cosineDecay({ ... }), clipnorm: 1 })`.
 * The settings come in a fixed order, so that equal configs are equal as JSON.
 */
export function optimizerConfig<K extends OptimizerKind>(kind: K, overrides: Partial<Omit<ConfigOf<K>, 'kind'>> = {}): ConfigOf<K> {
  checkKind(kind, 'optimizerConfig()');
  const defaults = DEFAULTS[kind];
  const given = Object.entries(overrides).filter(([, value]) => value !== undefined);
  for (const [name] of given) {
    if (name === 'kind' || !(Object.hasOwn(defaults, name) || (CLIPPING_NAMES as readonly string[]).includes(name))) {
      const settings = [...Object.keys(defaults).filter((key) => key !== 'kind'), ...CLIPPING_NAMES];
      throw new Error(`${kind}(): no setting named '${name}' (it has: ${settings.join(', ')})`);
    }
  }
  const config = { ...defaults, ...Object.fromEntries(given) } as ConfigOf<K>;
  config.learningRate = checkLearningRate(config.learningRate, kind);
  checkConfig(config);
  return config;
}

/** An optimizer by name (with Keras' defaults), or a config, checked and completed with the defaults it leaves out. */
export function toOptimizerConfig(optimizer: OptimizerKind | OptimizerConfig): OptimizerConfig {
  if (typeof optimizer === 'string') return optimizerConfig(optimizer);
  const { kind, ...settings } = optimizer;
  return optimizerConfig(kind, settings);
}

/** The names of an optimizer's state tensors, in the order `optimizerUpdate` takes them. */
export function stateNames(kind: OptimizerKind): readonly string[] {
  checkKind(kind, 'stateNames()');
  return STATE_NAMES[kind];
}

/** How many state tensors an optimizer keeps (the step count and the learning rate are passed apart). */
export function stateSize(kind: OptimizerKind): number {
  return stateNames(kind).length;
}

// β = 0 has no logarithm; -100 already makes float32's 1 - β^t exactly 1.
const logBeta = (beta: number) => Math.max(Math.log(beta), -100);

/** The shader's `params`; each entry point reads only its own members, the rest are 0. */
function shaderParams(config: OptimizerConfig, count: number): Record<string, number> {
  const unused = { momentum: 0, rho: 0, one_minus_rho: 0, epsilon: 0, one_minus_beta1: 0, one_minus_beta2: 0, log_beta1: 0, log_beta2: 0, weight_decay: 0 };
  const common = { ...unused, count };
  switch (config.kind) {
    case 'sgd':
      return common;
    case 'momentum':
    case 'nesterov':
      return { ...common, momentum: config.momentum };
    case 'rmsprop':
      return { ...common, rho: config.rho, one_minus_rho: 1 - config.rho, epsilon: config.epsilon };
    case 'adam':
    case 'adamw':
      return {
        ...common,
        epsilon: config.epsilon,
        one_minus_beta1: 1 - config.beta1,
        one_minus_beta2: 1 - config.beta2,
        log_beta1: logBeta(config.beta1),
        log_beta2: logBeta(config.beta2),
        weight_decay: config.kind === 'adamw' ? config.weightDecay : 0,
      };
  }
}

/**
 * The ranges [start, end) AdamW updates, as [start, end] pairs: the buffer
 * but for the variables that are not trained (the padding between variables
 * holds zeros, which neither the decay nor a zero gradient change); one empty
 * range where nothing is trained, as the binding needs one.
 */
function trainedRanges(variables: readonly Variable[], count: number): number[] {
  const ranges: number[] = [];
  let start = 0;
  for (const v of [...variables].filter((v) => v.trainable === false).sort((a, b) => a.start - b.start)) {
    if (v.start > start) ranges.push(start, v.start);
    start = Math.max(start, v.start + v.length);
  }
  if (count > start) ranges.push(start, count);
  return ranges.length > 0 ? ranges : [0, 0];
}

/** What an update works on: tensors as long as the parameters, and the two scalars training keeps on the GPU. */
export interface OptimizerTensors {
  param: Tensor;
  grad: Tensor;
  /** The optimizer's state, in `stateNames` order. */
  state: readonly Tensor[];
  /** One u32: the updates made so far (Keras' optimizer.iterations), 0 at the start; counted by the update. */
  step: Tensor;
  /**
   * One f32: the learning rate. With a number as the config's rate, the value
   * written there (which may be changed between steps); with a schedule, each
   * update writes its own rate there.
   */
  learningRate: Tensor;
  /** The parameter tensors in `param`, for clipnorm and for what AdamW leaves out; by default one, the whole buffer. */
  variables?: readonly Variable[];
}

/**
 * One optimizer step over `param` from `grad`, updating `state` in place: the
 * gradients' clipping (if the config asks for it), the step count and the
 * step's learning rate (learningRateStep), then the update, to be recorded in order.
 */
export async function optimizerUpdate(device: GPUDevice, config: OptimizerConfig, tensors: OptimizerTensors): Promise<Dispatch[]> {
  checkConfig(config);
  const { kind } = config;
  const names = STATE_NAMES[kind];
  if (tensors.state.length !== names.length) {
    throw new Error(`${kind}(): ${tensors.state.length} state tensors given but ${kind} keeps ${names.length} (${names.join(', ') || 'none'})`);
  }
  const count = sizeOf(tensors.param.shape);
  const named: [string, Tensor][] = [['param', tensors.param], ['grad', tensors.grad], ...names.map((name, i): [string, Tensor] => [name, tensors.state[i]])];
  const buffers: Record<string, GPUBufferBinding> = {};
  for (const [name, tensor] of named) {
    if (tensor.dtype !== 'f32') throw new Error(`${kind}(): ${name} is ${tensor.dtype} but must be f32`);
    const length = sizeOf(tensor.shape);
    if (length !== count) throw new Error(`${kind}(): ${name} has ${length} elements but param has ${count}`);
    buffers[name] = bufferRange(tensor);
  }
  expectTensor(kind, 'step', tensors.step, [1], 'u32');
  expectTensor(kind, 'learningRate', tensors.learningRate, [1]);
  buffers.learning_rate = bufferRange(tensors.learningRate);
  // Adam's t.
  if (kind === 'adam' || kind === 'adamw') buffers.step = bufferRange(tensors.step);
  const variables = tensors.variables ?? [{ start: 0, length: count }];
  const scratch: GPUBuffer[] = [];
  if (kind === 'adamw') {
    const ranges = trainedRanges(variables, count);
    const trained = createTensor(device, [ranges.length / 2, 2], { label: 'adamw trained ranges', dtype: 'u32', data: ranges });
    buffers.trained = bufferRange(trained);
    scratch.push(trained.buffer);
  }
  const [clip, rate, update] = await Promise.all([
    clipGradients(device, config, { grad: tensors.grad, variables }),
    learningRateStep(device, config.learningRate, { step: tensors.step, learningRate: tensors.learningRate }),
    prepareDispatch(device, shader, kind, {
      constants: { WORKGROUP_SIZE: UPDATE_WORKGROUP_SIZE },
      params: shaderParams(config, count),
      buffers,
      scratch,
      grid: { strided: count },
      work: { flops: WORK[kind].flops * count, bytes: 4 * WORK[kind].floats * count },
    }),
  ]);
  return [...clip, rate, update];
}
