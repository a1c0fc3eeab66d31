// Gather: a step's batch built on the GPU from a data set held there, the rows
// an index tensor names copied into the graph's input tensor and their labels
// into its label tensor, so that no batch is written from the CPU.
//
// N rows are gathered, R values a row, from a data set of `rows` rows.
import source from '../../shaders/gather.wgsl?raw';
import { bufferRange, createTensor, expectTensor, formatShape, sizeOf, type Tensor } from '../buffers';
import { pixelValues } from '../data';
import { prepareDispatch, WORKGROUP_SIZE, type Dispatch, type Shader } from '../pipelines';

const shader: Shader = { file: 'gather.wgsl', source };

/** The entry point for each form of data set. */
const ENTRY_POINTS = { f32: 'forward', bytes: 'forward_bytes' } as const;

/** The kernels' names (Kernel.name), for the overrides a graph accepts. */
export const GATHER_KERNELS: readonly string[] = Object.values(ENTRY_POINTS).map((entry) => `${shader.file}:${entry}`);

/** The f32 each byte stands for in a data set of bytes, computed as the CPU computes it (`pixelValues`). */
const BYTE_VALUES = pixelValues(Uint8Array.from({ length: 256 }, (_, b) => b));

/** A data set on the GPU: `rows` inputs of R values each, and a label each. */
export interface GatherSource {
  /**
   * The inputs laid end to end: f32 [rows, ...], or with `bytes`, u32
   * [ceil(rows·R / 4)] holding them as bytes, four to a word, little-endian,
   * each meaning byte / 255.
   */
  x: Tensor;
  /** u32 [rows]. */
  labels: Tensor;
  bytes: boolean;
}

/** Words of a data set of `count` bytes packed four to a u32. */
export const packedWords = (count: number) => Math.ceil(count / 4);

/**
 * y[r] = x[indices[r]] and yLabels[r] = labels[indices[r]] for the N rows of
 * y: indices u32 [N] into the source's rows, y f32 [N, ...row], yLabels u32 [N].
 */
export async function gatherForward(device: GPUDevice, t: { source: GatherSource; indices: Tensor; y: Tensor; yLabels: Tensor }): Promise<Dispatch> {
  const { source, indices, y, yLabels } = t;
  const N = y.shape[0];
  const R = sizeOf(y.shape.slice(1));
  expectTensor('gather', 'y', y, y.shape);
  expectTensor('gather', 'indices', indices, [N], 'u32');
  expectTensor('gather', 'yLabels', yLabels, [N], 'u32');
  if (source.labels.shape.length !== 1) throw new Error(`gather(): labels must be [rows] but have shape ${formatShape(source.labels.shape)}`);
  const rows = source.labels.shape[0];
  expectTensor('gather', 'labels', source.labels, [rows], 'u32');
  const buffers = { indices: bufferRange(indices), labels: bufferRange(source.labels), y: bufferRange(y), y_labels: bufferRange(yLabels) };
  const moved = 4 * N + 2 * 4 * N + 4 * N * R;
  // A workgroup a row; past the device's limit they stride over the rows.
  const grid = { workgroups: [Math.min(N, device.limits.maxComputeWorkgroupsPerDimension)] };
  if (!source.bytes) {
    expectTensor('gather', 'x', source.x, [rows, ...y.shape.slice(1)]);
    return prepareDispatch(device, shader, ENTRY_POINTS.f32, {
      constants: { WORKGROUP_SIZE },
      params: { row_size: R },
      buffers: { ...buffers, x: bufferRange(source.x) },
      grid,
      work: { flops: 0, bytes: moved + 4 * N * R },
    });
  }
  expectTensor('gather', 'x (bytes)', source.x, [packedWords(rows * R)], 'u32');
  const table = createTensor(device, [256], { label: 'gather byte values', data: BYTE_VALUES });
  return prepareDispatch(device, shader, ENTRY_POINTS.bytes, {
    constants: { WORKGROUP_SIZE },
    params: { row_size: R },
    buffers: { ...buffers, x_bytes: bufferRange(source.x), byte_values: bufferRange(table) },
    grid,
    scratch: [table.buffer],
    work: { flops: 0, bytes: moved + N * R },
  });
}
