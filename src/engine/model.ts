// The Keras-like API: sequential(layers), compile, fit, evaluate, predict,
// summary, and the model as safetensors bytes. A facade: it checks arguments
// and walks epochs; the graph owns the GPU.
import { Autotuner, autotuneMode, tuningDefaults, type AutotuneMode, type TuningChoice, type TuningStore } from './autotune';
import { defaultGpu, freshGpu, lostInfo, type Gpu } from './device';
import { sizeOf } from './buffers';
import { Graph, type Inputs, type Logs } from './graph';
import { layerShapes, type LayerConfig, type LayerShape } from './layers';
import { optimizerConfig, type OptimizerConfig } from './ops/optimizer';
import { KernelProfiler, stats, type Stats } from './profile';
import { seededRandom } from './random';
import { checkWeights, encodeModelFile, readModelFile, type ModelFile } from './modelFile';
import { encodeCheckpoint, readCheckpoint, restoreState, type Checkpoint, type CheckpointInfo } from './checkpoint';
import type { Weight } from './safetensors';
import { normalizeOverrides, type KernelOverride, type KernelOverrides } from './pipelines';

export type { Inputs, Logs } from './graph';
export type { CheckpointInfo } from './checkpoint';

/** One layer's output for the inputs given to `Model.layerOutputs`. */
export interface LayerOutput {
  /** `layer 0 (conv2d)`. */
  name: string;
  type: LayerConfig['type'];
  /** Per input, without the batch dimension: [H, W, C] or [features]. */
  shape: number[];
  /** [count, ...shape], row-major. */
  values: Float32Array;
}

/** GPU time of one kernel of a training step (`Model.profile`). */
export interface KernelProfile {
  /** `conv2d.wgsl:forward`. */
  kernel: string;
  /** `layer 2 (conv2d)`, `loss` or `optimizer`. */
  site: string;
  /** Over the repeats, in ms. */
  ms: Stats;
  /** FLOPs and bytes counted from the shapes; null for a pass whose work is counted with another. */
  work: { flops: number; bytes: number } | null;
}
export type { Weight } from './safetensors';

export interface CompileOptions {
  optimizer?: 'sgd' | 'momentum' | 'rmsprop' | 'adam' | OptimizerConfig;
  loss?: 'sparseCategoricalCrossentropy';
  metrics?: 'accuracy'[];
  /** Makes initialisation and shuffling reproducible: same seed, same device, same losses. */
  seed?: number;
  /** The device to train on; by default the one `defaultGpu()` picks. */
  gpu?: Gpu;
  /**
   * Makes the device that replaces a lost one when `fit` recovers (see
   * `FitOptions.deviceLossRetries`); by default a new device from where
   * `defaultGpu()` gets its own (`freshGpu`).
   */
  recreateGpu?: () => Promise<Gpu>;
  /**
   * Replacement WGSL for some kernels, by name (`conv2d:forward`): a source, or
   * `{ source, constants }`. Each must use the built-in kernel's bindings and
   * `params` (checked by reflection when the model is first run).
   */
  kernels?: KernelOverrides;
  /**
   * How kernel variants are chosen (autotune.ts): 'cached' (the default) uses
   * the choices kept for this adapter and times those it has none for, within a
   * few seconds; 'full' times every variant again; 'off' runs the defaults.
   */
  autotune?: AutotuneMode;
  /** Where the choices are kept: by default localStorage in a browser, a file in the cache directory in Node (`webgpu-train/node`). */
  tuningStore?: TuningStore;
  /** Told of what tuning found worth saying (a cache entry ignored, its budget spent); console.warn by default. */
  onTuningNotice?: (message: string) => void;
}

export interface EpochLogs extends Logs {
  valLoss?: number;
  valAccuracy?: number;
  /** Wall time of the epoch's training steps (less any pause), divided by their number. */
  msPerStep: number;
  /** Steps run: all of the epoch's unless training was stopped. */
  steps: number;
}

export interface FitOptions {
  epochs?: number;
  batchSize?: number;
  shuffle?: boolean;
  validationData?: [Inputs, ArrayLike<number>];
  /**
   * Steps between progress updates (each reads the running loss and accuracy
   * back once). The steps between two updates (or checkpoints) are recorded
   * into one command buffer, so training stops and pauses at an update.
   */
  updateEvery?: number;
  /**
   * Called at each progress update with the running means of the epoch so far;
   * training waits for a promise it returns (a pause).
   */
  onBatchEnd?: (step: number, logs: Logs, epoch: number) => void | Promise<void>;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void;
  /**
   * Writes a checkpoint every `everySteps` steps (counted over the whole run)
   * and/or at the end of every epoch: `write` gets the bytes (see
   * checkpoint.ts) and where training is, and training waits for it.
   */
  checkpoint?: { everySteps?: number; everyEpoch?: boolean; write(bytes: Uint8Array, info: CheckpointInfo): Promise<void> };
  /**
   * A checkpoint `fit` wrote, to continue from: same model, optimizer, data
   * size and batch size. Training then goes on exactly as it would have.
   * `source` names it in errors (a file name).
   */
  resumeFrom?: Uint8Array | { bytes: Uint8Array; source: string };
  /**
   * How many times `fit` recovers when the GPU device is lost (a driver reset,
   * `device.destroy()`): it makes a new device (`CompileOptions.recreateGpu`),
   * rebuilds the model on it from the last checkpoint it wrote or else from
   * the state it read back at the last epoch's end (once an epoch, only when
   * this is above 0; at the start of fit too), and goes on from there. 0 (the
   * default): the loss stops training with an error naming where it happened.
   */
  deviceLossRetries?: number;
  /** Told of each device loss, recovered from or not, before training goes on (or the error is thrown). */
  onDeviceLost?: (loss: DeviceLoss) => void;
}

/** A device loss during `fit`, as `onDeviceLost` is told of it. */
export interface DeviceLoss {
  /** Where training was (0-based epoch; steps of it submitted) when the loss was found. */
  epoch: number;
  step: number;
  /** From `device.lost`: 'destroyed' or 'unknown', and the driver's message. */
  reason: string;
  message: string;
  /** Whether training goes on, and from where: the epoch and step of the state it was rebuilt from. */
  recovered: boolean;
  resumedAt?: { epoch: number; step: number };
  /** Losses so far in this fit, this one included. */
  count: number;
}

export class Model {
  private compiled: Required<Pick<CompileOptions, 'seed'>> &
    Pick<CompileOptions, 'gpu' | 'recreateGpu' | 'autotune' | 'tuningStore' | 'onTuningNotice'> & { optimizer: OptimizerConfig; kernels?: Map<string, KernelOverride> } = {
    seed: Date.now() >>> 0,
    optimizer: optimizerConfig('rmsprop'),
  };
  /** The kernel variants chosen on the current device, kept across rebuilds on it. */
  private tuner?: Autotuner;
  private graph?: Graph;
  /** The generator's state when the graph was built: a graph built again from it draws the same dropout seeds. */
  private builtFrom = 0;
  private random = seededRandom(this.compiled.seed);
  /**
   * Set it during `fit` (from a callback or a button) to stop training, as in
   * Keras: at the next progress update, after the steps already submitted (a
   * few updates' worth at most, as the GPU runs ahead of the readbacks).
   */
  stopTraining = false;

  /** Each layer's output shape and parameters, checked when the model is made. */
  readonly shapes: LayerShape[];

  constructor(
    readonly layers: readonly LayerConfig[],
    readonly inputShape: readonly number[],
  ) {
    if (layers.length === 0) throw new Error('sequential(): a model needs at least one layer');
    this.shapes = layerShapes(layers, inputShape);
  }

  compile(options: CompileOptions = {}): void {
    if (options.loss && options.loss !== 'sparseCategoricalCrossentropy') {
      throw new Error(`compile(): unknown loss '${options.loss}' (only 'sparseCategoricalCrossentropy')`);
    }
    for (const metric of options.metrics ?? []) {
      if (metric !== 'accuracy') throw new Error(`compile(): unknown metric '${metric}' (only 'accuracy')`);
    }
    if (options.autotune !== undefined) autotuneMode('compile(): autotune', options.autotune);
    const optimizer = options.optimizer ?? 'rmsprop';
    this.compiled = {
      seed: options.seed ?? this.compiled.seed,
      optimizer: typeof optimizer === 'string' ? optimizerConfig(optimizer) : optimizer,
      gpu: options.gpu,
      recreateGpu: options.recreateGpu,
      kernels: options.kernels && normalizeOverrides(options.kernels),
      autotune: options.autotune,
      tuningStore: options.tuningStore,
      onTuningNotice: options.onTuningNotice,
    };
    this.tuner = undefined;
    this.random = seededRandom(this.compiled.seed);
    this.destroy();
  }

  /** The graph, built for at least `batch` rows; a rebuild for a bigger batch keeps the weights. */
  private async build(batch: number): Promise<Graph> {
    if (this.graph && this.graph.maxBatch >= batch) return this.graph;
    const gpu = this.compiled.gpu ?? (await defaultGpu());
    const weights = await this.graph?.readArena();
    this.destroy();
    this.builtFrom = this.random.state;
    const graph = this.newGraph(gpu, batch, this.random);
    if (weights) graph.writeArena(weights);
    this.graph = graph;
    return graph;
  }

  private newGraph(gpu: Gpu, batch: number, random: () => number): Graph {
    if (this.tuner?.device !== gpu.device) {
      const defaults = tuningDefaults();
      const { autotune = defaults.mode, tuningStore = defaults.store(), onTuningNotice } = this.compiled;
      this.tuner = new Autotuner(gpu, autotune, tuningStore, onTuningNotice);
    }
    return new Graph(gpu.device, this.layers, this.inputShape, batch, this.compiled.optimizer, random, this.compiled.kernels, this.tuner);
  }

  /** Which variant of each kernel the model's plans run, how it was chosen, and the time each variant took (see autotune.ts). */
  get tuning(): { mode: AutotuneMode; choices: TuningChoice[]; timedRuns: number; spentMs: number } | null {
    const tuner = this.tuner;
    return tuner ? { mode: tuner.mode, choices: tuner.choices, timedRuns: tuner.timedRuns, spentMs: tuner.spentMs } : null;
  }

  /** Frees the GPU buffers; the model builds them again when next used. */
  destroy(): void {
    this.graph?.destroy();
    this.graph = undefined;
  }

  get outputShape(): number[] {
    return this.shapes[this.shapes.length - 1].output;
  }

  get paramCount(): number {
    return this.shapes.reduce((n, { params }) => n + params.reduce((m, p) => m + sizeOf(p.shape), 0), 0);
  }

  private checkData(what: string, x: Inputs, y?: ArrayLike<number>): number {
    const rowSize = sizeOf(this.inputShape);
    if (x.length % rowSize !== 0) {
      throw new Error(`${what}: x has ${x.length} values, not a whole number of inputs of shape [${this.inputShape.join(', ')}] (${rowSize} values each)`);
    }
    const count = x.length / rowSize;
    if (y) {
      if (y.length !== count) throw new Error(`${what}: x holds ${count} inputs but y holds ${y.length} labels`);
      const classes = this.outputShape[0];
      for (let i = 0; i < y.length; i++) {
        if (!Number.isInteger(y[i]) || y[i] < 0 || y[i] >= classes) {
          throw new Error(`${what}: label ${i} is ${y[i]}, outside 0..${classes - 1}`);
        }
      }
    }
    return count;
  }

  private shuffled(count: number, shuffle: boolean): Uint32Array {
    const order = Uint32Array.from({ length: count }, (_, i) => i);
    if (!shuffle) return order;
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  }

  /**
   * Trains with sparse categorical cross-entropy; returns the logs of each
   * epoch (with `resumeFrom`, those before it too). x and y go to the GPU once
   * and stay there while the same arrays are given (see `Graph.upload`): an
   * array changed in place between two calls is not sent again; give a new one.
   */
  async fit(x: Inputs, y: ArrayLike<number>, options: FitOptions = {}): Promise<EpochLogs[]> {
    const { epochs = 1, batchSize = 32, shuffle = true, validationData, checkpoint: checkpoints } = options;
    const count = this.checkData('fit()', x, y);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`fit(): batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(epochs) || epochs < 0) throw new Error(`fit(): epochs must be a non-negative integer, got ${epochs}`);
    if (validationData) this.checkData('fit() validationData', validationData[0], validationData[1]);
    const every = checkpoints?.everySteps;
    if (every !== undefined && (!Number.isInteger(every) || every < 1)) throw new Error(`fit(): checkpoint.everySteps must be a positive integer, got ${every}`);
    const retries = options.deviceLossRetries ?? 0;
    if (!Number.isInteger(retries) || retries < 0) throw new Error(`fit(): deviceLossRetries must be a non-negative integer, got ${retries}`);
    const steps = Math.ceil(count / batchSize);
    const batch = Math.min(batchSize, count);
    let graph!: Graph;
    let history: EpochLogs[] = [];
    let epoch = 0;
    let from: { step: number; seen: number } | undefined;
    /** Builds the graph again from a checkpoint (a resumed run, or a lost device's last state) and goes back to where it was taken. */
    const restore = async (checkpoint: Checkpoint) => {
      // The graph is built again from the generator's state its first build started from.
      this.destroy();
      this.random.state = checkpoint.run.random.build;
      graph = await this.build(batch);
      graph.writeState(restoreState(checkpoint, graph));
      this.random.state = checkpoint.run.random.epoch;
      history = checkpoint.run.history as unknown as EpochLogs[];
      epoch = checkpoint.run.epoch;
      from = checkpoint.run.step > 0 ? { step: checkpoint.run.step, seen: checkpoint.run.seen } : undefined;
    };
    if (options.resumeFrom) await restore(this.readResume(options.resumeFrom, batchSize, count));
    else graph = await this.build(batch);
    const updateEvery = options.updateEvery ?? Math.max(1, Math.ceil(steps / 20));
    // The data goes to the GPU, and the plans and gathers for the full and the partial last batch are made, before timing starts.
    const plan = async () => {
      await graph.prepare(graph.upload(x, y), batch);
    };
    await plan();
    const architecture = { inputShape: [...this.inputShape], layers: [...this.layers] };
    const snapshot = async (epoch: number, step: number, seen: number, epochRandom: number) => {
      const info = { epoch, step, steps, globalStep: epoch * steps + step };
      const run = { ...info, optimizer: this.compiled.optimizer, batchSize, samples: count, seen, random: { build: this.builtFrom, epoch: epochRandom }, history: JSON.parse(JSON.stringify(history)) };
      return { bytes: encodeCheckpoint(graph, architecture, run, await graph.readState()), info };
    };
    /** The state a lost device's replacement is rebuilt from: the last checkpoint written, or read back at the last epoch's end. */
    let last: { bytes: Uint8Array; info: CheckpointInfo } | undefined;
    const save = async (epoch: number, step: number, seen: number, epochRandom: number) => {
      last = await snapshot(epoch, step, seen, epochRandom);
      await checkpoints!.write(last.bytes, last.info);
    };
    if (retries > 0) last = await snapshot(epoch, from?.step ?? 0, from?.seen ?? 0, this.random.state);
    let losses = 0;
    this.stopTraining = false;
    while (epoch < epochs && !this.stopTraining) {
      const epochRandom = this.random.state;
      const order = this.shuffled(count, shuffle);
      const started = performance.now();
      let paused = 0;
      const first = from?.step ?? 0;
      let submitted = first;
      try {
        const onUpdate = async (step: number, logs: Logs) => {
          const called = performance.now();
          await options.onBatchEnd?.(step, logs, epoch);
          paused += performance.now() - called;
        };
        // A checkpoint that falls on an epoch's last step is written after the epoch's end (validation, onEpochEnd).
        const checkpointAfter = (step: number) => every !== undefined && step + 1 < steps && (epoch * steps + step + 1) % every === 0;
        const afterChunk = async (step: number, seen: number) => {
          submitted = step + 1;
          if (checkpointAfter(step)) await save(epoch, step + 1, seen, epochRandom);
        };
        const label = `epoch ${epoch + 1}/${epochs}`;
        const logs = await graph.run({ x, y, order }, 'train', batch, updateEvery, onUpdate, () => this.stopTraining, { from, endChunk: checkpointAfter, afterChunk, label });
        from = undefined;
        const epochLogs: EpochLogs = { ...logs, msPerStep: (performance.now() - started - paused) / Math.max(1, logs.steps - first) };
        if (validationData) {
          const val = await this.evaluate(validationData[0], validationData[1], { batchSize });
          epochLogs.valLoss = val.loss;
          epochLogs.valAccuracy = val.accuracy;
        }
        history.push(epochLogs);
        const whole = logs.steps === steps && !this.stopTraining;
        if (checkpoints && whole && (checkpoints.everyEpoch || (every && ((epoch + 1) * steps) % every === 0))) {
          await save(epoch + 1, 0, 0, this.random.state);
        } else if (retries > 0 && whole) {
          last = await snapshot(epoch + 1, 0, 0, this.random.state);
        }
        options.onEpochEnd?.(epoch, epochLogs);
        epoch++;
      } catch (error) {
        const info = await lostInfo(graph.device);
        if (!info) throw error;
        losses++;
        const recovered = losses <= retries && last !== undefined;
        const at = { epoch: last?.info.epoch ?? 0, step: last?.info.step ?? 0 };
        options.onDeviceLost?.({ epoch, step: submitted, reason: info.reason, message: info.message, recovered, ...(recovered && { resumedAt: at }), count: losses });
        if (!recovered) {
          const advice = retries > 0 ? `; gave up after ${retries} recover${retries === 1 ? 'y' : 'ies'}` : ' (set fit\'s deviceLossRetries to recover)';
          throw new Error(`fit(): the GPU device was lost in epoch ${epoch + 1}/${epochs} after step ${submitted}/${steps} was submitted (${info.reason}: ${info.message})${advice}`, { cause: error });
        }
        this.destroy();
        this.compiled.gpu = await (this.compiled.recreateGpu ?? freshGpu)();
        await restore(readCheckpoint(last!.bytes, `the state of epoch ${at.epoch + 1}, step ${at.step}`));
        await plan();
      }
    }
    return history;
  }

  /** A checkpoint to resume from, checked against this model and this call's data and batch size. */
  private readResume(from: Uint8Array | { bytes: Uint8Array; source: string }, batchSize: number, count: number): Checkpoint {
    const { bytes, source } = from instanceof Uint8Array ? { bytes: from, source: 'resumeFrom' } : from;
    const checkpoint = readCheckpoint(bytes, source);
    const fail = (what: string): never => {
      throw new Error(`fit(): cannot resume from ${source}: ${what}`);
    };
    const ours = JSON.stringify({ inputShape: this.inputShape, layers: this.layers });
    if (JSON.stringify(checkpoint.architecture) !== ours) fail('it was written for another model (its architecture differs from this one)');
    if (JSON.stringify(checkpoint.run.optimizer) !== JSON.stringify(this.compiled.optimizer)) {
      fail(`it was written with the optimizer ${JSON.stringify(checkpoint.run.optimizer)}, this model is compiled with ${JSON.stringify(this.compiled.optimizer)}`);
    }
    const { batchSize: b, samples } = checkpoint.run;
    if (b !== batchSize || samples !== count) fail(`it was written training on ${samples} samples in batches of ${b}, not ${count} in batches of ${batchSize}`);
    return checkpoint;
  }

  /** Mean loss and accuracy over a dataset. */
  async evaluate(x: Inputs, y: ArrayLike<number>, options: { batchSize?: number } = {}): Promise<Logs> {
    const count = this.checkData('evaluate()', x, y);
    const graph = await this.build(Math.min(options.batchSize ?? 32, count));
    const batchSize = Math.min(graph.maxBatch, options.batchSize ?? graph.maxBatch);
    const { loss, accuracy } = await graph.run({ x, y, order: this.shuffled(count, false) }, 'evaluate', batchSize, Infinity);
    return { loss, accuracy };
  }

  /** Class probabilities, [count, classes] row-major. */
  async predict(x: Inputs, options: { batchSize?: number } = {}): Promise<Float32Array> {
    const count = this.checkData('predict()', x);
    const graph = await this.build(Math.min(options.batchSize ?? 32, count));
    return graph.predict(x, Math.min(graph.maxBatch, options.batchSize ?? graph.maxBatch));
  }

  /** Every layer's output for the inputs `x` (inference: dropout off, moving statistics). */
  async layerOutputs(x: Float32Array): Promise<LayerOutput[]> {
    const count = this.checkData('layerOutputs()', x);
    const graph = await this.build(count);
    const outputs = await graph.layerOutputs(x);
    return this.layers.map((layer, i) => ({
      name: graph.layers[i].name,
      type: layer.type,
      shape: this.shapes[i].output,
      values: outputs[i],
    }));
  }

  /**
   * The GPU time of each kernel of a training step on the first `batchSize`
   * rows of x and y, over `repeats` steps after one untimed one, with this
   * model's weights in a graph of its own (so the model itself is not trained).
   * Needs the 'timestamp-query' feature; `Gpu.timestamps` says whether the device has it.
   */
  async profile(
    x: Inputs,
    y: ArrayLike<number>,
    options: { batchSize?: number; repeats?: number } = {},
  ): Promise<{ kernels: KernelProfile[]; roundingMs: number | null }> {
    const { batchSize = 128, repeats = 5 } = options;
    const count = this.checkData('profile()', x, y);
    const gpu = this.compiled.gpu ?? (await defaultGpu());
    if (!gpu.timestamps) {
      throw new Error("profile(): this adapter has no 'timestamp-query' feature, so kernels cannot be timed on the GPU");
    }
    const batch = Math.min(batchSize, count);
    const weights = this.graph && (await this.graph.readArena());
    const graph = this.newGraph(gpu, batch, seededRandom(this.compiled.seed));
    let profiler: KernelProfiler | undefined;
    try {
      if (weights) graph.writeArena(weights);
      const rowSize = sizeOf(this.inputShape);
      graph.writeBatch(x.subarray(0, batch * rowSize), Uint32Array.from({ length: batch }, (_, i) => y[i]));
      profiler = new KernelProfiler(gpu.device, (await graph.plan(batch)).train);
      await profiler.step();
      const samples: number[][] = profiler.runs.map(() => []);
      for (let r = 0; r < repeats; r++) (await profiler.step()).forEach((ms, i) => samples[i].push(ms));
      const kernels = profiler.runs.map((run, i) => ({ kernel: run.kernel, site: run.site, ms: stats(samples[i]), work: run.work }));
      return { kernels, roundingMs: profiler.roundingMs };
    } finally {
      profiler?.destroy();
      graph.destroy();
    }
  }

  /** The layer table, as Keras prints it. */
  summary(): string {
    const rows = this.layers.map((layer, i): [string, string, string] => {
      const { output, params } = this.shapes[i];
      const count = params.reduce((n, p) => n + sizeOf(p.shape), 0);
      return [`${layer.type}_${i} (${layer.type})`, `(None, ${output.join(', ')})`, count.toLocaleString('en-US')];
    });
    const header: [string, string, string] = ['Layer (type)', 'Output Shape', 'Param #'];
    const widths = [0, 1, 2].map((c) => Math.max(header[c].length, ...rows.map((r) => r[c].length)) + 2);
    const line = (r: [string, string, string]) => r[0].padEnd(widths[0]) + r[1].padEnd(widths[1]) + r[2].padStart(widths[2]);
    const rule = '─'.repeat(widths[0] + widths[1] + widths[2]);
    const count = (trainable: boolean) =>
      this.shapes
        .flatMap(({ params }) => params.filter((p) => (p.trainable ?? true) === trainable))
        .reduce((n, p) => n + sizeOf(p.shape), 0)
        .toLocaleString('en-US');
    const total = this.paramCount.toLocaleString('en-US');
    const counts = [`Total params: ${total}`, `Trainable params: ${count(true)}`, `Non-trainable params: ${count(false)}`];
    return [rule, line(header), rule, ...rows.map(line), rule, ...counts, rule].join('\n');
  }

  /** Every parameter, in layer order (kernel, then bias), named `layers.<i>.<name>`. */
  async getWeights(): Promise<Weight[]> {
    const graph = await this.build(1);
    const arena = await graph.readArena();
    return graph.params.map((p) => ({
      name: `layers.${p.layer}.${p.spec.name}`,
      shape: p.spec.shape,
      values: arena.slice(p.start, p.start + sizeOf(p.spec.shape)),
    }));
  }

  /** Replaces every parameter; names and shapes must match `getWeights()`'s, checked before the graph is built. */
  async setWeights(weights: Weight[]): Promise<void> {
    checkWeights(this.layers, this.shapes, weights, 'setWeights()');
    const graph = await this.build(1);
    const byName = new Map(weights.map((w) => [w.name, w]));
    const arena = new Float32Array(graph.arenaLength);
    for (const p of graph.params) arena.set(byName.get(`layers.${p.layer}.${p.spec.name}`)!.values, p.start);
    graph.writeArena(arena);
  }

  /** The model as a safetensors file: the architecture as JSON metadata, float32 weights. */
  async toBytes(): Promise<Uint8Array> {
    return encodeModelFile({ inputShape: [...this.inputShape], layers: [...this.layers] }, await this.getWeights());
  }
}

/**
 * A model from the bytes `Model.toBytes()` wrote. The whole file is checked
 * (readModelFile) before the model is made and its graph built.
 */
export async function loadModelBytes(bytes: Uint8Array, options: { source?: string; gpu?: Gpu } = {}): Promise<Model> {
  return modelFromFile(readModelFile(bytes, options.source ?? 'model'), options);
}

/** A model with the architecture and weights of a checked model file (ours, or a Keras file read as one). */
export async function modelFromFile(file: Pick<ModelFile, 'inputShape' | 'layers' | 'weights'>, options: { gpu?: Gpu } = {}): Promise<Model> {
  const model = new Model(file.layers, file.inputShape);
  model.compile({ gpu: options.gpu });
  await model.setWeights(file.weights);
  return model;
}

/** A model from a list of layers; the first layer gives the input shape. */
export function sequential(layers: LayerConfig[]): Model {
  const inputShape = layers[0]?.inputShape;
  if (!inputShape) throw new Error('sequential(): the first layer needs an inputShape, e.g. flatten({inputShape: [28, 28]})');
  return new Model(layers, inputShape);
}
