// The graph runner: builds a list of layers into GPU buffers and dispatch
// lists, all created once, and is the one place that records and submits
// steps (train, evaluate, predict) and reads their metrics back.
//
// Buffer plan: every parameter lives in one buffer (the arena), every gradient
// in a second with the same layout, and each optimizer state in one more, so a
// single dispatch updates the whole model. Each layer makes its own activation
// buffers, sized for the largest batch; a smaller batch (the last of an epoch)
// uses the first rows of the same buffers with dispatches of its own.
import { createTensor, readTensor, rows, sizeOf, writeTensor, type DType, type Tensor } from './buffers';
import { pixelValues } from './data';
import { layerKind, layerName, layerShapes, type LayerConfig } from './layers';
import type { BuiltLayer, ParamSpec, ParamTensors } from './layers/layer';
import { GATHER_KERNELS, gatherForward, packedWords, type GatherSource } from './ops/gather';
import { optimizerUpdate, stateSize, type OptimizerConfig } from './ops/optimizer';
import { softmaxForward } from './ops/softmax';
import { kerasPrinted, softmaxCrossEntropyBackward, softmaxCrossEntropyForward } from './ops/softmaxCrossEntropy';
import type { Autotuner } from './autotune';
import { applyOverride, destroyDispatches, encodeDispatches, type Dispatch, type KernelOverride } from './pipelines';

/** A parameter tensor of one layer, placed in the arena. */
export interface Param extends ParamTensors {
  layer: number;
  /** Offset in floats from the start of the arena. */
  start: number;
}

/** One layer of the graph: its config, shapes, parameters and buffers. */
export interface GraphLayer {
  name: string;
  config: LayerConfig;
  input: number[];
  output: number[];
  params: Param[];
  built: BuiltLayer;
}

/** The dispatches for one batch size, each marked with the layer (or `loss`, `optimizer`) it belongs to. */
export interface Plan {
  batch: number;
  /** Forward to the logits, loss and accuracy accumulated, backward, update. */
  train: Dispatch[];
  /** Forward, loss gradient and backward, leaving every gradient in the gradient arena. */
  gradients: Dispatch[];
  /** The optimizer's update: `gradients` then `update` is `train` without the metrics. */
  update: Dispatch[];
  /** Forward to the logits, loss and accuracy accumulated. */
  evaluate: Dispatch[];
  /** Forward to the probabilities. */
  predict: Dispatch[];
}

/** Inputs laid end to end: float32 values, or pixel bytes that stand for byte / 255 (`pixelValues`). */
export type Inputs = Float32Array | Uint8Array;

/**
 * A data set held on the GPU for `run`: its inputs (as they were given, f32 or
 * bytes), its labels, the order a pass takes its rows in, and the dispatches
 * that gather its batches into the graph's input and label tensors.
 */
export interface DeviceData {
  /** The arrays it was uploaded from: kept on the GPU while the same ones are given. */
  x: Inputs;
  y: ArrayLike<number>;
  rows: number;
  source: GatherSource;
  /** u32 [rows]: the rows of a pass in the order it takes them, written once a pass (`writeOrder`). */
  order: Tensor;
  /** The gather of a batch of each size, made on first use. */
  gathers: Map<number, Promise<Dispatch>>;
}

/** What a step of a pass records: it gathers `count` rows, then runs the plan for `count` rows. */
interface Batch {
  count: number;
  train: Dispatch[];
  evaluate: Dispatch[];
  /** A training step in two parts, to look between them (see `replay`). */
  gradients: Dispatch[];
  update: Dispatch[];
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
function batchAt(pass: Pass, step: number): Batch {
  return step === pass.steps - 1 ? pass.last : pass.full;
}

/** The same array, or views of the same bytes as the same type (a subarray taken twice). */
function sameArray(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a === b) return true;
  if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return false;
  return a.constructor === b.constructor && a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;
}

/** Data sets a graph keeps on the GPU: a training set and its validation set. */
const KEPT_DATA_SETS = 2;

/** Running means since the sums were last cleared. */
export interface Logs {
  loss: number;
  accuracy: number;
  /**
   * In training, the loss and accuracy as Keras 3 prints them for the epoch so
   * far: the mean of the running means after each step, the last counted twice.
   */
  keras?: { loss: number; accuracy: number };
}

export interface StepOptions {
  /** Zero the loss and accuracy sums first (the start of an epoch). */
  clear?: boolean;
  /**
   * Copy the sums out after the step and resolve to their means over `seen`
   * rows; in training (`steps` given, the steps since the sums were cleared) Keras' figures too.
   */
  snapshot?: { seen: number; steps?: number };
  /** Copy the training state into this slot of the saved states after the steps (see `replay`). */
  save?: number;
  /** GPU timestamps at the start and end of each step's compute pass, by step (benchmarks). */
  timestampWrites?: (step: number) => GPUComputePassTimestampWrites | undefined;
}

/**
 * What a training run keeps on the GPU, read back whole for a checkpoint and
 * written back to resume: with the same plans, training then continues bit for bit.
 */
export interface GraphState {
  /** The parameter arena, and each optimizer state arena (see `stateNames`), in arena layout. */
  arena: Float32Array;
  optimizer: Float32Array[];
  /** Adam's step count t (0 for the other optimizers). */
  optimizerStep: number;
  /** Each layer's `state` tensor (dropout's step counter), in `Graph.states` order. */
  layers: (Float32Array | Uint32Array)[];
  /** The epoch's sums so far: Σ loss, number correct, and the running means' [rows, Σ loss, Σ accuracy]. */
  lossSum: number;
  correct: number;
  runningMeans: Float32Array;
}

/** Where a `run` picks up (a resumed epoch) and where its command buffers end (checkpoints). */
export interface RunOptions {
  /** Steps already done and rows already seen in this epoch; the sums must hold them (`writeState`). */
  from?: { step: number; seen: number };
  /** Whether a command buffer must end after step `step` (0-based), as at a checkpoint. */
  endChunk?: (step: number) => boolean;
  /** Called after each command buffer is submitted, with its last step (0-based) and the rows seen so far; training waits for it. */
  afterChunk?: (step: number, seen: number) => Promise<void>;
  /** Starts the message of a non-finite loss: `epoch 2/5`. */
  label?: string;
}

/** A byte count for an error message: `1,048,576 bytes (1.0 MiB)`. */
const bytes = (n: number) => `${n.toLocaleString('en-US')} bytes (${(n / 2 ** 20).toFixed(1)} MiB)`;

/** Metric readbacks that may be in flight at once: the GPU runs ahead while they map. */
const READBACKS = 3;
/** Copies of the training state kept for `replay`: the last update read finite, and each pending one. */
const SAVED_STATES = READBACKS + 1;

/** Keras' glorot_uniform: U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)); or zeros, or ones. */
function initialValues(spec: ParamSpec, random: () => number): Float32Array {
  const values = new Float32Array(sizeOf(spec.shape));
  if (spec.init.kind === 'zeros') return values;
  if (spec.init.kind === 'ones') return values.fill(1);
  const limit = Math.sqrt(6 / (spec.init.fanIn + spec.init.fanOut));
  for (let i = 0; i < values.length; i++) values[i] = (2 * random() - 1) * limit;
  return values;
}

function mark(site: string, dispatches: Dispatch[]): Dispatch[] {
  for (const dispatch of dispatches) dispatch.site = site;
  return dispatches;
}

export class Graph {
  readonly layers: GraphLayer[] = [];
  readonly params: Param[] = [];
  /** Length of the parameter arena in floats (with alignment padding). */
  readonly arenaLength: number;
  readonly arena: Tensor;
  readonly gradArena: Tensor;
  readonly stateArenas: Tensor[];
  readonly x: Tensor;
  readonly labels: Tensor;
  /** The rows of the data set a step gathers into x and labels: copied from a pass' order on the GPU. */
  readonly indices: Tensor;
  /** The logits and their gradient, from the last layer. */
  readonly logits: { value: Tensor; grad: Tensor };
  readonly probabilities: Tensor;
  /** Σ loss and number correct since the last clear, on the GPU. */
  readonly lossSum: Tensor;
  readonly correct: Tensor;
  /** [rows seen, Σ running mean loss, Σ running mean accuracy] over the steps since the last clear (read in training only). */
  readonly runningMeans: Tensor;
  readonly step: Tensor;
  /** What layers keep from step to step (context.state), named `layers.<i>.<what>`, in build order. */
  readonly states: { name: string; tensor: Tensor }[] = [];
  private readonly tensors: Tensor[] = [];
  private readonly readbacks: GPUBuffer[] = [];
  /** Copies of the training state at recent progress updates, made on the first training run (see `replay`). */
  private saved?: GPUBuffer[];
  /** What the error scopes around each submit found, `what: message`, or null; read by checkErrors. */
  private errors: Promise<string | null>[] = [];
  private readonly plans = new Map<number, Promise<Plan>>();
  /** Held on the GPU, the one used least recently first. */
  private readonly dataSets: DeviceData[] = [];

  constructor(
    readonly device: GPUDevice,
    configs: readonly LayerConfig[],
    readonly inputShape: readonly number[],
    readonly maxBatch: number,
    readonly optimizer: OptimizerConfig,
    random: () => number,
    /** Kernels replaced in every plan, by Kernel.name (`conv2d.wgsl:forward`). */
    readonly kernels: ReadonlyMap<string, KernelOverride> = new Map(),
    /** Chooses each plan's kernel variants; without it, the defaults run. */
    readonly tuner?: Autotuner,
  ) {
    const shapes = layerShapes(configs, inputShape);
    // Every buffer: the arenas, the inputs and metrics, and each layer's own;
    // a device limit that one exceeds leaves nothing allocated.
    try {
      // The arena layout, with each tensor aligned for binding (but for one adjacent to the one before it).
      const align = device.limits.minStorageBufferOffsetAlignment / 4;
      let length = 0;
      const placed = shapes.flatMap(({ params }, layer) =>
        params.map((spec) => {
          if (!spec.adjacent) length = Math.ceil(length / align) * align;
          const start = length;
          length += sizeOf(spec.shape);
          return { layer, spec, start };
        }),
      );
      length = Math.ceil(length / align) * align;
      this.arenaLength = length;
      const largest = placed.reduce((a, b) => (sizeOf(b.spec.shape) > sizeOf(a.spec.shape) ? b : a), placed[0]);
      const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
      if (length * 4 > limit) {
        const name = `${layerName(configs[largest.layer], largest.layer)} ${largest.spec.name}`;
        throw new Error(
          `the parameters of all layers take ${bytes(length * 4)}, over this device's limit of ${bytes(limit)} for one buffer ` +
            `(the largest is ${name} [${largest.spec.shape.join(', ')}], ${bytes(sizeOf(largest.spec.shape) * 4)})`,
        );
      }
      const values = new Float32Array(length);
      for (const { spec, start } of placed) values.set(initialValues(spec, random), start);
      this.arena = this.tensor([length], 'parameters', 'f32', values);
      this.gradArena = this.tensor([length], 'gradients');
      this.stateArenas = Array.from({ length: stateSize(optimizer.kind) }, (_, i) => this.tensor([length], `${optimizer.kind} state ${i}`));
      const slice = (arena: Tensor, start: number, shape: number[]): Tensor => ({ ...arena, shape, offset: arena.offset + start * 4 });
      for (const { layer, spec, start } of placed) {
        this.params.push({ layer, spec, start, value: slice(this.arena, start, spec.shape), grad: slice(this.gradArena, start, spec.shape) });
      }

      const B = maxBatch;
      this.x = this.tensor([B, ...inputShape], 'input');
      this.labels = this.tensor([B], 'labels', 'u32');
      this.indices = this.tensor([B], 'batch indices', 'u32');
      this.lossSum = this.tensor([1], 'loss sum');
      this.correct = this.tensor([1], 'correct', 'u32');
      this.runningMeans = this.tensor([3], 'running means');
      this.step = this.tensor([1], 'optimizer step', 'u32');
      for (let i = 0; i < READBACKS; i++) {
        this.readbacks.push(device.createBuffer({ label: `metrics readback ${i}`, size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
      }

      // dLoss/dx is needed from the first layer with parameters on.
      let x = this.x;
      let dX: Tensor | null = null;
      // Where a layer ends in a ReLU whose gradient the next one applies in its own backward (LayerContext.inputRelu).
      const reluFolded = configs.map(
        (config, i) => i + 1 < configs.length && !!layerKind(config, i).endsInRelu?.(config) && !!layerKind(configs[i + 1], i + 1).foldsInputRelu,
      );
      configs.forEach((config, i) => {
        const name = layerName(config, i);
        const { output, params: specs } = shapes[i];
        const params = this.params.filter((p) => p.layer === i);
        const last = i === configs.length - 1;
        const built = layerKind(config, i).build(config, {
          device,
          name,
          input: i === 0 ? [...inputShape] : shapes[i - 1].output,
          output,
          maxBatch: B,
          params,
          x,
          dX,
          needsOutputGradient: !last && (specs.length > 0 || dX !== null),
          last,
          inputRelu: i > 0 && reluFolded[i - 1] && dX !== null,
          outputReluFolded: reluFolded[i],
          tensor: (what, shape, dtype = 'f32') => this.tensor([B, ...shape], `${name} ${what}`, dtype),
          state: (what, shape, dtype = 'f32') => {
            const tensor = this.tensor(shape, `${name} ${what}`, dtype);
            this.states.push({ name: `layers.${i}.${what}`, tensor });
            return tensor;
          },
          seed: () => Math.floor(random() * 2 ** 32),
        });
        this.layers.push({ name, config, input: i === 0 ? [...inputShape] : shapes[i - 1].output, output, params, built });
        x = built.y;
        dX = built.dY;
      });
    } catch (error) {
      this.destroy();
      throw error;
    }
    const last = this.layers[this.layers.length - 1];
    if (!last.built.logits || last.output.length !== 1) {
      this.destroy();
      throw new Error('sparseCategoricalCrossentropy: the last layer must be dense with a softmax activation');
    }
    this.logits = last.built.logits;
    this.probabilities = last.built.y;
  }

  /** Throws unless a buffer of `size` bytes can be made and bound on this device, naming `what`, the size and the limit. */
  private checkSize(what: string, size: number, advice = ''): void {
    const { maxStorageBufferBindingSize, maxBufferSize } = this.device.limits;
    if (size > Math.min(maxStorageBufferBindingSize, maxBufferSize)) {
      const [name, limit] = maxBufferSize < maxStorageBufferBindingSize ? ['maxBufferSize', maxBufferSize] : ['maxStorageBufferBindingSize', maxStorageBufferBindingSize];
      throw new Error(`${what} takes ${bytes(size)}, over this device's ${name} of ${bytes(limit)}${advice}`);
    }
  }

  /** A buffer of the graph's, checked against the device's limits first: the error names it (and so its layer). */
  private tensor(shape: readonly number[], label: string, dtype: DType = 'f32', data?: ArrayLike<number>): Tensor {
    this.checkSize(`${label} [${shape.join(', ')}]`, sizeOf(shape) * 4);
    const tensor = createTensor(this.device, shape, { label, dtype, data });
    this.tensors.push(tensor);
    return tensor;
  }

  get classes(): number {
    return this.logits.value.shape[1];
  }

  /** The dispatches for a batch of `batch` rows, created on first use. */
  plan(batch: number): Promise<Plan> {
    if (!Number.isInteger(batch) || batch < 1 || batch > this.maxBatch) {
      throw new Error(`plan(): batch ${batch} must be an integer from 1 to ${this.maxBatch}`);
    }
    let plan = this.plans.get(batch);
    if (!plan) {
      plan = this.createPlan(batch);
      this.plans.set(batch, plan);
    }
    return plan;
  }

  private async createPlan(b: number): Promise<Plan> {
    const device = this.device;
    const inference: Dispatch[] = [];
    const training: Dispatch[] = [];
    const backward: Dispatch[] = [];
    for (const { name, built } of this.layers) {
      const forward = mark(name, await built.forward(b));
      inference.push(...forward);
      training.push(...(built.forwardTraining ? mark(name, await built.forwardTraining(b)) : forward));
    }
    for (const { name, built } of [...this.layers].reverse()) backward.push(...mark(name, await built.backward(b)));

    const logits = rows(this.logits.value, b);
    const labels = rows(this.labels, b);
    // Evaluate accumulates the running means too, and never reads them.
    const metrics = mark('loss', [
      await softmaxCrossEntropyForward(device, { logits, labels, lossSum: this.lossSum, correct: this.correct, runningMeans: this.runningMeans }),
    ]);
    const lossGradient = mark('loss', [await softmaxCrossEntropyBackward(device, { logits, labels, dLogits: rows(this.logits.grad, b) })]);
    const update = mark(
      'optimizer',
      await optimizerUpdate(device, this.optimizer, {
        param: this.arena,
        grad: this.gradArena,
        state: this.stateArenas,
        ...(this.optimizer.kind === 'adam' && { step: this.step }),
      }),
    );
    const probabilities = mark('loss', [await softmaxForward(device, { x: logits, y: rows(this.probabilities, b) })]);
    const all = [...new Set([...training, ...inference, ...backward, ...metrics, ...lossGradient, ...update, ...probabilities])];
    if (this.kernels.size > 0) {
      // A data set's gather is made with it (see `gather`), and takes its override there.
      const names = new Set([...all.map((d) => d.kernel.name), ...GATHER_KERNELS]);
      for (const name of this.kernels.keys()) {
        if (!names.has(name)) throw new Error(`kernels: '${name}' is not a kernel this model runs (it runs: ${[...names].join(', ')})`);
      }
      for (const dispatch of all) {
        const override = this.kernels.get(dispatch.kernel.name);
        if (override) await applyOverride(device, dispatch, override);
      }
    }
    // After the overrides, which are never tuned.
    await this.tuner?.tune(all);
    return {
      batch: b,
      train: [...training, ...metrics, ...lossGradient, ...backward, ...update],
      gradients: [...training, ...lossGradient, ...backward],
      update,
      evaluate: [...inference, ...metrics],
      predict: [...inference, ...probabilities],
    };
  }

  /**
   * Copies a batch of inputs (and labels) into the graph's input buffers, pixel
   * bytes as their values (predict, profile; training gathers its batches on the GPU).
   */
  writeBatch(x: Inputs, labels?: Uint32Array): void {
    writeTensor(this.device, rows(this.x, x.length / sizeOf(this.inputShape)), x instanceof Uint8Array ? pixelValues(x) : x);
    if (labels) writeTensor(this.device, rows(this.labels, labels.length), labels);
  }

  /**
   * x and y on the GPU, uploaded the first time they are given and kept while
   * the same arrays (or views of the same bytes) are given again: across epochs
   * and calls. Two data sets are kept, a training and a validation set; a
   * third replaces the one used least recently. Bytes stay bytes, four to a word.
   */
  upload(x: Inputs, y: ArrayLike<number>): DeviceData {
    const kept = this.dataSets.findIndex((data) => sameArray(data.x, x) && sameArray(data.y, y));
    if (kept >= 0) {
      const [data] = this.dataSets.splice(kept, 1);
      this.dataSets.push(data);
      return data;
    }
    const rowSize = sizeOf(this.inputShape);
    const count = x.length / rowSize;
    if (!Number.isInteger(count) || count !== y.length) throw new Error(`upload(): x holds ${x.length} values, not ${y.length} rows of ${rowSize}`);
    const bytes = x instanceof Uint8Array;
    const shape = bytes ? [packedWords(x.length)] : [count, ...this.inputShape];
    const advice = bytes ? '' : ': fit and evaluate hold their data on the GPU whole; give pixels as bytes (a Uint8Array, a quarter of the size), or fewer rows';
    this.checkSize(`the data set [${[count, ...this.inputShape].join(', ')}] as ${bytes ? 'bytes' : 'float32'}`, sizeOf(shape) * 4, advice);
    const buffer = this.device.createBuffer({ label: `data set inputs (${bytes ? 'bytes' : 'f32'})`, size: sizeOf(shape) * 4, usage: GPUBufferUsage.STORAGE, mappedAtCreation: true });
    if (bytes) new Uint8Array(buffer.getMappedRange()).set(x);
    else new Float32Array(buffer.getMappedRange()).set(x);
    buffer.unmap();
    let labels: Tensor | undefined;
    try {
      labels = createTensor(this.device, [count], { label: 'data set labels', dtype: 'u32', data: y });
      const order = createTensor(this.device, [count], { label: 'data set order', dtype: 'u32' });
      const inputs: Tensor = { buffer, shape, dtype: bytes ? 'u32' : 'f32', offset: 0 };
      const data: DeviceData = { x, y, rows: count, source: { x: inputs, labels, bytes }, order, gathers: new Map() };
      this.dataSets.push(data);
      if (this.dataSets.length > KEPT_DATA_SETS) this.destroyData(this.dataSets.shift()!);
      return data;
    } catch (error) {
      buffer.destroy();
      labels?.buffer.destroy();
      throw error;
    }
  }

  private destroyData(data: DeviceData): void {
    for (const tensor of [data.source.x, data.source.labels, data.order]) tensor.buffer.destroy();
    for (const gather of data.gathers.values()) gather.then((dispatch) => destroyDispatches([dispatch]), () => {});
  }

  /** Puts the order of a pass (a permutation of the data set's rows: an epoch's shuffle) on the GPU. */
  writeOrder(data: DeviceData, order: Uint32Array): void {
    if (order.length !== data.rows) throw new Error(`writeOrder(): an order of ${order.length} rows for a data set of ${data.rows}`);
    writeTensor(this.device, data.order, order);
  }

  /** The dispatch that gathers `b` rows of a data set into x and labels, made on first use. */
  private gather(data: DeviceData, b: number): Promise<Dispatch> {
    let gather = data.gathers.get(b);
    if (!gather) {
      gather = (async () => {
        const [dispatch] = mark('input', [await gatherForward(this.device, { source: data.source, indices: rows(this.indices, b), y: rows(this.x, b), yLabels: rows(this.labels, b) })]);
        const override = this.kernels.get(dispatch.kernel.name);
        return override ? applyOverride(this.device, dispatch, override) : dispatch;
      })();
      data.gathers.set(b, gather);
    }
    return gather;
  }

  /** A pass over `data` in batches of `batchSize`: the plans and gathers of its full and last batch, made now if they are not yet. */
  async prepare(data: DeviceData, batchSize: number): Promise<Pass> {
    const steps = Math.ceil(data.rows / batchSize);
    const batch = async (count: number): Promise<Batch> => {
      const [plan, gather] = await Promise.all([this.plan(count), this.gather(data, count)]);
      return { count, train: [gather, ...plan.train], evaluate: [gather, ...plan.evaluate], gradients: [gather, ...plan.gradients], update: plan.update };
    };
    const full = await batch(Math.min(batchSize, data.rows));
    const last = data.rows - (steps - 1) * batchSize === full.count ? full : await batch(data.rows - (steps - 1) * batchSize);
    return { data, batchSize, steps, full, last };
  }

  /**
   * Records steps `first` to `last` (0-based, inclusive) of a pass into one
   * command buffer (`encodeStep`) and submits it. With `snapshot`, the
   * running sums are copied out after the last, and the result resolves to
   * their means once the GPU gets there; at most READBACKS may be pending, so
   * a caller that keeps the GPU busy waits for the oldest first.
   */
  submit(pass: Pass, kind: 'train' | 'evaluate', first: number, last: number, options: StepOptions = {}): Promise<Logs> | null {
    const readback = options.snapshot === undefined ? undefined : this.readbacks.pop();
    if (options.snapshot !== undefined && !readback) throw new Error(`submit(): more than ${READBACKS} metric snapshots pending`);
    const encoder = this.device.createCommandEncoder({ label: `${kind} steps ${first + 1}-${last + 1}` });
    if (options.clear) for (const sum of [this.lossSum, this.correct, this.runningMeans]) encoder.clearBuffer(sum.buffer);
    for (let step = first; step <= last; step++) this.encodeStep(encoder, pass, step, kind, `${kind} step ${step + 1}`, options.timestampWrites?.(step));
    if (options.save !== undefined) this.copyState(encoder, 'save', options.save);
    if (readback) {
      encoder.copyBufferToBuffer(this.lossSum.buffer, 0, readback, 0, 4);
      encoder.copyBufferToBuffer(this.correct.buffer, 0, readback, 4, 4);
      encoder.copyBufferToBuffer(this.runningMeans.buffer, 4, readback, 8, 8);
    }
    this.device.queue.submit([encoder.finish()]);
    return readback ? this.readSnapshot(readback, options.snapshot!) : null;
  }

  private async readSnapshot(buffer: GPUBuffer, { seen, steps }: { seen: number; steps?: number }): Promise<Logs> {
    try {
      await buffer.mapAsync(GPUMapMode.READ);
      const bytes = buffer.getMappedRange();
      const [lossSum, , lossMeans, accuracyMeans] = new Float32Array(bytes);
      const logs: Logs = { loss: lossSum / seen, accuracy: new Uint32Array(bytes, 4, 1)[0] / seen };
      if (steps !== undefined) {
        logs.keras = { loss: kerasPrinted(lossMeans, logs.loss, steps), accuracy: kerasPrinted(accuracyMeans, logs.accuracy, steps) };
      }
      buffer.unmap();
      return logs;
    } finally {
      this.readbacks.push(buffer);
    }
  }

  /**
   * Records step `step` of a pass: a copy of its rows' indices from the pass'
   * order (a copy command: nothing is written from the CPU), then the gather
   * and the dispatches of `kind` in one compute pass.
   */
  private encodeStep(encoder: GPUCommandEncoder, pass: Pass, step: number, kind: 'train' | 'evaluate' | 'gradients', label: string, timestampWrites?: GPUComputePassTimestampWrites): void {
    const batch = batchAt(pass, step);
    encoder.copyBufferToBuffer(pass.data.order.buffer, step * pass.batchSize * 4, this.indices.buffer, 0, batch.count * 4);
    encodeDispatches(encoder, batch[kind], label, timestampWrites);
  }

  /**
   * Trains on (or evaluates) the rows of x and y in `order`, `batchSize` at a
   * time, from x and y held on the GPU (`upload`), keeping the GPU busy: the
   * steps up to each progress update (every `updateEvery` steps, and the
   * last), or up to a step where `options.endChunk` says so, go into one
   * command buffer, whose metrics are read back without waiting on them.
   * `onUpdate` may return a promise (a paused run) that is awaited; `stop()` is
   * asked between command buffers, and once it is true none is submitted.
   * Returns the last running means and the steps run.
   */
  async run(
    data: { x: Inputs; y: ArrayLike<number>; order: Uint32Array },
    kind: 'train' | 'evaluate',
    batchSize: number,
    updateEvery: number,
    onUpdate?: (step: number, logs: Logs) => void | Promise<void>,
    stop: () => boolean = () => false,
    options: RunOptions = {},
  ): Promise<Logs & { steps: number }> {
    const { x, order } = data;
    const rowSize = sizeOf(this.inputShape);
    const onGpu = this.upload(x, data.y);
    this.writeOrder(onGpu, order);
    const pass = await this.prepare(onGpu, batchSize);
    const steps = pass.steps;
    const pending: { step: number; logs: Promise<Logs>; slot?: number }[] = [];
    let last: Logs = { loss: NaN, accuracy: NaN };
    // The last step whose loss was read back finite, and the saved state after it, for a non-finite loss' message.
    let finite = (options.from?.step ?? 0) - 1;
    let finiteSlot = 0;
    let nextSlot = 1;
    if (kind === 'train') {
      const encoder = this.device.createCommandEncoder({ label: 'save the training state' });
      this.copyState(encoder, 'save', 0);
      this.device.queue.submit([encoder.finish()]);
    }
    const settle = async () => {
      const snapshot = pending.shift()!;
      last = await snapshot.logs;
      await this.checkErrors();
      if (kind === 'train' && !Number.isFinite(last.loss)) {
        // Nothing more is submitted. The loss is read back every few steps: it
        // went non-finite in one of the steps after the last one read finite.
        while (pending.length > 0) await pending.shift()!.logs;
        // Found where the step it happened in is known exactly: a non-finite
        // input on the CPU, from the rows those steps took (bytes are always finite)...
        let found: [number, string] | null = null;
        for (let s = finite + 1; s <= snapshot.step && !found && x instanceof Float32Array; s++) {
          for (const index of order.subarray(s * batchSize, Math.min((s + 1) * batchSize, order.length))) {
            const at = x.subarray(index * rowSize, (index + 1) * rowSize).findIndex((v) => !Number.isFinite(v));
            if (at >= 0) {
              found = [s, `the input of ${this.layers[0].name} (row ${index} of x, its element ${at} is ${x[index * rowSize + at]})`];
              break;
            }
          }
        }
        // ...else by running those steps again, one at a time, from the state
        // saved after the last one read finite, and looking at every buffer
        // between each step's backward pass and its update: the first to hold
        // a non-finite value is where it was born (after an update it would
        // have spread to every layer before it).
        found ??= await this.replay(pass, finiteSlot, finite + 1, snapshot.step);
        const when = found ? `step ${found[0] + 1}/${steps}` : `one of steps ${finite + 2}-${snapshot.step + 1}/${steps}`;
        const culprit = found?.[1] ?? 'none, when those steps were run again from the state saved before them';
        const at = options.label ? `${options.label}, ${when}` : when;
        throw new Error(`training stopped: the loss is ${last.loss} at ${at}; the first non-finite values: ${culprit}`);
      }
      finite = snapshot.step;
      finiteSlot = snapshot.slot ?? finiteSlot;
      await onUpdate?.(snapshot.step, last);
    };
    let seen = options.from?.seen ?? 0;
    let step = options.from?.step ?? 0;
    while (step < steps && !stop()) {
      let end = step;
      while (end < steps - 1 && (end + 1) % updateEvery !== 0 && !options.endChunk?.(end)) end++;
      for (let s = step; s <= end; s++) seen += batchAt(pass, s).count;
      const update = end === steps - 1 || (end + 1) % updateEvery === 0 || stop();
      if (update && pending.length === READBACKS) await settle();
      const snapshot = update ? { seen, ...(kind === 'train' && { steps: end + 1 }) } : undefined;
      const first = step;
      // A training update saves the state in a slot of its own: the last one read finite, and each pending, keep theirs.
      const save = snapshot && kind === 'train' ? nextSlot : undefined;
      if (save !== undefined) nextSlot = (nextSlot + 1) % SAVED_STATES;
      this.scoped(`${kind} ${first === end ? `step ${end + 1}` : `steps ${first + 1}-${end + 1}`}/${steps}`, () => {
        const logs = this.submit(pass, kind, first, end, { clear: first === 0, snapshot, save });
        // Marked handled now: when the device is lost, those after the one awaited fail before they are awaited.
        logs?.catch(() => {});
        if (logs) pending.push({ step: end, logs, slot: save });
      });
      step = end + 1;
      await options.afterChunk?.(end, seen);
    }
    while (pending.length > 0) await settle();
    await this.checkErrors();
    return { ...last, steps: step };
  }

  /**
   * Runs `record`, which submits work, inside validation and out-of-memory
   * error scopes, without waiting for them: `checkErrors` reports what they
   * found, named `what`, so a step never fails silently and never waits.
   */
  private scoped(what: string, record: () => void): void {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    record();
    const validation = this.device.popErrorScope();
    const memory = this.device.popErrorScope();
    this.errors.push(Promise.all([validation, memory]).then(([v, m]) => (v || m ? `${what}: ${(v ?? m)!.message}` : null)));
  }

  /** Throws the first error the scopes of the work submitted so far found. */
  private async checkErrors(): Promise<void> {
    const found = (await Promise.all(this.errors.splice(0))).find((message) => message !== null);
    if (found) throw new Error(found);
  }

  /**
   * What training keeps from step to step, in one list: the parameters, the
   * optimizer's state and step, and each layer's state.
   */
  private trainingState(): Tensor[] {
    return [this.arena, ...this.stateArenas, this.step, ...this.states.map(({ tensor }) => tensor)];
  }

  /** Records a copy of the training state into saved slot `slot` ('save'), or back from it ('restore'). */
  private copyState(encoder: GPUCommandEncoder, direction: 'save' | 'restore', slot: number): void {
    const tensors = this.trainingState();
    const size = (t: Tensor) => sizeOf(t.shape) * 4;
    this.saved ??= Array.from({ length: SAVED_STATES }, (_, i) =>
      this.device.createBuffer({ label: `saved training state ${i}`, size: tensors.reduce((n, t) => n + size(t), 0), usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST }),
    );
    let offset = 0;
    for (const t of tensors) {
      if (direction === 'save') encoder.copyBufferToBuffer(t.buffer, t.offset, this.saved[slot], offset, size(t));
      else encoder.copyBufferToBuffer(this.saved[slot], offset, t.buffer, t.offset, size(t));
      offset += size(t);
    }
  }

  /**
   * Runs steps `first` to `last` of a pass again from the state saved in
   * `slot` (the state before `first`), each in two submissions: its forward,
   * loss gradient and backward, then, once every buffer has been found
   * finite, its update. Returns the step and the first buffer holding a
   * non-finite value, in the order the step computes them, or null.
   */
  private async replay(pass: Pass, slot: number, first: number, last: number): Promise<[number, string] | null> {
    const restore = this.device.createCommandEncoder({ label: 'restore the training state' });
    this.copyState(restore, 'restore', slot);
    this.device.queue.submit([restore.finish()]);
    for (let step = first; step <= last; step++) {
      const encoder = this.device.createCommandEncoder({ label: `replay step ${step + 1}` });
      this.encodeStep(encoder, pass, step, 'gradients', `replay step ${step + 1}`);
      this.device.queue.submit([encoder.finish()]);
      const culprit = await this.firstNonFinite(batchAt(pass, step).count);
      if (culprit) return [step, culprit];
      const update = this.device.createCommandEncoder({ label: `replay update ${step + 1}` });
      encodeDispatches(update, batchAt(pass, step).update, `replay update ${step + 1}`);
      this.device.queue.submit([update.finish()]);
    }
    return null;
  }

  /**
   * The first buffer holding a NaN or an infinity after a step's backward pass
   * (before its update), in the order the step computes them: the input, then
   * each layer's parameters and output, then the loss gradient and each layer's
   * gradients from the last layer back; or null. Read only in `replay`, once the
   * loss has gone non-finite, so no step pays for it.
   */
  private async firstNonFinite(batch: number): Promise<string | null> {
    const candidates: [string, Tensor][] = [[`the input of ${this.layers[0].name}`, rows(this.x, batch)]];
    for (const { name, params, built } of this.layers) {
      for (const p of params) candidates.push([`${name} ${p.spec.name}`, p.value]);
      candidates.push([`${name} output`, rows(built.y, batch)]);
    }
    candidates.push(['the loss gradient', rows(this.logits.grad, batch)]);
    for (const { name, params, built } of [...this.layers].reverse()) {
      if (built.dY && built.dY !== this.logits.grad) candidates.push([`${name} output gradient`, rows(built.dY, batch)]);
      for (const p of params) candidates.push([`${name} ${p.spec.name} gradient`, p.grad]);
    }
    for (const [what, tensor] of candidates) {
      const values = (await readTensor(this.device, tensor)) as Float32Array;
      const index = values.findIndex((v) => !Number.isFinite(v));
      if (index >= 0) return `${what} (element ${index} is ${values[index]})`;
    }
    return null;
  }

  /** Everything training keeps on the GPU (see GraphState), read after the work submitted so far. */
  async readState(): Promise<GraphState> {
    const read = (tensor: Tensor) => readTensor(this.device, tensor);
    const [arena, step, lossSum, correct, runningMeans, ...rest] = await Promise.all([
      read(this.arena),
      read(this.step),
      read(this.lossSum),
      read(this.correct),
      read(this.runningMeans),
      ...this.stateArenas.map(read),
      ...this.states.map(({ tensor }) => read(tensor)),
    ]);
    return {
      arena: arena as Float32Array,
      optimizer: rest.slice(0, this.stateArenas.length) as Float32Array[],
      optimizerStep: step[0],
      layers: rest.slice(this.stateArenas.length),
      lossSum: lossSum[0],
      correct: correct[0],
      runningMeans: runningMeans as Float32Array,
    };
  }

  /** Puts back what `readState` read (from this graph or one built the same way). */
  writeState(state: GraphState): void {
    if (state.optimizer.length !== this.stateArenas.length || state.layers.length !== this.states.length) {
      throw new Error(`writeState(): ${state.optimizer.length} optimizer and ${state.layers.length} layer states given, the graph keeps ${this.stateArenas.length} and ${this.states.length}`);
    }
    writeTensor(this.device, this.arena, state.arena);
    state.optimizer.forEach((values, i) => writeTensor(this.device, this.stateArenas[i], values));
    writeTensor(this.device, this.step, Uint32Array.of(state.optimizerStep));
    state.layers.forEach((values, i) => writeTensor(this.device, this.states[i].tensor, values));
    writeTensor(this.device, this.lossSum, Float32Array.of(state.lossSum));
    writeTensor(this.device, this.correct, Uint32Array.of(state.correct));
    writeTensor(this.device, this.runningMeans, state.runningMeans);
  }

  /** Runs the predict plan on the rows of x (`then` records what follows it, a copy out), inside error scopes named `what`. */
  private async submitPredict(what: string, x: Inputs, then?: (encoder: GPUCommandEncoder) => void): Promise<void> {
    const plan = await this.plan(x.length / sizeOf(this.inputShape));
    this.scoped(what, () => {
      this.writeBatch(x);
      const encoder = this.device.createCommandEncoder({ label: what });
      encodeDispatches(encoder, plan.predict, 'predict');
      then?.(encoder);
      this.device.queue.submit([encoder.finish()]);
    });
  }

  /** Class probabilities of every row of x, [count, classes] row-major. */
  async predict(x: Inputs, batchSize: number): Promise<Float32Array> {
    const rowSize = sizeOf(this.inputShape);
    const count = x.length / rowSize;
    const classes = this.classes;
    const result = this.device.createBuffer({ label: 'predictions', size: count * classes * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      for (let start = 0; start < count; start += batchSize) {
        const batch = Math.min(batchSize, count - start);
        await this.submitPredict(`predict rows ${start + 1}-${start + batch}`, x.subarray(start * rowSize, (start + batch) * rowSize), (encoder) =>
          encoder.copyBufferToBuffer(this.probabilities.buffer, this.probabilities.offset, result, start * classes * 4, batch * classes * 4),
        );
      }
      await this.checkErrors();
      await result.mapAsync(GPUMapMode.READ);
      return new Float32Array(result.getMappedRange().slice(0));
    } finally {
      result.destroy();
    }
  }

  /** Each layer's output for the rows of x, run as `predict` runs them: [rows, ...output] per layer. */
  async layerOutputs(x: Float32Array): Promise<Float32Array[]> {
    const count = x.length / sizeOf(this.inputShape);
    await this.submitPredict('layer outputs', x);
    await this.checkErrors();
    return Promise.all(this.layers.map(({ built }) => readTensor(this.device, rows(built.y, count)) as Promise<Float32Array>));
  }

  /** All parameters, in arena layout (see `params` for where each one starts). */
  async readArena(): Promise<Float32Array> {
    return (await readTensor(this.device, this.arena)) as Float32Array;
  }

  writeArena(values: Float32Array): void {
    writeTensor(this.device, this.arena, values);
  }

  /** Destroys every buffer the graph created, and the data sets it holds. */
  destroy(): void {
    for (const tensor of this.tensors) tensor.buffer.destroy();
    for (const data of this.dataSets.splice(0)) this.destroyData(data);
    for (const buffer of this.readbacks) buffer.destroy();
    for (const buffer of this.saved ?? []) buffer.destroy();
    for (const plan of this.plans.values()) {
      plan.then((p) => destroyDispatches([...new Set([...p.train, ...p.evaluate, ...p.predict])]), () => {});
    }
  }
}
