// The Keras-like API: sequential(layers), compile, fit, evaluate, predict,
// summary, and the model as safetensors bytes. A facade: it checks arguments,
// fit's loop is training/fit.ts, and the graph owns the GPU.
import { Autotuner, autotuneMode, tuningDefaults, type AutotuneMode, type TuningChoice, type TuningStore } from './autotune';
import { defaultGpu, describeAdapter, freshGpu, type Gpu } from './device';
import { sizeOf } from './buffers';
import { Graph, type Inputs, type Logs } from './graph';
import { layerShapes, type LayerConfig, type LayerShape } from './layers';
import { buildLoss, checkTargets, DEFAULT_LOSS, lossConfig, lossPlan, metricNames, type LossConfig, type LossOption, type LossPlan, type MetricName } from './losses';
import { lossScaleConfig, type LossScaleConfig } from './ops/lossScale';
import { optimizerConfig, toOptimizerConfig, type OptimizerConfig, type OptimizerKind } from './ops/optimizer';
import { KernelProfiler, stats, type Stats } from './profile';
import { seededRandom } from './random';
import { checkWeights, encodeModelFile, readModelFile, type ModelFile } from './modelFile';
import { fit, type FitOptions, type Trainee } from './training/fit';
import type { History } from './training/history';
import { evaluate, type EvaluateOptions } from './training/evaluate';
import type { SetupListener } from './setupProgress';
import type { Weight } from './safetensors';
import { normalizeOverrides, PRECISIONS, type KernelOverride, type KernelOverrides, type Precision } from './pipelines';

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
  /** An optimizer by name, with Keras' defaults, or its settings (`optimizerConfig`), checked here; by default 'rmsprop'. */
  optimizer?: OptimizerKind | OptimizerConfig;
  /**
   * Keras' losses (losses.ts): 'sparseCategoricalCrossentropy' (labels, the
   * default), 'categoricalCrossentropy' (one-hot rows), 'binaryCrossentropy'
   * (targets in [0, 1]), 'meanSquaredError' ('mse'), 'meanAbsoluteError'
   * ('mae'); or `{ kind, fromLogits: true }` for a cross-entropy of a model
   * whose last layer is linear. A cross-entropy takes over the last layer's
   * softmax or sigmoid, fused with it; a last layer that does not fit the loss is refused.
   */
  loss?: LossOption;
  /**
   * Keras' metrics, logged by Keras' names: 'accuracy' (sparse categorical,
   * categorical or binary accuracy, as the loss makes it), 'topKCategoricalAccuracy'
   * (k = 5; 'sparseTopKCategoricalAccuracy' for labels), 'mse', 'mae'. None by
   * default, as in Keras: the logs hold the loss only.
   */
  metrics?: MetricName[];
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
  /**
   * Told of what tuning found worth saying (a cache entry ignored, its budget
   * spent), and of mixed precision on a device without shader-f16; console.warn by default.
   */
  onTuningNotice?: (message: string) => void;
  /**
   * 'float32' (the default), or 'mixed', Keras' mixed_float16: the products of
   * conv2d and dense layers multiply in f16 where the device has the
   * 'shader-f16' feature (f16 variants of their kernels, which the autotuner
   * times against the f32 ones), accumulating in f32; weights, activations and
   * gradients are kept in f32; and the loss is scaled dynamically (Keras'
   * LossScaleOptimizer: `lossScale`). On a device without shader-f16 the
   * products run in f32, with a notice (onTuningNotice), and the loss is still scaled.
   */
  precision?: Precision;
  /** With precision 'mixed', the loss scaling's settings: Keras' initial_scale (2^15) and dynamic_growth_steps (2,000) by default. */
  lossScale?: Partial<LossScaleConfig>;
  /**
   * Told of what the model does before its steps can run, which takes seconds
   * on a software adapter: compiling a plan's kernels, timing their variants,
   * putting data on the GPU (setupProgress.ts; `describeSetup` words it).
   */
  onProgress?: SetupListener;
}

export class Model {
  private compiled: Required<Pick<CompileOptions, 'seed'>> &
    Pick<CompileOptions, 'gpu' | 'recreateGpu' | 'autotune' | 'tuningStore' | 'onTuningNotice' | 'onProgress'> & {
      optimizer: OptimizerConfig;
      /** Undefined when compile was given none (DEFAULT_LOSS, see buildLoss). */
      loss?: Required<LossConfig>;
      metrics: MetricName[];
      kernels?: Map<string, KernelOverride>;
      precision: Precision;
      lossScale?: LossScaleConfig;
    } = {
    seed: Date.now() >>> 0,
    optimizer: optimizerConfig('rmsprop'),
    metrics: [],
    precision: 'float32',
  };
  /** The kernel variants chosen on the current device, kept across rebuilds on it. */
  private tuner?: Autotuner;
  private graph?: Graph;
  /** The generator's state when the graph was built: a graph built again from it draws the same dropout seeds. */
  private builtFrom = 0;
  /** The weights of the graph `compile` let go of, for the next build: compiling keeps a model's weights, as in Keras. */
  private compiledFrom?: Promise<Float32Array>;
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
    const loss = options.loss === undefined ? undefined : lossConfig(options.loss, 'compile()');
    const metrics = metricNames(options.metrics ?? [], 'compile()');
    // What is given is checked against the layers now; the default loss when the model is first trained.
    if (loss || metrics.length > 0) lossPlan(loss ?? DEFAULT_LOSS, metrics, this.layers, this.outputShape);
    if (options.autotune !== undefined) autotuneMode('compile(): autotune', options.autotune);
    const precision = options.precision ?? 'float32';
    if (!PRECISIONS.includes(precision)) throw new Error(`compile(): precision must be one of ${PRECISIONS.join(', ')}, got '${precision}'`);
    if (options.lossScale !== undefined && precision !== 'mixed') throw new Error(`compile(): lossScale is for precision 'mixed', not '${precision}'`);
    this.compiled = {
      seed: options.seed ?? this.compiled.seed,
      optimizer: toOptimizerConfig(options.optimizer ?? 'rmsprop'),
      loss,
      metrics,
      gpu: options.gpu,
      recreateGpu: options.recreateGpu,
      kernels: options.kernels && normalizeOverrides(options.kernels),
      autotune: options.autotune,
      tuningStore: options.tuningStore,
      onTuningNotice: options.onTuningNotice,
      onProgress: options.onProgress,
      precision,
      ...(precision === 'mixed' && { lossScale: lossScaleConfig(options.lossScale, 'compile(): lossScale') }),
    };
    this.tuner = undefined;
    this.random = seededRandom(this.compiled.seed);
    // Read (the copy is recorded) before the graph is destroyed; written into the next one.
    this.compiledFrom = this.graph?.readArena() ?? this.compiledFrom;
    this.destroy();
  }

  /**
   * The graph, built for batches of at least `batchSize` rows; a rebuild for a
   * bigger batch keeps what training keeps (the weights, the optimizer's state,
   * step and learning rate), as Keras' model keeps its optimizer.
   */
  private async build(batchSize: number): Promise<Graph> {
    if (this.graph && this.graph.maxBatchSize >= batchSize) return this.graph;
    const gpu = this.compiled.gpu ?? (await defaultGpu());
    const state = await this.graph?.readState();
    this.destroy();
    this.builtFrom = this.random.state;
    const graph = this.newGraph(gpu, batchSize, this.random);
    if (state) graph.writeState(state);
    else if (this.compiledFrom) graph.writeArena(await this.compiledFrom);
    this.compiledFrom = undefined;
    this.graph = graph;
    return graph;
  }

  private newGraph(gpu: Gpu, maxBatchSize: number, random: () => number): Graph {
    const { optimizer, kernels, metrics, onProgress, precision, lossScale, onTuningNotice = (message: string) => console.warn(message) } = this.compiled;
    if (this.tuner?.device !== gpu.device) {
      const defaults = tuningDefaults();
      const { autotune = defaults.mode, tuningStore = defaults.store() } = this.compiled;
      this.tuner = new Autotuner(gpu, autotune, tuningStore, onTuningNotice);
      if (precision === 'mixed' && !gpu.device.features.has('shader-f16')) {
        onTuningNotice(
          `precision 'mixed': this device has no 'shader-f16' (${describeAdapter(gpu.adapter)}), so the products compute in float32; ` +
            'the loss is still scaled, so that its training state and checkpoints are those of a mixed-precision model',
        );
      }
    }
    const loss = this.compiled.loss ?? buildLoss(this.layers);
    const tuner = this.tuner;
    return new Graph(gpu.device, { layers: this.layers, inputShape: this.inputShape, maxBatchSize, optimizer, loss, metrics, random, kernels, tuner, precision, lossScale, onProgress });
  }

  /** The compiled loss and metrics, checked against the layers: what fit and evaluate compute. */
  private lossPlan(): LossPlan {
    return lossPlan(this.compiled.loss ?? DEFAULT_LOSS, this.compiled.metrics, this.layers, this.outputShape);
  }

  /** The precision the model was compiled with, and in mixed precision its loss scaling's settings. */
  get precision(): { precision: Precision; lossScale?: LossScaleConfig } {
    const { precision, lossScale } = this.compiled;
    return { precision, ...(lossScale && { lossScale }) };
  }

  /**
   * In mixed precision, Keras' loss_scale: the scale the next step multiplies
   * the loss' gradient by (one readback); null in float32.
   */
  async readLossScale(): Promise<number | null> {
    if (this.compiled.precision !== 'mixed') return null;
    return (await (await this.build(1)).readLossScale())!.scale;
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

  /** The rows of x, checked; and y against what the loss takes (losses.ts' checkTargets). */
  private checkData(what: string, x: Inputs, y?: ArrayLike<number>): number {
    const rowSize = sizeOf(this.inputShape);
    if (x.length % rowSize !== 0) {
      throw new Error(`${what}: x has ${x.length} values, not a whole number of inputs of shape [${this.inputShape.join(', ')}] (${rowSize} values each)`);
    }
    const count = x.length / rowSize;
    if (y) checkTargets(this.lossPlan(), y, count, what);
    return count;
  }

  /**
   * Trains with the compiled loss (training/fit.ts); returns the History of
   * each epoch's logs (with `resumeFrom`, those before it too). y holds labels
   * for the sparse cross-entropy, else a target row per example, of the
   * output's shape (float32, or pixel bytes standing for byte / 255, as x may
   * be: an autoencoder's y is its x). x and y go to the GPU once and stay
   * there while the same arrays are given (see `DataSets.upload`): an array
   * changed in place between two calls is not sent again; give a new one.
   */
  async fit(x: Inputs, y: ArrayLike<number>, options: FitOptions = {}): Promise<History> {
    const count = this.checkData('fit()', x, y);
    if (options.validationData) this.checkData('fit() validationData', ...options.validationData);
    return fit(this.trainee(), { x, y, count }, options);
  }

  /**
   * The learning rate in effect, as Keras' optimizer.learning_rate: for an
   * optimizer compiled with a number as its rate. Set, it takes effect from
   * the next step (before the model is first built, it becomes the compiled
   * rate). With a schedule, `readLearningRate` reads the rate, and setting it is refused.
   */
  get learningRate(): number {
    if (this.graph) return this.graph.learningRate;
    const rate = this.compiled.optimizer.learningRate;
    if (typeof rate !== 'number') throw new Error(`learningRate: this optimizer's learning rate follows a schedule (${rate.kind}): read it with readLearningRate()`);
    return Math.fround(rate);
  }

  set learningRate(rate: number) {
    if (this.graph) this.graph.learningRate = rate;
    else this.compiled.optimizer = toOptimizerConfig({ ...this.compiled.optimizer, learningRate: rate });
  }

  /** The rate the next update uses, a schedule's too (one small dispatch and readback with a schedule). */
  async readLearningRate(): Promise<number> {
    return (await this.build(1)).readLearningRate();
  }

  /** What fit needs of this model, lent for one call. */
  private trainee(): Trainee {
    const model = this;
    return {
      architecture: { inputShape: [...this.inputShape], layers: [...this.layers] },
      optimizer: this.compiled.optimizer,
      precision: this.precision,
      loss: this.compiled.loss ?? DEFAULT_LOSS,
      metrics: this.compiled.metrics,
      targetSize: this.lossPlan().targets === 'labels' ? 1 : sizeOf(this.outputShape),
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
   * The mean loss and metrics over a data set, by their Keras names. With
   * `verbose: 1`, Keras' progress bar; `callbacks` are told at each progress
   * update (onTestBatchEnd), and setting `stopEvaluating` stops it there, with the means so far.
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

  /**
   * The model's outputs, row-major, with their shape [count, ...outputShape]:
   * class probabilities after a softmax, values in (0, 1) after a sigmoid, as
   * they are for a linear last layer (logits, with fromLogits).
   */
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
      const targets = this.lossPlan().targets === 'labels' ? batch : batch * sizeOf(this.outputShape);
      graph.writeBatch(x.subarray(0, batch * rowSize), y instanceof Uint8Array ? y.subarray(0, targets) : Array.from({ length: targets }, (_, i) => y[i]));
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
 * A model from the bytes `Model.toBytes()` wrote, compiled with `loss` and
 * `metrics` (the file holds the architecture and weights only). The whole
 * file is checked (readModelFile) before the model is made and its graph built.
 */
export async function loadModelBytes(
  bytes: Uint8Array,
  options: { source?: string } & Pick<CompileOptions, 'gpu' | 'loss' | 'metrics' | 'onProgress' | 'onTuningNotice'> = {},
): Promise<Model> {
  const { source, ...compile } = options;
  return modelFromFile(readModelFile(bytes, source ?? 'model'), compile);
}

/** A model with the architecture and weights of a checked model file (ours, or a Keras file read as one), compiled with `options`. */
export async function modelFromFile(
  file: Pick<ModelFile, 'inputShape' | 'layers' | 'weights'>,
  options: Pick<CompileOptions, 'gpu' | 'loss' | 'metrics' | 'onProgress' | 'onTuningNotice'> = {},
): Promise<Model> {
  const model = new Model(file.layers, file.inputShape);
  model.compile(options);
  await model.setWeights(file.weights);
  return model;
}

/** A model from a list of layers; the first layer gives the input shape. */
export function sequential(layers: LayerConfig[]): Model {
  const inputShape = layers[0]?.inputShape;
  if (!inputShape) throw new Error('sequential(): the first layer needs an inputShape, e.g. flatten({inputShape: [28, 28]})');
  return new Model(layers, inputShape);
}
