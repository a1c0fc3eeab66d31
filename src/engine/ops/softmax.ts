// Row-wise softmax over the last dimension, y[rows, C] = softmax(x[rows, C])
// (C classes per row), and its gradient, computed from y.
import source from '../../shaders/softmax.wgsl?raw';
import { bufferRange, expectTensor, formatShape, type Tensor } from '../buffers';
import { prepareDispatch, WORKGROUP_SIZE, type BufferRange, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'softmax.wgsl', source };

/** Checks that a tensor is [rows, C] and returns [rows, C]. */
function rowsAndClasses(name: string, tensor: Tensor): [number, number] {
  if (tensor.shape.length !== 2) throw new Error(`softmax(): ${name} must be [rows, C], got ${formatShape(tensor.shape)}`);
  return [tensor.shape[0], tensor.shape[1]];
}

function rowwise(device: GPUDevice, entryPoint: string, rows: number, C: number, buffers: Record<string, BufferRange>) {
  return prepareDispatch(device, shader, entryPoint, {
    constants: { WORKGROUP_SIZE },
    params: { rows, C },
    buffers,
    // The kernels loop over the rows, so the workgroup count may stop at the limit.
    grid: { strided: rows },
    // About four FLOPs an element (max, exp, sum, divide), one float read per binding and one written.
    work: { flops: 4 * rows * C, bytes: 4 * Object.keys(buffers).length * rows * C },
  });
}

/** y = softmax(x) along each row. */
export async function softmaxForward(device: GPUDevice, t: { x: Tensor; y: Tensor }): Promise<Dispatch> {
  const [rows, C] = rowsAndClasses('x', t.x);
  expectTensor('softmax', 'y', t.y, t.x.shape);
  return rowwise(device, 'forward', rows, C, { x: bufferRange(t.x), y: bufferRange(t.y) });
}

/** dInput = y ⊙ (dOut - Σ_j dOut_j y_j), row by row, from the forward's output y. */
export async function softmaxBackward(device: GPUDevice, t: { y: Tensor; dOut: Tensor; dInput: Tensor }): Promise<Dispatch> {
  const [rows, C] = rowsAndClasses('y', t.y);
  expectTensor('softmax', 'dOut', t.dOut, t.y.shape);
  expectTensor('softmax', 'dInput', t.dInput, t.y.shape);
  return rowwise(device, 'backward', rows, C, { y: bufferRange(t.y), d_out: bufferRange(t.dOut), d_input: bufferRange(t.dInput) });
}
