// The data sets a graph keeps on the GPU, and the passes over them: a pass
// takes the rows of a data set in an order, a batch at a time, each batch
// gathered on the GPU into the graph's input and target tensors (ops/gather),
// so that training writes nothing from the CPU between steps.
import { createTensor, reshape, rows, sizeOf, writeTensor, type Tensor } from './buffers';
import { gatherForward, packedWords, type GatherSource } from './ops/gather';
import { applyOverride, destroyDispatches, type Dispatch, type KernelOverride } from './pipelines';
import type { Random } from './random';
import type { SetupListener } from './setupProgress';

/** Inputs laid end to end: float32 values, or pixel bytes that stand for byte / 255 (`pixelValues`). */
export type Inputs = Float32Array | Uint8Array;

/** The dispatches of a plan (Graph.plan) that a pass records for each step. */
export interface PlanDispatches {
  train: Dispatch[];
  evaluate: Dispatch[];
  gradients: Dispatch[];
  update: Dispatch[];
}

/**
 * A data set held on the GPU: its inputs (as they were given, f32 or bytes),
 * its labels or targets (u32 labels, f32 or bytes), the order a pass takes its
 * rows in, and the dispatches that gather its batches into the graph's input
 * and target tensors.
 */
export interface DeviceData {
  /** The arrays it was uploaded from: kept on the GPU while the same ones are given. */
  x: Inputs;
  y: ArrayLike<number>;
  rows: number;
  /** Its columns; y's may be x's, when y is x (an autoencoder's targets). */
  columns: { x: GatherSource; y: GatherSource };
  /** u32 [rows]: the rows of a pass in the order it takes them, written once a pass. */
  order: Tensor;
  /** The gathers of x and y for a batch of each size, made on first use. */
  gathers: Map<number, Promise<Dispatch[]>>;
}

/** What a step of a pass records: it gathers `batchSize` rows, then runs the plan for that many rows. */
export interface Batch extends PlanDispatches {
  batchSize: number;
}

/** A pass over a data set on the GPU in batches, with everything its steps record, made before the first. */
export interface Pass {
  data: DeviceData;
  batchSize: number;
  steps: number;
  /** Every step but the last, and the last (partial or not). */
  full: Batch;
  last: Batch;
}

/** The batch step `step` of a pass takes. */
export function batchAt(pass: Pass, step: number): Batch {
  return step === pass.steps - 1 ? pass.last : pass.full;
}

/** The order a pass takes `count` rows in: as they are, or shuffled by `random` (Fisher-Yates). */
export function shuffledRows(count: number, random?: Random): Uint32Array {
  const order = Uint32Array.from({ length: count }, (_, i) => i);
  if (!random) return order;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/** What a graph lends its data sets: where a batch goes, and its plans. */
export interface DataSetTarget {
  device: GPUDevice;
  inputShape: readonly number[];
  /**
   * The graph's input and target tensors (u32 labels [B], or targets [B, ...]
   * f32), and the rows of the data set a step gathers into them.
   */
  x: Tensor;
  targets: Tensor;
  indices: Tensor;
  /** Kernels replaced in every dispatch, by Kernel.name. */
  kernels: ReadonlyMap<string, KernelOverride>;
  plan(batchSize: number): Promise<PlanDispatches>;
  /** Told as a data set goes to the GPU. */
  onProgress?: SetupListener;
  /** Throws unless a buffer of `size` bytes fits this device, naming `what`. */
  checkSize(what: string, size: number, advice?: string): void;
}

/** Data sets kept on the GPU: a training set and its validation set. */
const KEPT_DATA_SETS = 2;

/** The same array, or views of the same bytes as the same type (a subarray taken twice). */
function sameArray(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a === b) return true;
  if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return false;
  return a.constructor === b.constructor && a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;
}

export class DataSets {
  /** Held on the GPU, the one used least recently first. */
  private readonly held: DeviceData[] = [];

  constructor(private readonly target: DataSetTarget) {}

  /**
   * A pass over the rows of x and y in `order`, `batchSize` at a time: the
   * data on the GPU (`upload`), the order written, and the plans and gathers
   * of its full and last batch made now if they are not yet.
   */
  async pass(data: { x: Inputs; y: ArrayLike<number>; order: Uint32Array }, batchSize: number): Promise<Pass> {
    const onGpu = this.upload(data.x, data.y);
    this.writeOrder(onGpu, data.order);
    return this.prepare(onGpu, batchSize);
  }

  /**
   * x and y on the GPU, uploaded the first time they are given and kept while
   * the same arrays (or views of the same bytes) are given again: across epochs
   * and calls. Two data sets are kept, a training and a validation set; a
   * third replaces the one used least recently. Bytes stay bytes, four to a
   * word; a y that is x (an autoencoder's) is not uploaded twice.
   */
  upload(x: Inputs, y: ArrayLike<number>): DeviceData {
    const kept = this.held.findIndex((data) => sameArray(data.x, x) && sameArray(data.y, y));
    if (kept >= 0) {
      const [data] = this.held.splice(kept, 1);
      this.held.push(data);
      return data;
    }
    const { inputShape, targets } = this.target;
    const rowSize = sizeOf(inputShape);
    const count = x.length / rowSize;
    const labels = targets.dtype === 'u32';
    const targetSize = sizeOf(targets.shape.slice(1));
    if (!Number.isInteger(count) || count * targetSize !== y.length) {
      throw new Error(`upload(): x holds ${x.length} values and y ${y.length}, not ${labels ? 'labels' : `rows of ${targetSize}`} for rows of ${rowSize}`);
    }
    const xColumn = this.column(x, [count, ...inputShape], 'inputs');
    try {
      const yColumn = labels
        ? { data: createTensor(this.target.device, [count], { label: 'data set labels', dtype: 'u32', data: y }), rows: count, bytes: false }
        : sameArray(x, y)
          ? { ...xColumn, data: xColumn.bytes ? xColumn.data : reshape(xColumn.data, [count, ...targets.shape.slice(1)]) }
          : this.column(y, [count, ...targets.shape.slice(1)], 'targets');
      try {
        const order = createTensor(this.target.device, [count], { label: 'data set order', dtype: 'u32' });
        const data: DeviceData = { x, y, rows: count, columns: { x: xColumn, y: yColumn }, order, gathers: new Map() };
        this.held.push(data);
        if (this.held.length > KEPT_DATA_SETS) destroyData(this.held.shift()!);
        return data;
      } catch (error) {
        if (yColumn.data.buffer !== xColumn.data.buffer) yColumn.data.buffer.destroy();
        throw error;
      }
    } catch (error) {
      xColumn.data.buffer.destroy();
      throw error;
    }
  }

  /** Rows of values on the GPU as they were given: float32 (any other array becomes one), or bytes. */
  private column(values: ArrayLike<number>, shape: number[], what: 'inputs' | 'targets'): GatherSource {
    const bytes = values instanceof Uint8Array;
    const words = bytes ? [packedWords(values.length)] : shape;
    const advice = bytes ? '' : ': fit and evaluate hold their data on the GPU whole; give pixels as bytes (a Uint8Array, a quarter of the size), or fewer rows';
    this.target.checkSize(`the data set${what === 'inputs' ? '' : `'s ${what}`} [${shape.join(', ')}] as ${bytes ? 'bytes' : 'float32'}`, sizeOf(words) * 4, advice);
    const told = `${shape[0].toLocaleString('en-US')} rows of ${what} [${shape.slice(1).join(', ')}] as ${bytes ? 'bytes' : 'float32'} (${((sizeOf(words) * 4) / 1e6).toFixed(1)} MB)`;
    this.target.onProgress?.({ stage: 'upload', done: 0, total: 1, what: told });
    const buffer = this.target.device.createBuffer({ label: `data set ${what} (${bytes ? 'bytes' : 'f32'})`, size: sizeOf(words) * 4, usage: GPUBufferUsage.STORAGE, mappedAtCreation: true });
    if (bytes) new Uint8Array(buffer.getMappedRange()).set(values);
    else new Float32Array(buffer.getMappedRange()).set(values);
    buffer.unmap();
    this.target.onProgress?.({ stage: 'upload', done: 1, total: 1, what: told });
    return { data: { buffer, shape: words, dtype: bytes ? 'u32' : 'f32', offset: 0 }, rows: shape[0], bytes };
  }

  /** Puts the order of a pass (a permutation of the data set's rows: an epoch's shuffle) on the GPU. */
  writeOrder(data: DeviceData, order: Uint32Array): void {
    if (order.length !== data.rows) throw new Error(`writeOrder(): an order of ${order.length} rows for a data set of ${data.rows}`);
    writeTensor(this.target.device, data.order, order);
  }

  /** A pass over `data` in batches of `batchSize`: the plans and gathers of its full and last batch, made now if they are not yet. */
  async prepare(data: DeviceData, batchSize: number): Promise<Pass> {
    const steps = Math.ceil(data.rows / batchSize);
    const batch = async (rowsTaken: number): Promise<Batch> => {
      const [plan, gathers] = await Promise.all([this.target.plan(rowsTaken), this.gather(data, rowsTaken)]);
      return { batchSize: rowsTaken, train: [...gathers, ...plan.train], evaluate: [...gathers, ...plan.evaluate], gradients: [...gathers, ...plan.gradients], update: plan.update };
    };
    const full = await batch(Math.min(batchSize, data.rows));
    const lastRows = data.rows - (steps - 1) * batchSize;
    const last = lastRows === full.batchSize ? full : await batch(lastRows);
    return { data, batchSize, steps, full, last };
  }

  /** The dispatches that gather `batchSize` rows of a data set into x and the targets, made on first use. */
  private gather(data: DeviceData, batchSize: number): Promise<Dispatch[]> {
    let gathers = data.gathers.get(batchSize);
    if (!gathers) {
      const { device, indices, x, targets, kernels } = this.target;
      const column = async (source: GatherSource, into: Tensor) => {
        const dispatch = await gatherForward(device, { source, indices: rows(indices, batchSize), y: rows(into, batchSize) });
        dispatch.site = 'input';
        const override = kernels.get(dispatch.kernel.name);
        return override ? applyOverride(device, dispatch, override) : dispatch;
      };
      gathers = Promise.all([column(data.columns.x, x), column(data.columns.y, targets)]);
      data.gathers.set(batchSize, gathers);
    }
    return gathers;
  }

  /** Destroys every data set held. */
  destroy(): void {
    for (const data of this.held.splice(0)) destroyData(data);
  }
}

function destroyData(data: DeviceData): void {
  for (const buffer of new Set([data.columns.x.data.buffer, data.columns.y.data.buffer, data.order.buffer])) buffer.destroy();
  for (const gathers of data.gathers.values()) gathers.then(destroyDispatches, () => {});
}
