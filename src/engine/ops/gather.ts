// Gather: a step's batch built on the GPU from a data set held there, the rows
// an index tensor names copied from one of its columns (the inputs, the labels
// or the targets) into the graph's tensor for it, so that no batch is written
// from the CPU.
//
// N rows are gathered, R values a row, from a column of `rows` rows.
import source from '../../shaders/gather.wgsl?raw';
import { bufferRange, createTensor, expectTensor, sizeOf, type Tensor } from '../buffers';
import { pixelValues } from '../data';
import { prepareDispatch, WORKGROUP_SIZE, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'gather.wgsl', source };

/** The entry point for each form of column. */
const ENTRY_POINTS = { words: 'forward', bytes: 'forward_bytes' } as const;

/** The kernels' names (Kernel.name), for the overrides a graph accepts. */
export const GATHER_KERNELS: readonly string[] = Object.values(ENTRY_POINTS).map((entry) => `${shader.file}:${entry}`);

/** The bits of the f32 each byte stands for in a column of bytes, computed as the CPU computes it (`pixelValues`). */
const BYTE_VALUES = new Uint32Array(pixelValues(Uint8Array.from({ length: 256 }, (_, b) => b)).buffer);

/** A column of a data set on the GPU: `rows` rows of R values each. */
export interface GatherSource {
  /**
   * The rows laid end to end: f32 or u32 [rows, ...], or with `bytes`, u32
   * [ceil(rows·R / 4)] holding them as bytes, four to a word, little-endian,
   * each meaning byte / 255.
   */
  data: Tensor;
  rows: number;
  bytes: boolean;
}

/** Words of a data set of `count` bytes packed four to a u32. */
export const packedWords = (count: number) => Math.ceil(count / 4);

/**
 * y[r] = column[indices[r]] for the N rows of y: indices u32 [N] into the
 * column's rows, y [N, ...row] of the column's dtype (f32 for bytes).
 */
export async function gatherForward(device: GPUDevice, t: { source: GatherSource; indices: Tensor; y: Tensor }): Promise<Dispatch> {
  const { source, indices, y } = t;
  const N = y.shape[0];
  const R = sizeOf(y.shape.slice(1));
  expectTensor('gather', 'indices', indices, [N], 'u32');
  const { rows, bytes } = source;
  const buffers = { indices: bufferRange(indices), y: bufferRange(y) };
  // A workgroup a row; past the device's limit they stride over the rows.
  const grid = { workgroups: [Math.min(N, device.limits.maxComputeWorkgroupsPerDimension)] };
  if (!bytes) {
    expectTensor('gather', 'x', source.data, [rows, ...y.shape.slice(1)], y.dtype);
    return prepareDispatch(device, shader, ENTRY_POINTS.words, {
      constants: { WORKGROUP_SIZE },
      params: { rows: N, row_size: R },
      buffers: { ...buffers, x: bufferRange(source.data) },
      grid,
      work: { flops: 0, bytes: 4 * N + 2 * 4 * N * R },
    });
  }
  expectTensor('gather', 'y', y, y.shape, 'f32');
  expectTensor('gather', 'x (bytes)', source.data, [packedWords(rows * R)], 'u32');
  const table = createTensor(device, [256], { label: 'gather byte values', dtype: 'u32', data: BYTE_VALUES });
  return prepareDispatch(device, shader, ENTRY_POINTS.bytes, {
    constants: { WORKGROUP_SIZE },
    params: { rows: N, row_size: R },
    buffers: { ...buffers, x: bufferRange(source.data), byte_values: bufferRange(table) },
    grid,
    scratch: [table.buffer],
    work: { flops: 0, bytes: 4 * N + N * R + 4 * N * R },
  });
}
