// Elementwise activations (ACTIVATIONS): applied in the epilogue of the
// product before them (conv2d, matmul), and their gradients, which are computed
// from the forward's output y rather than its input.
import library from '../../shaders/activate.wgsl?raw';
import source from '../../shaders/activation.wgsl?raw';
import { bufferRange, expectTensor, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, shaderConstant, WORKGROUP_SIZE, type BufferRange, type Dispatch, type Shader } from '../pipelines';

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
export const ACTIVATIONS = ['relu', 'sigmoid', 'tanh'] as const;

export type Activation = (typeof ACTIVATIONS)[number];

/** Whether a layer's activation is one of these (not softmax or linear). */
export function isActivation(name: string): name is Activation {
  return (ACTIVATIONS as readonly string[]).includes(name);
}

/**
 * An epilogue's activation as a product's ACTIVATION constant: the code that
 * activate.wgsl declares for it (LINEAR for none), read from there.
 */
export const ACTIVATION_CODES = Object.fromEntries(
  (['linear', ...ACTIVATIONS] as const).map((name) => [name, shaderConstant({ file: 'activate.wgsl', source: library }, name.toUpperCase())]),
) as Readonly<Record<Activation | 'linear', number>>;

// WebGPU rejects a dispatch that writes a buffer range another of its bindings
// reads, so the output must have memory of its own: no in-place activation.
function expectDisjoint(kind: Activation, output: [string, Tensor], input: [string, Tensor]): void {
  const [outName, out] = output;
  const [inName, inp] = input;
  const end = (t: Tensor) => t.offset + sizeOf(t.shape) * 4;
  if (out.buffer === inp.buffer && out.offset < end(inp) && inp.offset < end(out)) {
    throw new Error(`${kind}(): ${outName} overlaps ${inName} in buffer '${out.buffer.label}'; the output needs memory of its own`);
  }
}

/** Counted as one FLOP an element: these kernels are bound by memory, one float read per binding and one written. */
function elementwise(device: GPUDevice, entryPoint: string, buffers: Record<string, BufferRange>, count: number) {
  return prepareDispatch(device, shader, entryPoint, {
    constants: { WORKGROUP_SIZE },
    buffers,
    grid: { strided: count },
    work: { flops: count, bytes: 4 * Object.keys(buffers).length * count },
  });
}

/**
 * y = f(x) elementwise, as a product's epilogue computes it: for a last layer
 * whose fused loss takes its logits (sigmoidCrossEntropy.ts), for predict.
 */
export async function activationForward(device: GPUDevice, kind: Activation, t: { x: Tensor; y: Tensor }): Promise<Dispatch> {
  expectTensor(kind, 'y', t.y, t.x.shape);
  expectDisjoint(kind, ['y', t.y], ['x', t.x]);
  return prepareDispatch(device, shader, 'forward', {
    constants: { WORKGROUP_SIZE, ACTIVATION: ACTIVATION_CODES[kind] },
    buffers: { x: bufferRange(t.x), out: bufferRange(t.y) },
    grid: { strided: sizeOf(t.x.shape) },
    work: { flops: sizeOf(t.x.shape), bytes: 8 * sizeOf(t.x.shape) },
  });
}

/** dInput = f'(x) ⊙ dOut, with f' computed from the forward's output y. */
export async function activationBackward(
  device: GPUDevice,
  kind: Activation,
  t: { y: Tensor; dOut: Tensor; dInput: Tensor },
): Promise<Dispatch> {
  expectTensor(kind, 'dOut', t.dOut, t.y.shape);
  expectTensor(kind, 'dInput', t.dInput, t.y.shape);
  expectDisjoint(kind, ['dInput', t.dInput], ['y', t.y]);
  expectDisjoint(kind, ['dInput', t.dInput], ['dOut', t.dOut]);
  return elementwise(
    device,
    `${kind}_backward`,
    { y: bufferRange(t.y), d_out: bufferRange(t.dOut), d_input: bufferRange(t.dInput) },
    sizeOf(t.y.shape),
  );
}
