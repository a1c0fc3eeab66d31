// The Keras-like API: sequential(layers), compile, fit, evaluate, predict,
// summary, and the model as safetensors bytes. A facade: it checks arguments,
// fit's loop is training/fit.ts, and the graph owns the GPU.
import { Autotuner, autotuneMode, tuningDefaults, type AutotuneMode, type TuningChoice, type TuningStore } from './autotune';
import { defaultGpu, freshGpu, type Gpu } from './device';
import { sizeOf } from './buffers';
import { Graph, type Inputs, type Logs } from './graph';
import { layerShapes, type LayerConfig, type LayerShape } from './layers';
import { optimizerConfig, type OptimizerConfig } from './ops/optimizer';
import { KernelProfiler, stats, type Stats } from './profile';
import { seededRandom } from './random';
import { checkWeights, encodeModelFile, readModelFile } from './modelFile';
import { fit, type FitOptions, type Trainee } from './training/fit';
import type { History } from './training/history';
import { evaluate, type EvaluateOptions } from './training/evaluate';
import type { SetupListener } from './setupProgress';
import type { Weight } from './safetensors';
import { normalizeOverrides, type KernelOverride, type KernelOverrides } from './pipelines';

export type { Inputs, Logs } from './graph';
export type { CheckpointInfo } from './checkpoint';
export type { DeviceLoss, EpochLogs, FitOptions } from './training/fit';
export type { History } from './training/history';
export type { EvaluateOptions } from './training/evaluate';

/** What predict returns: the values, row-major, with their shape ([count, ...outputShape]). */
export type ShapedArray = Float32Array & { readonly shape: readonly number[] };

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
  /**
   * Told of what the model does before its steps can run, which takes seconds
   * on a software adapter: compiling a plan's kernels, timing their variants,
   * putting data on the GPU (setupProgress.ts; `describeSetup` words it).
   */
  onProgress?: SetupListener;
}

export class Model {
  private compiled: Required<Pick<CompileOptions, 'seed'>> &
    Pick<CompileOptions, 'gpu' | 'recreateGpu' | 'autotune' | 'tuningStore' | 'onTuningNotice' | 'onProgress'> & { optimizer: OptimizerConfig; kernels?: Map<string, KernelOverride> } = {
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
  /** Set it during `evaluate` (from a callback or a button) to stop it at its next progress update, as Keras 3's stop_evaluating. */
  stopEvaluating = false;

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
      onProgress: options.onProgress,
    };
    this.tuner = undefined;
    this.random = seededRandom(this.compiled.seed);
    this.destroy();
  }

  /** The graph, built for batches of at least `batchSize` rows; a rebuild for a bigger batch keeps the weights. */
  private async build(batchSize: number): Promise<Graph> {
    if (this.graph && this.graph.maxBatchSize >= batchSize) return this.graph;
    const gpu = this.compiled.gpu ?? (await defaultGpu());
    const weights = await this.graph?.readArena();
    this.destroy();
    this.builtFrom = this.random.state;
    const graph = this.newGraph(gpu, batchSize, this.random);
    if (weights) graph.writeArena(weights);
    this.graph = graph;
    return graph;
  }

  private newGraph(gpu: Gpu, maxBatchSize: number, random: () => number): Graph {
    if (this.tuner?.device !== gpu.device) {
      const defaults = tuningDefaults();
      const { autotune = defaults.mode, tuningStore = defaults.store(), onTuningNotice } = this.compiled;
      this.tuner = new Autotuner(gpu, autotune, tuningStore, onTuningNotice);
    }
    const { optimizer, kernels, onProgress } = this.compiled;
    return new Graph(gpu.device, { layers: this.layers, inputShape: this.inputShape, maxBatchSize, optimizer, random, kernels, tuner: this.tuner, onProgress });
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

  /**
   * Trains with sparse categorical cross-entropy (training/fit.ts); returns
   * the logs of each epoch (with `resumeFrom`, those before it too). x and y
   * go to the GPU once and stay there while the same arrays are given (see
   * `DataSets.upload`): an array changed in place between two calls is not
   * sent again; give a new one.
   */
  async fit(x: Inputs, y: ArrayLike<number>, options: FitOptions = {}): Promise<History> {
    const count = this.checkData('fit()', x, y);
    if (options.validationData) this.checkData('fit() validationData', ...options.validationData);
    return fit(this.trainee(), { x, y, count }, options);
  }

  /** The optimizer's learning rate now; setting it takes effect from the next step (Keras' optimizer.learning_rate). */
  get learningRate(): number {
    return this.graph?.learningRate ?? this.compiled.optimizer.learningRate;
  }

  set learningRate(rate: number) {
    if (!this.graph) throw new Error('learningRate: the model has no graph yet (fit, evaluate or predict builds it)');
    this.graph.learningRate = rate;
  }

  /** What fit needs of this model, lent for one call. */
  private trainee(): Trainee {
    const model = this;
    return {
      architecture: { inputShape: [...this.inputShape], layers: [...this.layers] },
      optimizer: this.compiled.optimizer,
      random: this.random,
      get builtFrom() {
        return model.builtFrom;
      },
      get stopTraining() {
        return model.stopTraining;
      },
      set stopTraining(stop: boolean) {
        model.stopTraining = stop;
      },
      graph: (batchSize, buildFrom) => {
        if (buildFrom !== undefined) {
          this.destroy();
          this.random.state = buildFrom;
        }
        return this.build(batchSize);
      },
      replaceDevice: async () => {
        this.destroy();
        this.compiled.gpu = await (this.compiled.recreateGpu ?? freshGpu)();
      },
      evaluate: (x, y, options) => this.evaluate(x, y, options),
      model: this,
    };
  }

  /**
   * Mean loss and accuracy over a dataset. With `verbose: 1`, Keras' progress
   * bar; `callbacks` are told at each progress update (onTestBatchEnd), and
   * setting `stopEvaluating` stops it there, with the means so far.
   */
  async evaluate(x: Inputs, y: ArrayLike<number>, options: EvaluateOptions = {}): Promise<Logs> {
    const count = this.checkData('evaluate()', x, y);
    const { verbose = 0 } = options;
    if (verbose !== 0 && verbose !== 1) throw new Error(`evaluate(): verbose must be 0 or 1, got ${verbose}`);
    const graph = await this.build(Math.min(options.batchSize ?? 32, count));
    const batchSize = Math.min(graph.maxBatchSize, options.batchSize ?? graph.maxBatchSize);
    this.stopEvaluating = false;
    const callbacks = options.callbacks === undefined ? [] : [options.callbacks].flat();
    return evaluate(graph, { x, y, count }, { batchSize, verbose, callbacks, stop: () => this.stopEvaluating });
  }

  /** The model's outputs (class probabilities), row-major, with their shape: [count, ...outputShape]. */
  async predict(x: Inputs, options: { batchSize?: number } = {}): Promise<ShapedArray> {
    const count = this.checkData('predict()', x);
    const graph = await this.build(Math.min(options.batchSize ?? 32, count));
    const values = await graph.predict(x, Math.min(graph.maxBatchSize, options.batchSize ?? graph.maxBatchSize));
    return Object.assign(values, { shape: [count, ...this.outputShape] });
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
export async function loadModelBytes(bytes: Uint8Array, options: { source?: string } & Pick<CompileOptions, 'gpu' | 'onProgress' | 'onTuningNotice'> = {}): Promise<Model> {
  const { source, ...compile } = options;
  const { inputShape, layers, weights } = readModelFile(bytes, source ?? 'model');
  const model = new Model(layers, inputShape);
  model.compile(compile);
  await model.setWeights(weights);
  return model;
}

/** A model from a list of layers; the first layer gives the input shape. */
export function sequential(layers: LayerConfig[]): Model {
  const inputShape = layers[0]?.inputShape;
  if (!inputShape) throw new Error('sequential(): the first layer needs an inputShape, e.g. flatten({inputShape: [28, 28]})');
  return new Model(layers, inputShape);
}
