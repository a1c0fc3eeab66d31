// Elementwise activations (ACTIVATIONS): applied in the epilogue of the
// product before them (conv2d, matmul) or on their own (an activation layer),
// and their gradients, which are computed from the forward's output y rather
// than its input, but for gelu's (gradientInput).
import library from '../../shaders/activate.wgsl?raw';
import source from '../../shaders/activation.wgsl?raw';
import { bufferRange, expectDisjoint, expectTensor, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, shaderConstant, WORKGROUP_SIZE, type BufferRange, type Constants, type Dispatch, type Shader } from '../pipelines';

/** A shader that applies activations: activate.wgsl's functions are its library. */
export function withActivations(file: string, source: string): Shader {
  return { file, source, library };
}

const shader = withActivations('activation.wgsl', source);

/**
 * The activations, the one list of their names: each is a case of
 * activate.wgsl's `activate`, under a `const` named for it in capitals (`RELU`),
 * and `<name>_backward` is its gradient's entry point in activation.wgsl.
 */
export const ACTIVATIONS = ['relu', 'sigmoid', 'tanh', 'elu', 'selu', 'softplus', 'leaky_relu', 'gelu'] as const;

export type Activation = (typeof ACTIVATIONS)[number];

/**
 * What an activation's gradient is computed from: the forward's output y,
 * which gives f'(x) for every monotonic f; gelu's is not, so its gradient
 * takes the forward's input x, which the layer must keep.
 */
export const gradientInput = (kind: Activation): 'x' | 'y' => (kind === 'gelu' ? 'x' : 'y');

const libraryShader: Shader = { file: 'activate.wgsl', source: library };

/** leaky_relu's slope below 0 where none is given: Keras' leaky_relu function's (activate.wgsl's NEGATIVE_SLOPE), as float32. */
export const LEAKY_RELU_SLOPE = shaderConstant(libraryShader, 'NEGATIVE_SLOPE');

/** SELU's α and λ, as activate.wgsl holds them (float32). */
export const SELU_ALPHA = shaderConstant(libraryShader, 'SELU_ALPHA');
export const SELU_SCALE = shaderConstant(libraryShader, 'SELU_SCALE');

/** A setting of an activation: leaky_relu's slope below 0 (LEAKY_RELU_SLOPE when not given; a LeakyReLU layer's own). */
export interface ActivationOptions {
  negativeSlope?: number;
}

/** Checks an activation's setting; errors name the activation and the value. */
export function activationCheck(kind: Activation, { negativeSlope }: ActivationOptions): void {
  if (negativeSlope === undefined) return;
  if (kind !== 'leaky_relu') throw new Error(`${kind}(): negativeSlope applies to leaky_relu only`);
  if (typeof negativeSlope !== 'number' || !(negativeSlope >= 0 && Number.isFinite(negativeSlope))) {
    throw new Error(`leaky_relu(): negativeSlope must be a finite number >= 0, got ${negativeSlope}`);
  }
}

/** The override constants of a dispatch of `kind` with `options`: its slope, where one is given. */
function settings(kind: Activation, options: ActivationOptions): Constants {
  activationCheck(kind, options);
  return options.negativeSlope === undefined ? {} : { NEGATIVE_SLOPE: options.negativeSlope };
}

/** Whether a layer's activation is one of these (not softmax or linear). */
export function isActivation(name: string): name is Activation {
  return (ACTIVATIONS as readonly string[]).includes(name);
}

/**
 * An epilogue's activation as a product's ACTIVATION constant: the code that
 * activate.wgsl declares for it (LINEAR for none), read from there.
 */
export const ACTIVATION_CODES = Object.fromEntries(
  (['linear', ...ACTIVATIONS] as const).map((name) => [name, shaderConstant(libraryShader, name.toUpperCase())]),
) as Readonly<Record<Activation | 'linear', number>>;

/** Counted as one FLOP an element: these kernels are bound by memory, one float read per binding and one written. */
function elementwise(device: GPUDevice, entryPoint: string, buffers: Record<string, BufferRange>, count: number, constants: Constants) {
  return prepareDispatch(device, shader, entryPoint, {
    constants: { WORKGROUP_SIZE, ...constants },
    buffers,
    grid: { strided: count },
    work: { flops: count, bytes: 4 * Object.keys(buffers).length * count },
  });
}

/**
 * y = f(x) elementwise, as a product's epilogue computes it: for an
 * activation layer; for predict, after a last layer whose fused loss takes its
 * logits (sigmoidCrossEntropy.ts); after a product whose activation's gradient needs x.
 */
export async function activationForward(device: GPUDevice, kind: Activation, t: { x: Tensor; y: Tensor }, options: ActivationOptions = {}): Promise<Dispatch> {
  expectTensor(kind, 'y', t.y, t.x.shape);
  expectDisjoint(kind, ['y', t.y], ['x', t.x]);
  return elementwise(device, 'forward', { x: bufferRange(t.x), out: bufferRange(t.y) }, sizeOf(t.x.shape), {
    ACTIVATION: ACTIVATION_CODES[kind],
    ...settings(kind, options),
  });
}

/**
 * dInput = f'(x) ⊙ dOut, with f' computed from the forward's output y, or
 * from its input x where gradientInput(kind) says so: the one it needs must be given.
 */
export async function activationBackward(
  device: GPUDevice,
  kind: Activation,
  t: { y?: Tensor; x?: Tensor; dOut: Tensor; dInput: Tensor },
  options: ActivationOptions = {},
): Promise<Dispatch> {
  const needs = gradientInput(kind);
  const from = t[needs];
  if (!from) throw new Error(`${kind}(): its gradient is computed from ${needs === 'x' ? 'the forward\'s input x' : 'the forward\'s output y'}, which was not given`);
  expectTensor(kind, 'dOut', t.dOut, from.shape);
  expectTensor(kind, 'dInput', t.dInput, from.shape);
  expectDisjoint(kind, ['dInput', t.dInput], [needs, from]);
  expectDisjoint(kind, ['dInput', t.dInput], ['dOut', t.dOut]);
  return elementwise(
    device,
    `${kind}_backward`,
    { [needs]: bufferRange(from), d_out: bufferRange(t.dOut), d_input: bufferRange(t.dInput) },
    sizeOf(from.shape),
    settings(kind, options),
  );
}
