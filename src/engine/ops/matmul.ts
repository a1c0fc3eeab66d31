// Matrix product Y[M, N] = X[M, K] · W[K, N] (a Dense layer's kernel) and its gradients.
// With a bias (kept after the kernel in its buffer) and an activation, the
// forward is a Dense layer in one dispatch, and backward_weight gives the bias
// gradient as one more row of dW.
import source from '../../shaders/matmul.wgsl?raw';
import subgroupSource from '../../shaders/matmulSubgroups.wgsl?raw';
import { bufferRange, expectTensor, formatShape, vec4View, withBiasRow, type Tensor } from '../buffers';
import { inPrecision, offersF16, prepareTunable, shaderConstant, withF16Twins, type Constants, type Dispatch, type Precision, type Shader, type TunableSpec } from '../pipelines';
import { ACTIVATION_CODES, withActivations, type Activation } from './activation';
import { denseVariants } from './conv2d';

const shader = withActivations('matmul.wgsl', source);
/** The register-blocked product sharing A's values through subgroups: only for a device with the 'subgroups' feature. */
const subgroupShader = withActivations('matmulSubgroups.wgsl', subgroupSource);

/** Each invocation computes a BLOCK x BLOCK block of the output: matmul.wgsl's four vec4 accumulators. */
const BLOCK = shaderConstant(shader, 'BLOCK');
/** Invocations per workgroup of the register-blocked variants (a row of them along the output's columns); the first is the default. */
const WORKGROUP_VARIANTS = [16, 64, 4];
/** Rows and columns of the output per workgroup of the tiled variants (square: (TILE / BLOCK)² invocations). */
const TILE_VARIANTS = [32, 64];
/**
 * The workgroup size at which scalar loads and subgroups are also tried: a
 * warp or wavefront on most GPUs, and a multiple of every subgroup size up to it.
 */
const GPU_WORKGROUP = 64;

/** How one of matmul.wgsl's variants computes a product: its shader, and the `override` values that choose its algorithm and shape. */
interface Variant {
  shader: Shader;
  constants: Constants;
}

/**
 * The variants of matmul.wgsl (and matmulSubgroups.wgsl) the autotuner times,
 * by name, the default first: register blocking at each of
 * WORKGROUP_VARIANTS, then workgroup-memory tiles of each of TILE_VARIANTS,
 * then, where the device has subgroups, register blocking with A's values
 * shared through them. Not every combination: where B's rows can be read as
 * vec4s (`vectorized`), scalar loads are tried at one workgroup size only,
 * since the choice is about memory transactions, which the size of a row of
 * invocations barely changes; the tiles copy B as vec4s where they can, a copy
 * that is coalesced either way; and subgroups are tried at one size, with vec4
 * loads where they can be. (`product` adds conv2d's for two of the products.)
 */
function variants(device: GPUDevice, vectorized: boolean): Map<string, Variant> {
  const all = new Map<string, Variant>();
  const blocked = (size: number, vec4: boolean): Variant => ({ shader, constants: { WORKGROUP_SIZE: size, WORKGROUP_ROWS: 1, TILED: 0, VECTORIZED: Number(vec4) } });
  for (const size of WORKGROUP_VARIANTS) all.set(`workgroup=${size}`, blocked(size, vectorized));
  if (vectorized) all.set(`workgroup=${GPU_WORKGROUP} scalar`, blocked(GPU_WORKGROUP, false));
  for (const tile of TILE_VARIANTS) {
    all.set(`tiled=${tile}`, { shader, constants: { WORKGROUP_SIZE: tile / BLOCK, WORKGROUP_ROWS: tile / BLOCK, TILED: 1, VECTORIZED: Number(vectorized) } });
  }
  if (device.features.has('subgroups')) {
    all.set(`workgroup=${GPU_WORKGROUP} subgroups`, { shader: subgroupShader, constants: { WORKGROUP_SIZE: GPU_WORKGROUP, VECTORIZED: Number(vectorized) } });
  }
  return all;
}

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

/** One of the three products: C [M, N] = A [M, K] · B [K, N], each operand as its entry point reads it. */
interface ProductSpec {
  a: Tensor;
  b: Tensor;
  c: Tensor;
  M: number;
  N: number;
  K: number;
  /** b (forward) or c (backward_weight) holds one more row, the bias or its gradient. */
  bias?: boolean;
  /** The forward's epilogue; linear by default. */
  activation?: Activation | 'linear';
  /** backward_input_relu: the ReLU output whose signs mask C. */
  reluOf?: Tensor;
  /** 'mixed' offers f16 variants (see `variants`); 'float32' by default. */
  precision?: Precision;
}

/** How a matmul computes: in mixed precision, its products may multiply in f16 (see `variants`). */
export interface MatmulOptions {
  precision?: Precision;
}

/**
 * The product's dispatch, with matmul.wgsl's variants and the conv2d ones
 * given (`conv2d`, from denseVariants), and in mixed precision on a device with
 * shader-f16 an f16 twin of each, the twins first (withF16Twins).
 */
function product(
  device: GPUDevice,
  entryPoint: string,
  { a, b, c, M, N, K, bias = false, activation = 'linear', reluOf, precision }: ProductSpec,
  conv2d: ReturnType<typeof denseVariants> = { variants: new Map(), scratch: [] },
) {
  // B's rows can be read as vec4s where its columns are adjacent and rows start on a vec4.
  const vectorized = !entryPoint.startsWith('backward_input') && N % BLOCK === 0;
  const b4 = vec4View(device, b, vectorized);
  const rows = entryPoint === 'backward_weight' && bias ? M + 1 : M;
  const own = (variant: Variant, f16: boolean): ReturnType<TunableSpec['make']> => {
    const variantShader = inPrecision(variant.shader, f16 ? 'f16' : 'f32');
    // An invocation computes a block of its own shader's size.
    const block = shaderConstant(variantShader, 'BLOCK');
    return {
      shader: variantShader,
      spec: {
        constants: { ...variant.constants, BIAS: Number(bias), ACTIVATION: ACTIVATION_CODES[activation] },
        params: { M, N, K },
        // Every entry point declares relu_of (through the shared epilogue); those that never read it get a.
        buffers: { a: bufferRange(a), b: bufferRange(b), c: bufferRange(c), b4: b4.range, relu_of: bufferRange(reluOf ?? a) },
        grid: { threads: [Math.ceil(N / block), Math.ceil(rows / block)] },
        // The same multiply-adds in all three products, reading two operands and writing the third.
        work: { flops: 2 * rows * N * K, bytes: 4 * (M * K + K * N + rows * N * (reluOf ? 2 : 1)) },
      },
    };
  };
  const makers = new Map([...[...variants(device, vectorized)].map(([name, variant]) => [name, (f16: boolean) => own(variant, f16)] as const), ...conv2d.variants]);
  const f16 = offersF16(device, precision);
  const byName = withF16Twins(
    new Map([...makers].map(([name, make]) => [name, { make, f16: false }])),
    f16,
    (variant) => ({ ...variant, f16: true }),
  );
  return prepareTunable(device, entryPoint, {
    // Mixed precision's choices, among f16 and f32 variants, are kept apart from float32's.
    shape: `M=${M} N=${N} K=${K}${bias ? ' bias' : ''}${f16 ? ' mixed' : ''}`,
    variants: [...byName.keys()],
    make: (name) => {
      const { make, f16: inF16 } = byName.get(name)!;
      return make(inF16);
    },
    shared: [...b4.scratch, ...conv2d.scratch],
  });
}

/** y = f(x · w + bias): the bias (when given) must follow w in its buffer; the activation defaults to linear. */
export async function matmulForward(
  device: GPUDevice,
  t: { x: Tensor; w: Tensor; bias?: Tensor; y: Tensor },
  activation: Activation | 'linear' = 'linear',
  { precision }: MatmulOptions = {},
): Promise<Dispatch> {
  const [M, K, N] = matmulShape(t.x.shape, t.w.shape);
  expectTensor('matmul', 'y', t.y, [M, N]);
  const w = withBiasRow('matmul', ['w', 'bias'], t.w, t.bias);
  const bias = t.bias !== undefined;
  return product(device, 'forward', { a: t.x, b: w, c: t.y, M, N, K, bias, activation, precision }, denseVariants(device, 'forward', { x: t.x, w, y: t.y }, { bias, activation }));
}

/**
 * dW = xᵀ · dY, dBias (when given; it must follow dWeight in its buffer) and,
 * when dInput is given, dX = dY · wᵀ (a first layer needs no dX). Given
 * `reluOf`, the output of the ReLU that wrote x, dX is then multiplied by the
 * ReLU's gradient in the same dispatch (backward_input_relu).
 */
export async function matmulBackward(
  device: GPUDevice,
  t: { x: Tensor; w: Tensor; dOut: Tensor; dInput?: Tensor; dWeight: Tensor; dBias?: Tensor; reluOf?: Tensor },
  { precision }: MatmulOptions = {},
): Promise<Dispatch[]> {
  const [M, K, N] = matmulShape(t.x.shape, t.w.shape);
  expectTensor('matmul', 'dOut', t.dOut, [M, N]);
  expectTensor('matmul', 'dWeight', t.dWeight, [K, N]);
  const dWeight = withBiasRow('matmul', ['dWeight', 'dBias'], t.dWeight, t.dBias);
  if (t.reluOf && !t.dInput) throw new Error('matmul(): reluOf masks dInput, which was not given');
  // dW [K, N] = xᵀ [K, M] · dY [M, N].
  const bias = t.dBias !== undefined;
  const dispatches = [
    product(device, 'backward_weight', { a: t.x, b: t.dOut, c: dWeight, M: K, N, K: M, bias, precision }, denseVariants(device, 'backward_weight', { x: t.x, dOut: t.dOut, dWeight }, { bias })),
  ];
  if (t.dInput) {
    expectTensor('matmul', 'dInput', t.dInput, [M, K]);
    if (t.reluOf) expectTensor('matmul', 'reluOf', t.reluOf, [M, K]);
    // dX [M, K] = dY [M, N] · wᵀ [N, K].
    dispatches.push(product(device, t.reluOf ? 'backward_input_relu' : 'backward_input', { a: t.dOut, b: t.w, c: t.dInput, M, N: K, K: N, reluOf: t.reluOf, precision }));
  }
  return Promise.all(dispatches);
}
