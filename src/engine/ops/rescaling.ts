// Rescaling, y = x · scale + offset elementwise (Keras' Rescaling layer), and
// its gradient dInput = scale · dOut, over tensors of any shape.
import source from '../../shaders/rescaling.wgsl?raw';
import { bufferRange, expectDisjoint, expectTensor, sizeOf, type Tensor } from '../buffers';
import { quoteJson } from '../safetensors';
import { prepareDispatch, WORKGROUP_SIZE, type BufferRange, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'rescaling.wgsl', source };

export interface RescalingOptions {
  scale: number;
  /** Added after the scaling; 0 by default. */
  offset?: number;
}

/** Checks the options; errors name the values. */
export function rescalingCheck({ scale, offset = 0 }: RescalingOptions): void {
  for (const [name, value] of [['scale', scale], ['offset', offset]] as const) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`rescaling(): ${name} must be a finite number, got ${quoteJson(value)}`);
  }
}

/** One FLOP or two an element: bound by memory, a float read and one written. */
function elementwise(device: GPUDevice, entryPoint: string, buffers: Record<string, BufferRange>, count: number, options: RescalingOptions) {
  rescalingCheck(options);
  return prepareDispatch(device, shader, entryPoint, {
    constants: { WORKGROUP_SIZE },
    params: { scale: options.scale, offset: options.offset ?? 0 },
    buffers,
    grid: { strided: count },
    work: { flops: 2 * count, bytes: 8 * count },
  });
}

/** y = x · scale + offset. */
export async function rescalingForward(device: GPUDevice, t: { x: Tensor; y: Tensor }, options: RescalingOptions): Promise<Dispatch> {
  expectTensor('rescaling', 'y', t.y, t.x.shape);
  expectDisjoint('rescaling', ['y', t.y], ['x', t.x]);
  return elementwise(device, 'forward', { x: bufferRange(t.x), y: bufferRange(t.y) }, sizeOf(t.x.shape), options);
}

/** dInput = scale · dOut. */
export async function rescalingBackward(device: GPUDevice, t: { dOut: Tensor; dInput: Tensor }, options: RescalingOptions): Promise<Dispatch> {
  expectTensor('rescaling', 'dInput', t.dInput, t.dOut.shape);
  expectDisjoint('rescaling', ['dInput', t.dInput], ['dOut', t.dOut]);
  return elementwise(device, 'backward', { d_out: bufferRange(t.dOut), d_input: bufferRange(t.dInput) }, sizeOf(t.dOut.shape), options);
}
