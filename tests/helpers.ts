// Shared by the kernel tests, in Node and in the browser: one device per test
// file, seeded random inputs, and comparisons that print the first mismatches.
import { defaultGpu, type Gpu } from '../src/engine/device';
import { createTensor, readTensor, sizeOf, splitBiasRow, writeTensor, type Tensor } from '../src/engine/buffers';
import type { Activation } from '../src/engine/ops/activation';
import { matmulForward } from '../src/engine/ops/matmul';
import { runDispatches, useVariant, type Dispatch } from '../src/engine/pipelines';
import { compare, F32, type Tolerance } from '../src/reference/compare';

export { seededRandom } from '../src/engine/random';
export { F32, type Tolerance } from '../src/reference/compare';

/** The test device, created on first use and shared by the tests of a file. */
export function testGpu(): Promise<Gpu> {
  return defaultGpu();
}

/** `count` values uniform in [low, high), rounded to float32 so GPU and CPU see the same inputs. */
export function randomArray(random: () => number, count: number, low = -1, high = 1): Float64Array {
  return Float64Array.from({ length: count }, () => Math.fround(low + (high - low) * random()));
}

/**
 * Checks |got - want| <= atol + rtol * |want| everywhere, throwing with the first
 * mismatches and their indices; returns the largest absolute error seen.
 */
export function expectClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): number {
  if (got.length !== want.length) throw new Error(`${what}: got ${got.length} values, expected ${want.length}`);
  const { count, maxAbs, mismatches } = compare(got, want, tol);
  if (count > 0) {
    const listed = mismatches.map((m) => `  [${m.index}] got ${m.got}, expected ${m.want} (error ${Math.abs(m.got - m.want).toExponential(2)})`);
    throw new Error(`${what}: ${count} of ${want.length} values differ (atol ${tol.atol}, rtol ${tol.rtol}):\n${listed.join('\n')}`);
  }
  console.info(`${what}: max |error| ${maxAbs.toExponential(2)} over ${want.length} values`);
  return maxAbs;
}

/** Uploads float64 CPU data as a float32 tensor. */
export async function upload(shape: number[], data: ArrayLike<number>, label = 'input'): Promise<Tensor> {
  const { device } = await testGpu();
  return createTensor(device, shape, { data, label });
}

/**
 * A kernel and its bias in one buffer, the bias right after the kernel (as a
 * model's arenas keep a product layer's): what conv2d and matmul take with a bias.
 */
export async function uploadWithBias(shape: number[], kernel: ArrayLike<number>, bias: ArrayLike<number>, label = 'kernel and bias'): Promise<{ w: Tensor; bias: Tensor }> {
  const both = await upload([kernel.length + bias.length], [...Array.from(kernel), ...Array.from(bias)], label);
  return splitBiasRow(both, shape);
}

/** f(x) as a product's epilogue computes it (activate.wgsl's functions): x [n, 1] times 1, plus 0, through matmul. */
export async function epilogue(kind: Activation, x: ArrayLike<number>): Promise<Float32Array> {
  const { device } = await testGpu();
  const y = await zeros([x.length, 1]);
  const { w, bias } = await uploadWithBias([1, 1], [1], [0]);
  const [got] = await run(await matmulForward(device, { x: await upload([x.length, 1], x), w, bias, y }, kind), y);
  return got as Float32Array;
}

export async function uploadLabels(shape: number[], data: ArrayLike<number>, label = 'labels'): Promise<Tensor> {
  const { device } = await testGpu();
  return createTensor(device, shape, { data, label, dtype: 'u32' });
}

export async function zeros(shape: number[], label = 'output', dtype: 'f32' | 'u32' = 'f32'): Promise<Tensor> {
  const { device } = await testGpu();
  return createTensor(device, shape, { label, dtype });
}

/**
 * Turns every tunable dispatch into its i-th variant (its last, where it has
 * fewer), for i over the most any of them has, and yields the variants' names
 * for each i: a kernel test runs and checks each set in turn, so that every
 * variant the autotuner may pick is checked against the reference. The
 * `outputs` given are filled with NaN before each set, so that a value a
 * variant leaves unwritten fails the check instead of passing on what the
 * variant before it wrote.
 */
export function eachVariant(dispatches: Dispatch | Dispatch[], ...outputs: Tensor[]): AsyncGenerator<string> {
  return variantsOf(dispatches, outputs, false);
}

/**
 * eachVariant over the f16 variants alone (`<name> f16`, offered in mixed
 * precision on a device with shader-f16), the f32 ones having tests of their
 * own: none where no dispatch has one.
 */
export function eachF16Variant(dispatches: Dispatch | Dispatch[], ...outputs: Tensor[]): AsyncGenerator<string> {
  return variantsOf(dispatches, outputs, true);
}

/** Whether a variant multiplies in f16. */
export const isF16 = (variant: string | undefined) => variant?.endsWith(' f16') ?? false;

async function* variantsOf(dispatches: Dispatch | Dispatch[], outputs: Tensor[], f16Only: boolean): AsyncGenerator<string> {
  const { device } = await testGpu();
  const all = Array.isArray(dispatches) ? dispatches : [dispatches];
  const tunable = all.flatMap((d) => {
    const variants = d.tunable?.variants.filter((v) => !f16Only || isF16(v)) ?? [];
    return variants.length ? [{ d, variants }] : [];
  });
  // Dispatches with no variants run once as they are, unless only f16 ones were asked for.
  const count = Math.max(f16Only ? 0 : 1, ...tunable.map(({ variants }) => variants.length));
  for (let i = 0; i < count; i++) {
    for (const { d, variants } of tunable) await useVariant(d, variants[Math.min(i, variants.length - 1)]);
    for (const t of outputs) writeTensor(device, t, t.dtype === 'u32' ? new Uint32Array(sizeOf(t.shape)).fill(0xffffffff) : new Float32Array(sizeOf(t.shape)).fill(NaN));
    yield tunable.map(({ d }) => d.variant).join(' ') || 'default';
  }
}

/** f16's unit roundoff: it keeps 11 significant bits. */
const F16_UNIT_ROUNDOFF = 2 ** -11;
/** Half the spacing of f16's subnormals (2^-24): the most that rounding moves a value below its normal range. */
const F16_SUBNORMAL_ERROR = 2 ** -25;

/**
 * Checks a product of an f16 variant against the float64 reference `want`, as
 * expectClose does, within a bound per value derived from f16's precision.
 *
 * An f16 variant rounds each operand to f16 and each product of two rounded
 * operands to f16, then sums the products in f32. Rounding x to f16 gives
 * x(1 + δ) + ε with |δ| <= u = 2^-11 and |ε| <= η = 2^-25 (ε only below f16's
 * normal range). So a term a·b comes out as ab(1 + δa)(1 + δb)(1 + δp) plus
 * the ε's, within 3u|a||b| + η(|a| + |b| + 1) of ab to first order in u
 * (3.01u covers the higher orders: 3u + 3u² + u³ < 3.01u). Summing K such
 * terms in f32 adds f32's error, which the f32 tests allow as F32's atol·√K
 * and rtol. With every operand in [-1, 1] (|a| + |b| + 1 <= 3), an output is within
 *   3.01u·Σ|a||b| + 3Kη + F32.atol·√K + F32.rtol·|want|
 * of the reference, Σ|a||b| being `magnitudes`: the same product of the
 * operands' absolute values (the reference's, on them). A bias, added in f32,
 * and the activations, none of which stretches a difference (|f'| <= 1), keep
 * the bound. A worst case, every rounding one way: a kernel within it may
 * still be wrong by a term or so, which the f32 variants' tighter tests of the
 * same code catch.
 */
export function expectCloseF16(what: string, got: ArrayLike<number>, want: ArrayLike<number>, { magnitudes, terms }: { magnitudes: ArrayLike<number>; terms: number }): number {
  if (got.length !== want.length || magnitudes.length !== want.length) throw new Error(`${what}: got ${got.length} values and ${magnitudes.length} magnitudes, expected ${want.length}`);
  const fixed = 3 * terms * F16_SUBNORMAL_ERROR + F32.atol * Math.sqrt(terms);
  let count = 0;
  let used = 0;
  const listed: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const error = Math.abs(got[i] - want[i]);
    const bound = 3.01 * F16_UNIT_ROUNDOFF * magnitudes[i] + fixed + F32.rtol * Math.abs(want[i]);
    used = Math.max(used, Number.isNaN(error) ? Infinity : error / bound);
    if (!(error <= bound)) {
      count++;
      if (listed.length < 8) listed.push(`  [${i}] got ${got[i]}, expected ${want[i]} (error ${error.toExponential(2)}, bound ${bound.toExponential(2)})`);
    }
  }
  if (count > 0) throw new Error(`${what}: ${count} of ${want.length} values outside f16's bound:\n${listed.join('\n')}`);
  console.info(`${what}: largest error ${(100 * used).toFixed(1)}% of f16's bound over ${want.length} values`);
  return used;
}

/** The absolute values, for the magnitudes expectCloseF16 bounds an f16 product's error with. */
export const absolute = (values: ArrayLike<number>) => Float64Array.from(values, Math.abs);

/** Runs the dispatches, then reads back each tensor. */
export async function run(dispatches: Dispatch | Dispatch[], ...outputs: Tensor[]): Promise<(Float32Array | Uint32Array)[]> {
  const { device } = await testGpu();
  await runDispatches(device, Array.isArray(dispatches) ? dispatches : [dispatches]);
  return Promise.all(outputs.map((t) => readTensor(device, t)));
}

/**
 * The gradient of L(x) = Σ dOut ⊙ f(x) by float64 central differences, to check
 * an analytic backward against: that gradient is what backward(dOut) must return.
 */
export function numericGradient(
  f: (x: Float64Array) => ArrayLike<number>,
  x: Float64Array,
  dOut: ArrayLike<number>,
  h = 1e-6,
): Float64Array {
  const loss = (input: Float64Array) => {
    const y = f(input);
    let sum = 0;
    for (let i = 0; i < y.length; i++) sum += dOut[i] * y[i];
    return sum;
  };
  const grad = new Float64Array(x.length);
  const probe = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    probe[i] = x[i] + h;
    const up = loss(probe);
    probe[i] = x[i] - h;
    const down = loss(probe);
    probe[i] = x[i];
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

/** Analytic gradients against numeric ones, both in float64 (F32 is the GPU's against the CPU's). */
export const GRADCHECK: Tolerance = { atol: 1e-6, rtol: 1e-5 };

/** An IDX file of unsigned bytes with the given dimensions. */
export function idx(dims: number[], data: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x0800 + dims.length);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  bytes.set(data, 4 + 4 * dims.length);
  return bytes;
}

/** A file of tests/fixtures, read from disk in Node and fetched from the test server in the browser. */
export async function fixture(name: string): Promise<Uint8Array> {
  const url = new URL(`./fixtures/${name}`, import.meta.url);
  if (typeof window === 'undefined') {
    const fsModule = 'node:fs/promises';
    const { readFile } = await import(/* @vite-ignore */ fsModule);
    return new Uint8Array(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`fetching ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}
