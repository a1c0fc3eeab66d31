// Gradient clipping with Keras 3's semantics (clipnorm, globalClipnorm,
// clipvalue), on the GPU, in place on a gradient buffer that holds many
// variables (a model's gradient arena): the dispatches of clip.wgsl.
import source from '../../shaders/clip.wgsl?raw';
import { bufferRange, createTensor, sizeOf, type Tensor } from '../buffers';
import { prepareDispatch, WORKGROUP_SIZE, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'clip.wgsl', source };

/**
 * Invocations per workgroup of the chunked passes: a power of two for
 * sum_squares' tree. On lavapipe 64 summed the tutorial MLP's 101,770
 * gradients in 0.46 ms, 256 in 1.11 (fewer barriers, more work an invocation).
 */
const CHUNK_WORKGROUP_SIZE = 64;
/** Gradients a workgroup of sum_squares and scale covers, at most (more only past the device's workgroup limit). */
const CHUNK_LENGTH = 64 * CHUNK_WORKGROUP_SIZE;

/** Keras' clipping settings, at most one of them. */
export interface Clipping {
  /** Each variable's gradient scaled to a norm of at most this. */
  clipnorm?: number;
  /** Each gradient clamped to [-clipvalue, clipvalue]. */
  clipvalue?: number;
  /** All gradients scaled together to a global norm of at most this. */
  globalClipnorm?: number;
}

export const CLIPPING_NAMES = ['clipnorm', 'clipvalue', 'globalClipnorm'] as const;

/** A variable (one parameter tensor) in a buffer that holds many: where it starts and how long it is, in floats. */
export interface Variable {
  start: number;
  length: number;
  /** False for what the optimizer does not train (batch normalization's moving statistics); true if not given. */
  trainable?: boolean;
}

/** Throws unless at most one setting is given, and it is positive and finite; `where` names the optimizer. */
export function checkClipping(clipping: Clipping, where: string): void {
  const given = CLIPPING_NAMES.filter((name) => clipping[name] !== undefined);
  if (given.length > 1) {
    throw new Error(`${where}: only one of clipnorm, clipvalue and globalClipnorm can be set, got ${given.map((name) => `${name}=${clipping[name]}`).join(', ')}`);
  }
  for (const name of given) {
    const value = clipping[name];
    if (typeof value !== 'number' || !(value > 0 && Number.isFinite(value))) throw new Error(`${where}: ${name} is ${value} but must be positive and finite`);
  }
}

/**
 * The chunk table of the trained variables: [start, end, segment] per chunk,
 * segment the variable's index among them (or 0 for all, `global`); each
 * segment's first chunk followed by the number of chunks; and how many
 * gradients the chunks cover.
 */
function chunkTable(variables: readonly Variable[], global: boolean, maxWorkgroups: number) {
  const trained = variables.filter((v) => v.trainable !== false && v.length > 0);
  const total = trained.reduce((n, v) => n + v.length, 0);
  // Each variable's last chunk may be short: room for one more each keeps the count within the limit.
  const length = Math.max(CHUNK_LENGTH, Math.ceil(total / Math.max(1, maxWorkgroups - trained.length) / CHUNK_WORKGROUP_SIZE) * CHUNK_WORKGROUP_SIZE);
  const chunks: number[] = [];
  const segments: number[] = [];
  trained.forEach((v, i) => {
    if (!global || i === 0) segments.push(chunks.length / 3);
    for (let start = v.start; start < v.start + v.length; start += length) chunks.push(start, Math.min(start + length, v.start + v.length), global ? 0 : i);
  });
  segments.push(chunks.length / 3);
  return { chunks, segments, total };
}

/**
 * The dispatches that clip `grad` in place (none without clipping): for
 * clipnorm and globalClipnorm, the norms of `variables` (by default one, the
 * whole buffer), their scales, and the scaling; for clipvalue, one clamp.
 * Variables that are not trained are left out of the norms.
 */
export async function clipGradients(
  device: GPUDevice,
  clipping: Clipping,
  tensors: { grad: Tensor; variables?: readonly Variable[] },
): Promise<Dispatch[]> {
  checkClipping(clipping, 'clipGradients()');
  const { grad } = tensors;
  if (grad.dtype !== 'f32') throw new Error(`clipGradients(): grad is ${grad.dtype} but must be f32`);
  const count = sizeOf(grad.shape);
  const variables = tensors.variables ?? [{ start: 0, length: count }];
  for (const { start, length } of variables) {
    if (!(Number.isInteger(start) && Number.isInteger(length) && start >= 0 && length >= 0 && start + length <= count)) {
      throw new Error(`clipGradients(): a variable [${start}, ${start + length}) is not within grad's ${count} elements`);
    }
  }
  if (clipping.clipvalue !== undefined) {
    return [
      await prepareDispatch(device, shader, 'clip_value', {
        constants: { WORKGROUP_SIZE },
        params: { limit: clipping.clipvalue, count },
        buffers: { grad: bufferRange(grad) },
        grid: { strided: count },
        work: { flops: 2 * count, bytes: 8 * count },
      }),
    ];
  }
  const limit = clipping.clipnorm ?? clipping.globalClipnorm;
  if (limit === undefined) return [];
  const table = chunkTable(variables, clipping.globalClipnorm !== undefined, device.limits.maxComputeWorkgroupsPerDimension);
  const chunkCount = table.chunks.length / 3;
  if (chunkCount === 0) throw new Error('clipGradients(): no trained variable to clip');
  const segmentCount = table.segments.length - 1;
  const trained = table.total;
  const chunks = createTensor(device, [chunkCount, 3], { label: 'clip chunks', dtype: 'u32', data: table.chunks });
  const segments = createTensor(device, [segmentCount + 1], { label: 'clip segments', dtype: 'u32', data: table.segments });
  const sums = createTensor(device, [chunkCount], { label: 'clip sums of squares' });
  const scales = createTensor(device, [segmentCount], { label: 'clip scales' });
  const constants = { WORKGROUP_SIZE: CHUNK_WORKGROUP_SIZE };
  const buffers = { grad: bufferRange(grad), chunks: bufferRange(chunks), sums: bufferRange(sums), segments: bufferRange(segments), scales: bufferRange(scales) };
  return Promise.all([
    prepareDispatch(device, shader, 'sum_squares', {
      constants,
      buffers: { grad: buffers.grad, chunks: buffers.chunks, sums: buffers.sums },
      grid: { workgroups: [chunkCount] },
      scratch: [chunks.buffer, sums.buffer],
      work: { flops: 2 * trained, bytes: 4 * trained },
    }),
    prepareDispatch(device, shader, 'norm_scales', {
      constants,
      params: { limit, count },
      buffers: { sums: buffers.sums, segments: buffers.segments, scales: buffers.scales },
      grid: { workgroups: [1] },
      scratch: [segments.buffer, scales.buffer],
    }),
    // Where clipping binds: a multiply, a read and a write per gradient.
    prepareDispatch(device, shader, 'scale', {
      constants,
      buffers: { grad: buffers.grad, chunks: buffers.chunks, scales: buffers.scales },
      grid: { workgroups: [chunkCount] },
      work: { flops: trained, bytes: 8 * trained },
    }),
  ]);
}
