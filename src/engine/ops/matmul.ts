// Matrix product Y[M, N] = X[M, K] · W[K, N] (a Dense layer's kernel) and its gradients.
import source from '../../shaders/matmul.wgsl?raw';
import { bufferRange, expectTensor, formatShape, vec4View, type Tensor } from '../buffers';
import { prepareDispatch, shaderConstant, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'matmul.wgsl', source };

/** Invocations per workgroup (a row of them along the output's columns). */
const WORKGROUP_SIZE = 16;
/** Each invocation computes a BLOCK x BLOCK block of the output: matmul.wgsl's four vec4 accumulators. */
const BLOCK = shaderConstant(shader, 'BLOCK');

/** Checks that x [M, K] and w [K, N] can be multiplied and returns [M, K, N]. */
export function matmulShape(x: readonly number[], w: readonly number[]): [number, number, number] {
  if (x.length !== 2 || w.length !== 2) {
    throw new Error(`matmul(): operands must be matrices, got ${formatShape(x)} and ${formatShape(w)}`);
  }
  if (x[1] !== w[0]) {
    throw new Error(`matmul(): x has ${x[1]} columns but w has ${w[0]} rows (${formatShape(x)} · ${formatShape(w)})`);
  }
  return [x[0], x[1], w[1]];
}

function product(device: GPUDevice, entryPoint: string, a: Tensor, b: Tensor, c: Tensor, M: number, N: number, K: number) {
  // B's rows are read as vec4s where its columns are adjacent and rows start on a vec4.
  const vectorized = entryPoint !== 'backward_input' && N % BLOCK === 0;
  const b4 = vec4View(device, b, vectorized);
  return prepareDispatch(device, shader, entryPoint, {
    constants: { WORKGROUP_SIZE, VECTORIZED: Number(vectorized) },
    params: { M, N, K },
    buffers: { a: bufferRange(a), b: bufferRange(b), c: bufferRange(c), b4: b4.range },
    scratch: b4.scratch,
    grid: { threads: [Math.ceil(N / BLOCK), Math.ceil(M / BLOCK)] },
    // The same multiply-adds in all three products, reading two operands and writing the third.
    work: { flops: 2 * M * N * K, bytes: 4 * (M * K + K * N + M * N) },
  });
}

/** y = x · w. */
export async function matmulForward(device: GPUDevice, t: { x: Tensor; w: Tensor; y: Tensor }): Promise<Dispatch> {
  const [M, K, N] = matmulShape(t.x.shape, t.w.shape);
  expectTensor('matmul', 'y', t.y, [M, N]);
  return product(device, 'forward', t.x, t.w, t.y, M, N, K);
}

/** dW = xᵀ · dY and, when dInput is given, dX = dY · wᵀ (a first layer needs no dX). */
export async function matmulBackward(
  device: GPUDevice,
  t: { x: Tensor; w: Tensor; dOut: Tensor; dInput?: Tensor; dWeight: Tensor },
): Promise<Dispatch[]> {
  const [M, K, N] = matmulShape(t.x.shape, t.w.shape);
  expectTensor('matmul', 'dOut', t.dOut, [M, N]);
  expectTensor('matmul', 'dWeight', t.dWeight, [K, N]);
  const dispatches = [product(device, 'backward_weight', t.x, t.dOut, t.dWeight, K, N, M)];
  if (t.dInput) {
    expectTensor('matmul', 'dInput', t.dInput, [M, K]);
    dispatches.push(product(device, 'backward_input', t.dOut, t.w, t.dInput, M, K, N));
  }
  return Promise.all(dispatches);
}
