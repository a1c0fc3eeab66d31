// Optimizer updates (SGD, SGD with momentum, RMSprop, Adam) with Keras 3's
// formulas and defaults, applied in one dispatch to a model's parameters held in one flat buffer.
import source from '../../shaders/optimizer.wgsl?raw';
import { bufferRange, formatShape, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'optimizer.wgsl', source };

/** Invocations per workgroup of an update: the most every WebGPU device allows, for a pass over long buffers. */
const UPDATE_WORKGROUP_SIZE = 256;

/** Per parameter: FLOPs, and floats read plus written (parameter, gradient, state). */
const WORK: Record<OptimizerKind, { flops: number; floats: number }> = {
  sgd: { flops: 2, floats: 3 },
  momentum: { flops: 4, floats: 5 },
  rmsprop: { flops: 9, floats: 5 },
  adam: { flops: 14, floats: 7 },
};

export type OptimizerConfig =
  | { kind: 'sgd'; learningRate: number }
  | { kind: 'momentum'; learningRate: number; momentum: number }
  | { kind: 'rmsprop'; learningRate: number; rho: number; epsilon: number }
  | { kind: 'adam'; learningRate: number; beta1: number; beta2: number; epsilon: number };

export type OptimizerKind = OptimizerConfig['kind'];
type ConfigOf<K extends OptimizerKind> = Extract<OptimizerConfig, { kind: K }>;

/** Keras 3's defaults; SGD with momentum takes SGD's learning rate and the customary momentum 0.9. */
const DEFAULTS: { [K in OptimizerKind]: ConfigOf<K> } = {
  sgd: { kind: 'sgd', learningRate: 0.01 },
  momentum: { kind: 'momentum', learningRate: 0.01, momentum: 0.9 },
  rmsprop: { kind: 'rmsprop', learningRate: 0.001, rho: 0.9, epsilon: 1e-7 },
  adam: { kind: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
};

/**
 * The state each optimizer keeps besides Adam's step count, in the order
 * `optimizerUpdate` takes it: tensors as long as the parameters, zero at the
 * start. The names are the shader's bindings.
 */
const STATE_NAMES: { [K in OptimizerKind]: readonly string[] } = {
  sgd: [],
  momentum: ['velocity'],
  rmsprop: ['mean_square'],
  adam: ['first_moment', 'second_moment'],
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
  const { learningRate } = config;
  if (!(learningRate > 0 && Number.isFinite(learningRate))) fail(`learningRate is ${learningRate} but must be positive and finite`);
  const decay = (name: string, value: number) => {
    if (!(value >= 0 && value < 1)) fail(`${name} is ${value} but must be in [0, 1)`);
  };
  const epsilon = (value: number) => {
    if (!(value >= 0 && Number.isFinite(value))) fail(`epsilon is ${value} but must be finite and >= 0`);
  };
  if (config.kind === 'momentum') decay('momentum', config.momentum);
  if (config.kind === 'rmsprop') {
    decay('rho', config.rho);
    epsilon(config.epsilon);
  }
  if (config.kind === 'adam') {
    decay('beta1', config.beta1);
    decay('beta2', config.beta2);
    epsilon(config.epsilon);
  }
}

/** An optimizer's Keras defaults, with some settings overridden: `optimizerConfig('adam', { learningRate: 0.01 })`. */
export function optimizerConfig<K extends OptimizerKind>(kind: K, overrides: Partial<Omit<ConfigOf<K>, 'kind'>> = {}): ConfigOf<K> {
  checkKind(kind, 'optimizerConfig()');
  const defaults = DEFAULTS[kind];
  for (const name of Object.keys(overrides)) {
    if (name === 'kind' || !Object.hasOwn(defaults, name)) {
      const settings = Object.keys(defaults).filter((key) => key !== 'kind');
      throw new Error(`${kind}(): no setting named '${name}' (it has: ${settings.join(', ')})`);
    }
  }
  const config = { ...defaults, ...overrides };
  checkConfig(config);
  return config;
}

/** The names of an optimizer's state tensors, in the order `optimizerUpdate` takes them. */
export function stateNames(kind: OptimizerKind): readonly string[] {
  checkKind(kind, 'stateNames()');
  return STATE_NAMES[kind];
}

/** How many state tensors an optimizer keeps (Adam's step count is passed apart, as `step`). */
export function stateSize(kind: OptimizerKind): number {
  return stateNames(kind).length;
}

// β = 0 has no logarithm; -100 already makes float32's 1 - β^t exactly 1.
const logBeta = (beta: number) => Math.max(Math.log(beta), -100);

/** The shader's `params`; each entry point reads only its own members, the rest are 0. */
function shaderParams(config: OptimizerConfig, count: number): Record<string, number> {
  const unused = { momentum: 0, rho: 0, one_minus_rho: 0, epsilon: 0, one_minus_beta1: 0, one_minus_beta2: 0, log_beta1: 0, log_beta2: 0 };
  const common = { ...unused, count, learning_rate: config.learningRate };
  switch (config.kind) {
    case 'sgd':
      return common;
    case 'momentum':
      return { ...common, momentum: config.momentum };
    case 'rmsprop':
      return { ...common, rho: config.rho, one_minus_rho: 1 - config.rho, epsilon: config.epsilon };
    case 'adam':
      return {
        ...common,
        epsilon: config.epsilon,
        one_minus_beta1: 1 - config.beta1,
        one_minus_beta2: 1 - config.beta2,
        log_beta1: logBeta(config.beta1),
        log_beta2: logBeta(config.beta2),
      };
  }
}

/**
 * One optimizer step over `param` from `grad`, updating `state` (see `stateNames`)
 * in place; Adam also takes `step`, a single u32 holding t, zero at the start.
 * Adam returns two dispatches (t += 1, then the update), to be recorded in order.
 */
export async function optimizerUpdate(
  device: GPUDevice,
  config: OptimizerConfig,
  tensors: { param: Tensor; grad: Tensor; state: readonly Tensor[]; step?: Tensor },
): Promise<Dispatch[]> {
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
  if (kind === 'adam') {
    if (!tensors.step) throw new Error('adam(): no step tensor given; Adam keeps its step count t on the GPU');
    if (tensors.step.dtype !== 'u32' || sizeOf(tensors.step.shape) !== 1) {
      throw new Error(`adam(): step must be a single u32 but is ${tensors.step.dtype} ${formatShape(tensors.step.shape)}`);
    }
    buffers.step = bufferRange(tensors.step);
  } else if (tensors.step) {
    throw new Error(`${kind}(): keeps no step count, but a step tensor was given`);
  }
  const update = prepareDispatch(device, shader, kind, {
    constants: { WORKGROUP_SIZE: UPDATE_WORKGROUP_SIZE },
    params: shaderParams(config, count),
    buffers,
    grid: { strided: count },
    work: { flops: WORK[kind].flops * count, bytes: 4 * WORK[kind].floats * count },
  });
  if (!tensors.step) return [await update];
  const increment = prepareDispatch(device, shader, 'adam_step', { buffers: { step: buffers.step }, grid: { workgroups: [1] } });
  return Promise.all([increment, update]);
}
