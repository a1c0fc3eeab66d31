// The graph: builds a list of layers into GPU buffers and dispatch lists
// (plans), all created once, and is the one place that records and submits
// steps (train, evaluate, predict) and reads their metrics back. Passes over a
// data set (training/pass.ts) and the data sets themselves (dataSets.ts) use it.
//
// Buffer plan: every parameter lives in one buffer (the arena), every gradient
// in a second with the same layout, and each optimizer state in one more, so a
// single dispatch updates the whole model. Each layer makes its own activation
// buffers, sized for the largest batch; a smaller batch (the last of an epoch)
// uses the first rows of the same buffers with dispatches of its own.
import { bytes, checkBufferSize, createTensor, readTensor, rows, sizeOf, writeTensor, type DType, type Tensor } from './buffers';
import { pixelValues } from './data';
import { layerKind, layerName, layerShapes, type LayerConfig } from './layers';
import type { BuiltLayer, ParamSpec, ParamTensors } from './layers/layer';
import { batchAt, DataSets, type Inputs, type Pass } from './dataSets';
import { lossConfig, lossDispatches, lossPlan, metricNames, type LossOption, type LossPlan, type MetricName } from './losses';
import { GATHER_KERNELS } from './ops/gather';
import { LOSS_SCALE_DEFAULTS, lossScaling, type LossScaleConfig, type LossScaleTensors } from './ops/lossScale';
import { optimizerUpdate, stateSize, type OptimizerConfig } from './ops/optimizer';
import { learningRateStep } from './ops/schedule';
import { kerasPrinted } from './ops/sums';
import type { Autotuner } from './autotune';
import type { SetupListener } from './setupProgress';
import { applyOverride, destroyDispatches, encodeDispatches, runDispatches, type Dispatch, type KernelOverride, type Precision } from './pipelines';

export type { Inputs } from './dataSets';

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
  batchSize: number;
  /** Forward to what the loss reads (the logits, for a fused activation), loss and metrics accumulated, backward, update. */
  train: Dispatch[];
  /** Forward, loss gradient and backward, leaving every gradient in the gradient arena (in mixed precision, times the loss scale). */
  gradients: Dispatch[];
  /**
   * The optimizer's update: `gradients` then `update` is `train` without the
   * metrics. In mixed precision, the gradients are unscaled and checked first,
   * and the update skipped after a non-finite step.
   */
  update: Dispatch[];
  /** Forward to what the loss reads, loss and metrics accumulated. */
  evaluate: Dispatch[];
  /** Forward to the model's outputs (probabilities after a softmax or sigmoid). */
  predict: Dispatch[];
}

/** Metric values by Keras' names: `loss`, each compiled metric (`accuracy`, `mse`), and after validation `val_loss`, `val_accuracy`. */
export interface Logs {
  loss: number;
  [metric: string]: number;
}

/** What a progress update reads back: the running means since the sums were last cleared. */
export interface Progress {
  logs: Logs;
  /**
   * In training, the figures Keras 3 prints for the epoch so far: the mean of
   * the running means after each step, the last counted twice (`kerasPrinted`).
   */
  printed?: Logs;
}

/** What `Graph.submit` records: steps `first` to `last` (0-based, inclusive) of a pass, and what goes around them. */
export interface StepOptions {
  kind: 'train' | 'evaluate';
  first: number;
  last: number;
  /** Zero the loss' and metrics' sums first (the start of an epoch). */
  clear?: boolean;
  /**
   * Copy the sums out after the step and resolve to their means over `seen`
   * rows; in training (`steps` given, the steps since the sums were cleared) Keras' figures too.
   */
  snapshot?: { seen: number; steps?: number };
  /** Copy the training state into this slot of the saved states after the steps (`copyState`). */
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
  /** The updates made so far (Keras' optimizer.iterations). */
  optimizerStep: number;
  /** What `Graph.rate` holds: the learning rate set, or with a schedule the last update's. */
  learningRate: number;
  /** Each layer's `state` tensor (dropout's step counter), in `Graph.states` order. */
  layers: (Float32Array | Uint32Array)[];
  /** The epoch's sums so far: Σ loss and Σ each metric, and the running means' [rows, Σ loss, Σ each metric] (ops/sums.ts). */
  sums: Float32Array;
  runningMeans: Float32Array;
  /** In mixed precision: the loss scale, and the finite steps since it last changed (Keras' dynamic_scale and step_counter). */
  lossScale?: { scale: number; finiteSteps: number };
}

/** What a graph is built from. */
export interface GraphOptions {
  layers: readonly LayerConfig[];
  inputShape: readonly number[];
  /** Rows every buffer holds: the largest batch a plan can run. */
  maxBatchSize: number;
  optimizer: OptimizerConfig;
  /** sparseCategoricalCrossentropy by default. */
  loss?: LossOption;
  /** None by default, as in Keras: the logs hold the loss only. */
  metrics?: readonly MetricName[];
  /** Draws the initial weights and the layers' seeds. */
  random: () => number;
  /** Kernels replaced in every plan, by Kernel.name (`conv2d.wgsl:forward`). */
  kernels?: ReadonlyMap<string, KernelOverride>;
  /** Chooses each plan's kernel variants; without it, the defaults run. */
  tuner?: Autotuner;
  /** 'mixed': products in f16 where the device has shader-f16, and the loss scaled dynamically (`lossScale`); 'float32' by default. */
  precision?: Precision;
  /** In mixed precision, the loss scaling's settings; Keras' by default. */
  lossScale?: LossScaleConfig;
  /** Told as a plan's kernels are compiled and tuned, and as data goes to the GPU (setupProgress.ts). */
  onProgress?: SetupListener;
}

/** Metric readbacks that may be in flight at once: the GPU runs ahead while they map. */
export const READBACKS = 3;
/** Copies of the training state kept for a non-finite loss' hunt (training/nanHunt.ts): the last update read finite, and each pending one. */
export const SAVED_STATES = READBACKS + 1;

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
  /** What the loss compares the outputs with: labels u32 [B] (sparse cross-entropy) or targets [B, ...output]. */
  readonly targets: Tensor;
  /** The rows of the data set a step gathers into x and targets: copied from a pass' order on the GPU. */
  readonly indices: Tensor;
  /** The loss, its metrics, and what they make of the last layer (losses.ts). */
  readonly loss: LossPlan;
  /** What the loss reads and where it writes its gradient: the last layer's logits for a fused activation, else its output. */
  readonly lossInput: { value: Tensor; grad: Tensor };
  /** The last layer's output: what predict returns. */
  readonly outputs: Tensor;
  /** Σ loss and Σ each metric since the last clear, on the GPU (ops/sums.ts). */
  readonly sums: Tensor;
  /** [rows seen, Σ running mean loss, Σ running mean of each metric] over the steps since the last clear (read in training only). */
  readonly runningMeans: Tensor;
  /** One u32: the optimizer's updates so far (Keras' optimizer.iterations), counted by each update. */
  readonly step: Tensor;
  /**
   * One f32: the learning rate the updates read. With a number as the
   * optimizer's rate, the rate in effect (`learningRate`, which sets it); with
   * a schedule, each update writes its own rate there.
   */
  readonly rate: Tensor;
  /** The rate `rate` holds, with a number as the optimizer's rate. */
  private rateValue: number;
  /** With a schedule: the dispatch that computes the rate in effect, and the tensor it writes it to; made on first use. */
  private rateQuery?: Promise<{ dispatch: Dispatch; rate: Tensor }>;
  /** What layers keep from step to step (context.state), named `layers.<i>.<what>`, in build order. */
  readonly states: { name: string; tensor: Tensor }[] = [];
  private readonly tensors: Tensor[] = [];
  private readonly readbacks: GPUBuffer[] = [];
  /** Copies of the training state at recent progress updates, made on the first training run (see `copyState`). */
  private saved?: GPUBuffer[];
  /** How the device was lost, once it is. */
  private lost?: GPUDeviceLostInfo;
  /** What the error scopes around each submit found, `what: message`, or null; read by checkErrors. */
  private errors: Promise<string | null>[] = [];
  private readonly plans = new Map<number, Promise<Plan>>();
  /** The data sets held on the GPU for passes over them. */
  readonly data: DataSets;
  readonly inputShape: readonly number[];
  /** Rows every buffer holds: the largest batch a plan can run. */
  readonly maxBatchSize: number;
  readonly optimizer: OptimizerConfig;
  /** Kernels replaced in every plan, by Kernel.name (`conv2d.wgsl:forward`). */
  readonly kernels: ReadonlyMap<string, KernelOverride>;
  /** Chooses each plan's kernel variants; without it, the defaults run. */
  readonly tuner?: Autotuner;
  readonly precision: Precision;
  /** In mixed precision: the loss scaling's settings and state (see ops/lossScale.ts); null in float32. */
  readonly lossScale: (LossScaleTensors & { config: LossScaleConfig }) | null = null;
  private readonly onProgress?: SetupListener;

  constructor(
    readonly device: GPUDevice,
    options: GraphOptions,
  ) {
    device.lost.then((info) => (this.lost = info));
    const { layers: configs, inputShape, maxBatchSize, optimizer, random } = options;
    this.inputShape = inputShape;
    this.maxBatchSize = maxBatchSize;
    this.optimizer = optimizer;
    this.kernels = options.kernels ?? new Map();
    this.tuner = options.tuner;
    this.precision = options.precision ?? 'float32';
    this.onProgress = options.onProgress;
    const shapes = layerShapes(configs, inputShape);
    const output = shapes[shapes.length - 1].output;
    // The loss is checked against the last layer before anything is allocated.
    this.loss = lossPlan(lossConfig(options.loss ?? 'sparseCategoricalCrossentropy', 'Graph'), metricNames(options.metrics ?? [], 'Graph'), configs, output);
    // The loss and each metric: the figures summed.
    const figures = this.loss.names.length;
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

      const B = maxBatchSize;
      this.x = this.tensor([B, ...inputShape], 'input');
      this.targets = this.loss.targets === 'labels' ? this.tensor([B], 'labels', 'u32') : this.tensor([B, ...output], 'targets');
      this.indices = this.tensor([B], 'batch indices', 'u32');
      this.sums = this.tensor([figures], 'metric sums');
      this.runningMeans = this.tensor([1 + figures], 'running means');
      this.step = this.tensor([1], 'optimizer step', 'u32');
      this.rateValue = typeof optimizer.learningRate === 'number' ? Math.fround(optimizer.learningRate) : 0;
      this.rate = this.tensor([1], 'learning rate', 'f32', [this.rateValue]);
      if (this.precision === 'mixed') {
        const config = options.lossScale ?? LOSS_SCALE_DEFAULTS;
        this.lossScale = { config, scale: this.tensor([1], 'loss scale', 'f32', [config.initialScale]), finiteSteps: this.tensor([1], 'loss scale finite steps', 'u32') };
      }
      for (let i = 0; i < READBACKS; i++) {
        // The sums, then the running means but the rows seen.
        this.readbacks.push(device.createBuffer({ label: `metrics readback ${i}`, size: 8 * figures, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
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
        const fused = last && this.loss.fused !== null;
        const built = layerKind(config, i).build(config, {
          device,
          name,
          input: i === 0 ? [...inputShape] : shapes[i - 1].output,
          output,
          maxBatchSize: B,
          params,
          x,
          dX,
          needsOutputGradient: !fused && (specs.length > 0 || dX !== null),
          activationInLoss: fused,
          inputRelu: i > 0 && reluFolded[i - 1] && dX !== null,
          outputReluFolded: reluFolded[i],
          precision: this.precision,
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
    const last = this.layers[this.layers.length - 1].built;
    const input = this.loss.fused ? last.logits : last.dY && { value: last.y, grad: last.dY };
    if (!input) {
      this.destroy();
      throw new Error(`${this.loss.loss.kind}: the model has no parameters to train`);
    }
    this.lossInput = input;
    this.outputs = last.y;
    this.data = new DataSets({
      device,
      inputShape,
      x: this.x,
      targets: this.targets,
      indices: this.indices,
      kernels: this.kernels,
      plan: (batchSize) => this.plan(batchSize),
      onProgress: options.onProgress,
      checkSize: (what, size, advice) => this.checkSize(what, size, advice),
    });
  }

  private checkSize(what: string, size: number, advice = ''): void {
    checkBufferSize(this.device.limits, { what, size, advice });
  }

  /** A buffer of the graph's, checked against the device's limits first: the error names it (and so its layer). */
  private tensor(shape: readonly number[], label: string, dtype: DType = 'f32', data?: ArrayLike<number>): Tensor {
    this.checkSize(`${label} [${shape.join(', ')}]`, sizeOf(shape) * 4);
    const tensor = createTensor(this.device, shape, { label, dtype, data });
    this.tensors.push(tensor);
    return tensor;
  }

  /** The dispatches for a batch of `batchSize` rows, created on first use. */
  plan(batchSize: number): Promise<Plan> {
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > this.maxBatchSize) {
      throw new Error(`plan(): batch size ${batchSize} must be an integer from 1 to ${this.maxBatchSize}`);
    }
    let plan = this.plans.get(batchSize);
    if (!plan) {
      plan = this.createPlan(batchSize);
      this.plans.set(batchSize, plan);
    }
    return plan;
  }

  private async createPlan(batchSize: number): Promise<Plan> {
    const device = this.device;
    // Compiled in parts, each told to the listener before it starts: every layer's forward, its backward, the loss, the optimizer, the overrides.
    const total = 2 * this.layers.length + 2 + (this.kernels.size > 0 ? 1 : 0);
    let done = 0;
    const compiling = (what: string) => this.onProgress?.({ stage: 'compile', done: done++, total, what: `${what}, batch ${batchSize}` });
    const inference: Dispatch[] = [];
    const training: Dispatch[] = [];
    const backward: Dispatch[] = [];
    for (const { name, built } of this.layers) {
      compiling(`${name} forward`);
      const forward = mark(name, await built.forward(batchSize));
      inference.push(...forward);
      training.push(...(built.forwardTraining ? mark(name, await built.forwardTraining(batchSize)) : forward));
    }
    for (const { name, built } of [...this.layers].reverse()) {
      compiling(`${name} backward`);
      backward.push(...mark(name, await built.backward(batchSize)));
    }

    compiling('the loss');
    // Evaluate accumulates the running means too, and never reads them.
    const loss = await lossDispatches(
      device,
      this.loss,
      { input: this.lossInput.value, grad: this.lossInput.grad, output: this.outputs, targets: this.targets, sums: this.sums, runningMeans: this.runningMeans },
      batchSize,
    );
    const metrics = mark('loss', loss.measure);
    const lossGradient = mark('loss', loss.gradient);
    compiling('the optimizer');
    const update = mark(
      'optimizer',
      await optimizerUpdate(device, this.optimizer, {
        param: this.arena,
        grad: this.gradArena,
        state: this.stateArenas,
        step: this.step,
        learningRate: this.rate,
        variables: this.params.map((p) => ({ start: p.start, length: sizeOf(p.spec.shape), trainable: p.spec.trainable })),
      }),
    );
    const outputs = mark('loss', loss.outputs);
    // Mixed precision: the loss' gradient scaled after it, the gradients unscaled and checked before the update, which they gate.
    const scaling = this.lossScale && (await lossScaling(device, this.lossScale.config, { ...this.lossScale, lossGradient: rows(this.lossInput.grad, batchSize), grad: this.gradArena, gated: update.length }));
    const scaleGradient = scaling ? mark('loss scale', [scaling.scaleGradient]) : [];
    const check = scaling ? mark('loss scale', scaling.check) : [];
    const all = [...new Set([...training, ...inference, ...backward, ...metrics, ...lossGradient, ...scaleGradient, ...check, ...update, ...outputs])];
    if (this.kernels.size > 0) {
      compiling('the kernels replaced');
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
    this.onProgress?.({ stage: 'compile', done, total, what: `the plan for batches of ${batchSize}` });
    // After the overrides, which are never tuned.
    await this.tuner?.tune(all, this.onProgress);
    // The update as it will run, overrides and all.
    scaling?.gate(update);
    return {
      batchSize,
      train: [...training, ...metrics, ...lossGradient, ...scaleGradient, ...backward, ...check, ...update],
      gradients: [...training, ...lossGradient, ...scaleGradient, ...backward],
      update: [...check, ...update],
      evaluate: [...inference, ...metrics],
      predict: [...inference, ...outputs],
    };
  }

  /**
   * Copies a batch of inputs (and labels or targets) into the graph's input
   * buffers, pixel bytes as their values (predict, profile; training gathers
   * its batches on the GPU).
   */
  writeBatch(x: Inputs, y?: ArrayLike<number>): void {
    const count = x.length / sizeOf(this.inputShape);
    writeTensor(this.device, rows(this.x, count), x instanceof Uint8Array ? pixelValues(x) : x);
    if (!y) return;
    const targets = rows(this.targets, count);
    if (targets.dtype === 'u32') writeTensor(this.device, targets, Uint32Array.from(y));
    else writeTensor(this.device, targets, y instanceof Uint8Array ? pixelValues(y) : Float32Array.from(y));
  }

  /**
   * Records steps `first` to `last` (0-based, inclusive) of a pass into one
   * command buffer (`encodeStep`) and submits it. With `snapshot`, the
   * running sums are copied out after the last, and the result resolves to
   * their means once the GPU gets there; at most READBACKS may be pending, so
   * a caller that keeps the GPU busy waits for the oldest first.
   */
  submit(pass: Pass, options: StepOptions): Promise<Progress> | null {
    const { kind, first, last } = options;
    const readback = options.snapshot === undefined ? undefined : this.readbacks.pop();
    if (options.snapshot !== undefined && !readback) throw new Error(`submit(): more than ${READBACKS} metric snapshots pending`);
    const encoder = this.device.createCommandEncoder({ label: `${kind} steps ${first + 1}-${last + 1}` });
    if (options.clear) for (const sum of [this.sums, this.runningMeans]) encoder.clearBuffer(sum.buffer);
    for (let step = first; step <= last; step++) {
      this.encodeStep(encoder, pass, step, { kind, label: `${kind} step ${step + 1}`, timestampWrites: options.timestampWrites?.(step) });
    }
    if (options.save !== undefined) this.copyState(encoder, 'save', options.save);
    if (readback) {
      const size = 4 * this.loss.names.length;
      encoder.copyBufferToBuffer(this.sums.buffer, 0, readback, 0, size);
      encoder.copyBufferToBuffer(this.runningMeans.buffer, 4, readback, size, size);
    }
    this.device.queue.submit([encoder.finish()]);
    return readback ? this.readSnapshot(readback, options.snapshot!) : null;
  }

  private async readSnapshot(buffer: GPUBuffer, { seen, steps }: { seen: number; steps?: number }): Promise<Progress> {
    try {
      await buffer.mapAsync(GPUMapMode.READ);
      const values = new Float32Array(buffer.getMappedRange().slice(0));
      buffer.unmap();
      const { names } = this.loss;
      const logs = Object.fromEntries(names.map((name, k) => [name, values[k] / seen])) as Logs;
      if (steps === undefined) return { logs };
      return { logs, printed: Object.fromEntries(names.map((name, k) => [name, kerasPrinted(values[names.length + k], logs[name], steps)])) as Logs };
    } finally {
      this.readbacks.push(buffer);
    }
  }

  /**
   * Records step `step` of a pass: a copy of its rows' indices from the pass'
   * order (a copy command: nothing is written from the CPU), then the gather
   * and the dispatches of `kind` in one compute pass.
   */
  encodeStep(
    encoder: GPUCommandEncoder,
    pass: Pass,
    step: number,
    { kind, label, timestampWrites }: { kind: 'train' | 'evaluate' | 'gradients'; label: string; timestampWrites?: GPUComputePassTimestampWrites },
  ): void {
    const batch = batchAt(pass, step);
    encoder.copyBufferToBuffer(pass.data.order.buffer, step * pass.batchSize * 4, this.indices.buffer, 0, batch.batchSize * 4);
    encodeDispatches(encoder, batch[kind], label, timestampWrites);
  }

  /**
   * Runs `record`, which submits work, inside validation and out-of-memory
   * error scopes, without waiting for them: `checkErrors` reports what they
   * found, named `what`, so a step never fails silently and never waits.
   */
  scoped(what: string, record: () => void): void {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    record();
    const validation = this.device.popErrorScope();
    const memory = this.device.popErrorScope();
    this.errors.push(Promise.all([validation, memory]).then(([v, m]) => (v || m ? `${what}: ${(v ?? m)!.message}` : null)));
  }

  /**
   * Throws the first error the scopes of the work submitted so far found, or
   * that the device is lost: its readbacks then resolve all the same (with
   * zeros), so a lost device must stop a pass here, before its figures are used.
   */
  async checkErrors(): Promise<void> {
    const found = (await Promise.all(this.errors.splice(0))).find((message) => message !== null);
    if (found) throw new Error(found);
    if (this.lost) throw new Error(`the GPU device is lost (${this.lost.reason}: ${this.lost.message})`);
  }

  /**
   * What training keeps from step to step, in one list: the parameters, the
   * optimizer's state, step and learning rate, and each layer's state.
   */
  private trainingState(): Tensor[] {
    const lossScale = this.lossScale ? [this.lossScale.scale, this.lossScale.finiteSteps] : [];
    return [this.arena, ...this.stateArenas, this.step, this.rate, ...lossScale, ...this.states.map(({ tensor }) => tensor)];
  }

  /**
   * The learning rate in effect: the one the next update uses, as float32
   * (Keras' optimizer.learning_rate). Set, it takes effect from the next step
   * submitted (one writeBuffer). Only for an optimizer compiled with a number
   * as its rate: a schedule's rate changes every step, and `readLearningRate` reads it.
   */
  get learningRate(): number {
    this.refuseSchedule('read with readLearningRate(), as it changes every step');
    return this.rateValue;
  }

  set learningRate(value: number) {
    this.refuseSchedule('not settable; compile the optimizer with a number as its learningRate to set the rate');
    if (typeof value !== 'number' || !(value > 0 && Number.isFinite(value))) throw new Error(`learningRate is ${value} but must be positive and finite`);
    this.rateValue = Math.fround(value);
    writeTensor(this.device, this.rate, Float32Array.of(value));
  }

  private refuseSchedule(what: string): void {
    const rate = this.optimizer.learningRate;
    if (typeof rate !== 'number') throw new Error(`learningRate: this optimizer's learning rate follows a schedule (${rate.kind}), so it is ${what}`);
  }

  /**
   * The learning rate the next update uses, after the work submitted so far:
   * the one set, or the schedule's at the current step, computed on the GPU as
   * the update will compute it.
   */
  async readLearningRate(): Promise<number> {
    if (typeof this.optimizer.learningRate === 'number') return this.rateValue;
    const schedule = this.optimizer.learningRate;
    this.rateQuery ??= (async () => {
      const rate = this.tensor([1], 'learning rate in effect');
      return { dispatch: await learningRateStep(this.device, schedule, { step: this.step, learningRate: rate }, false), rate };
    })();
    const { dispatch, rate } = await this.rateQuery;
    await runDispatches(this.device, [dispatch]);
    return (await readTensor(this.device, rate))[0];
  }

  /** Records a copy of the training state into saved slot `slot` ('save'), or back from it ('restore'). */
  copyState(encoder: GPUCommandEncoder, direction: 'save' | 'restore', slot: number): void {
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

  /** Everything training keeps on the GPU (see GraphState), read after the work submitted so far. */
  async readState(): Promise<GraphState> {
    const read = (tensor: Tensor) => readTensor(this.device, tensor);
    const [arena, step, rate, sums, runningMeans, lossScale, ...rest] = await Promise.all([
      read(this.arena),
      read(this.step),
      read(this.rate),
      read(this.sums),
      read(this.runningMeans),
      this.readLossScale(),
      ...this.stateArenas.map(read),
      ...this.states.map(({ tensor }) => read(tensor)),
    ]);
    return {
      arena: arena as Float32Array,
      optimizer: rest.slice(0, this.stateArenas.length) as Float32Array[],
      optimizerStep: step[0],
      learningRate: rate[0],
      layers: rest.slice(this.stateArenas.length),
      sums: sums as Float32Array,
      runningMeans: runningMeans as Float32Array,
      ...(lossScale && { lossScale }),
    };
  }

  /** In mixed precision, the loss scale the next step uses and the finite steps since it last changed, after the work submitted so far; null in float32. */
  async readLossScale(): Promise<{ scale: number; finiteSteps: number } | null> {
    if (!this.lossScale) return null;
    const [scale, finiteSteps] = await Promise.all([readTensor(this.device, this.lossScale.scale), readTensor(this.device, this.lossScale.finiteSteps)]);
    return { scale: scale[0], finiteSteps: finiteSteps[0] };
  }

  /** Puts back what `readState` read (from this graph or one built the same way). */
  writeState(state: GraphState): void {
    if (state.optimizer.length !== this.stateArenas.length || state.layers.length !== this.states.length) {
      throw new Error(`writeState(): ${state.optimizer.length} optimizer and ${state.layers.length} layer states given, the graph keeps ${this.stateArenas.length} and ${this.states.length}`);
    }
    if (!state.lossScale !== !this.lossScale) {
      throw new Error(`writeState(): a state ${state.lossScale ? 'with' : 'without'} a loss scale given to a graph in ${this.precision} precision`);
    }
    writeTensor(this.device, this.arena, state.arena);
    state.optimizer.forEach((values, i) => writeTensor(this.device, this.stateArenas[i], values));
    writeTensor(this.device, this.step, Uint32Array.of(state.optimizerStep));
    writeTensor(this.device, this.rate, Float32Array.of(state.learningRate));
    if (typeof this.optimizer.learningRate === 'number') this.rateValue = Math.fround(state.learningRate);
    state.layers.forEach((values, i) => writeTensor(this.device, this.states[i].tensor, values));
    writeTensor(this.device, this.sums, state.sums);
    writeTensor(this.device, this.runningMeans, state.runningMeans);
    if (this.lossScale && state.lossScale) {
      writeTensor(this.device, this.lossScale.scale, Float32Array.of(state.lossScale.scale));
      writeTensor(this.device, this.lossScale.finiteSteps, Uint32Array.of(state.lossScale.finiteSteps));
    }
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

  /** The outputs of every row of x (class probabilities, after a softmax), [count, ...output] row-major. */
  async predict(x: Inputs, batchSize: number): Promise<Float32Array> {
    const rowSize = sizeOf(this.inputShape);
    const count = x.length / rowSize;
    const classes = sizeOf(this.loss.output);
    const result = this.device.createBuffer({ label: 'predictions', size: count * classes * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      for (let start = 0; start < count; start += batchSize) {
        const batch = Math.min(batchSize, count - start);
        await this.submitPredict(`predict rows ${start + 1}-${start + batch}`, x.subarray(start * rowSize, (start + batch) * rowSize), (encoder) =>
          encoder.copyBufferToBuffer(this.outputs.buffer, this.outputs.offset, result, start * classes * 4, batch * classes * 4),
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
    this.data?.destroy();
    for (const buffer of this.readbacks) buffer.destroy();
    for (const buffer of this.saved ?? []) buffer.destroy();
    this.rateQuery?.then(({ dispatch }) => destroyDispatches([dispatch]), () => {});
    for (const plan of this.plans.values()) {
      plan.then((p) => destroyDispatches([...new Set([...p.train, ...p.evaluate, ...p.predict])]), () => {});
    }
  }
}
